"""The buyers' purchase summaries the nightly refresh keeps: built by the first refresh, folded
again for the clients a late document or a refund of an old purchase touched, and read into
the same client-level figures as the purchases themselves."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Client
from loyalty.models import Purchase, Refund
from reports import rollup, summaries
from reports.models import ClientPurchases, ReportSnapshot
from reports.rollup import reports_refresh

from .conftest import MSK, at, buy
from .test_refresh_incremental import NEXT_NIGHT, a_day_of_changes, refund


def stored(merchant) -> dict:
    return {
        row.client_id: (row.purchases, row.revenue, row.first_at, row.last_at)
        for row in ClientPurchases.objects.filter(merchant=merchant)
    }


def folded(merchant, start=None, end=None) -> dict:
    """Every kept card purchase in [start, end), folded per client in Python."""
    out = {}
    for p in Purchase.objects.filter(merchant=merchant, client__isnull=False):
        if not (p.refunded_amount < p.amount or p.amount <= 0):
            continue
        if (start and p.occurred_at < start) or (end and p.occurred_at >= end):
            continue
        n, rev, first, last = out.get(p.client_id, (0, D(0), p.occurred_at, p.occurred_at))
        out[p.client_id] = (
            n + 1, rev + p.amount - p.refunded_amount, min(first, p.occurred_at),
            max(last, p.occurred_at),
        )  # fmt: skip
    return out


def test_the_first_refresh_builds_the_summaries(rolled):
    snap = ReportSnapshot.objects.get(merchant=rolled)
    assert snap.client_purchases_built
    assert stored(rolled) == folded(rolled) and len(stored(rolled)) == 4


def test_a_late_document_and_a_refund_fold_only_their_clients_again(rolled):
    merchant = rolled
    a_day_of_changes(merchant)  # new day, a refund of a's February purchase, b back-dated
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.timings["mode"] == "incremental"
    assert snap.timings["summaries"] == 4  # a, b, c and e: the clients touched
    assert stored(merchant) == folded(merchant)
    a = merchant.clients_by_name["a"]
    assert stored(merchant)[a.pk][:2] == (2, D("2500.00"))  # 1000 + 2000 − 500 refunded
    incremental = snap.clients
    # a full refund of an old purchase drops a buyer's row once nothing is kept
    d = merchant.clients_by_name["d"]
    refund(d.purchases.get(occurred_at=at(date(2025, 2, 12))), 800)
    reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert d.pk not in stored(merchant) and stored(merchant) == folded(merchant)
    full = reports_refresh(merchant=merchant, today=NEXT_NIGHT, full=True)
    assert stored(merchant) == folded(merchant)
    assert full.clients["buyers"] == incremental["buyers"] - 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the added path is PostgreSQL's")
def test_a_night_adds_its_own_purchases_and_folds_again_what_the_last_fold_read(
    rolled, monkeypatch
):
    """On PostgreSQL a night adds its buyers' new purchases to their rows; a purchase recorded
    in the minutes before the last refresh (past its mark, but read by its fold) is folded
    again with its client's others, not added twice; a refund folds its client again."""
    merchant, c = rolled, rolled.clients_by_name
    earlier = timezone.now() - timedelta(hours=1)
    for model in (Purchase, Refund, Client):
        model.objects.filter(merchant=merchant).update(created_at=earlier)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(minutes=10))
    buy(merchant, c["a"], 300, day=date(2025, 3, 1))  # inside the window of the next night
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.rfm_state["summaries_through"] >= Purchase.objects.latest("pk").pk
    assert stored(merchant) == folded(merchant)  # the fold read it
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    buy(merchant, c["a"], 200, day=date(2025, 3, 2))
    buy(merchant, c["e"], 900, day=date(2025, 3, 2))  # e's first purchase
    buy(merchant, c["c"], 100, day=date(2025, 1, 3))  # back-dated: an earlier first purchase
    refund(c["b"].purchases.get(), 1000)
    night = reports_refresh(merchant=merchant, today=NEXT_NIGHT + timedelta(days=1))
    assert night.timings["summaries"] == 4  # a and b folded again, c and e added
    assert stored(merchant) == folded(merchant)
    assert stored(merchant)[c["a"].pk][:2] == (4, D("3500.00"))  # 1000 + 2000 + 300 + 200
    assert stored(merchant)[c["c"].pk][2] == at(date(2025, 1, 3))
    full = reports_refresh(merchant=merchant, today=NEXT_NIGHT + timedelta(days=1), full=True)
    assert night.clients == full.clients


def test_a_snapshot_without_summaries_builds_them_on_the_next_refresh(rolled):
    merchant = rolled
    ClientPurchases.objects.filter(merchant=merchant).delete()
    ReportSnapshot.objects.filter(merchant=merchant).update(client_purchases_built=False)
    a_day_of_changes(merchant)
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.timings["mode"] == "incremental" and snap.client_purchases_built
    assert stored(merchant) == folded(merchant) and len(stored(merchant)) == 5
    full = reports_refresh(merchant=merchant, today=NEXT_NIGHT, full=True)
    assert snap.clients == full.clients


@pytest.mark.parametrize(
    "start, end",
    [
        (None, date(2025, 3, 31)),  # everything: the summary rows as they are
        (None, date(2025, 2, 5)),  # a past month's end: later buyers folded directly
        (date(2025, 2, 1), date(2025, 2, 28)),  # both ends cut
        (date(2025, 3, 1), date(2025, 3, 1)),  # nobody
    ],
)
def test_per_client_rows_of_a_window_equal_the_purchases(rolled, start, end):
    merchant = rolled
    a_day_of_changes(merchant)
    reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    lo = datetime.combine(start, time.min, tzinfo=MSK) if start else None
    hi = datetime.combine(end + timedelta(days=1), time.min, tzinfo=MSK)
    sql, params = summaries.per_client_sql(merchant, lo, hi)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_id, n, rev FROM ({sql}) AS w", params)
        found = {c: (n, D(str(rev)).quantize(D("0.01"))) for c, n, rev in cursor.fetchall()}
    assert found == {c: v[:2] for c, v in folded(merchant, lo, hi).items()}
