"""Buyers, regulars and buyers per source carried from night to night (`reports.buyer_totals`):
nights with a buyer's only purchase refunded, a buyer moved to another channel, a late document
in a closed month, a purchase dated after the window's end and one before the launch, a member
who joins after the window's end and a deleted buyer — each night equal to a full refresh (the
kept totals too) and to the live figures."""

from datetime import timedelta

import pytest
from django.db.models import Q

from crm.models import ClientSource
from loyalty.models import Purchase
from reports import buyer_totals, metrics
from reports.pointb import to_json
from reports.rollup import reports_refresh
from tests.factories import ClientFactory

from .conftest import at, buy, sync_client_figures
from .test_refresh_incremental import refund
from .test_rfm_rescore import FIRST_NIGHT, START, a_night, crowd  # noqa: F401 (a fixture)

BUYER_FIGURES = (
    "buyers",
    "regular_buyers",
    "buyer_purchases",
    "regular_purchases",
    "buyer_revenue",
    "regular_revenue",
)


def assert_carried_equals_full(merchant, today, mode="carried"):
    snap = reports_refresh(merchant=merchant, today=today)
    assert snap.timings["buyers_mode"] in ((mode,) if isinstance(mode, str) else mode)
    full = reports_refresh(merchant=merchant, today=today, full=True)
    assert full.timings["buyers_mode"] == "full refresh"
    assert snap.clients == full.clients
    assert snap.rfm_state["buyers"] == full.rfm_state["buyers"]
    period = metrics.default_period(merchant, today=today)
    live = to_json(metrics.client_level(merchant, period, today=today))
    for figure in (*BUYER_FIGURES, "source_buyers"):
        assert snap.clients[figure] == live[figure], figure
    return snap


def test_nights_of_carried_buyers_equal_a_full_refresh(crowd):  # noqa: F811
    merchant = crowd
    clients = merchant.crowd
    # a buyer with a purchase before the launch: counted from its purchases every night
    early = clients[0]
    buy(merchant, early, 700, day=START - timedelta(days=10))
    sync_client_figures(early)
    first = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert first.rfm_state["buyers"]["outside"]["ids"] == [early.pk]

    # night 1: a new buyer with a single purchase
    today = FIRST_NIGHT + timedelta(days=1)
    a_night(merchant, today)
    single = ClientFactory(merchant=merchant, source=ClientSource.IMPORT, joined_at=at(START))
    only = buy(merchant, single, 900, day=START + timedelta(days=3))
    sync_client_figures(single)
    assert_carried_equals_full(merchant, today)

    # night 2: that purchase refunded, a buyer moved to another channel, a purchase dated
    # after the window's end, a new buyer joining after it
    today += timedelta(days=1)
    seen = Purchase.objects.filter(merchant=merchant).latest("pk").pk
    a_night(merchant, today)
    refund(only, only.amount)
    # a buyer without a purchase or refund tonight: only its channel changes
    tonight = Purchase.objects.filter(merchant=merchant).filter(
        Q(pk__gt=seen) | Q(refunds__isnull=False)
    )
    moved = next(
        c for c in clients[3:45] if c.purchases.exists() and not tonight.filter(client=c).exists()
    )
    moved.source, moved.source_detail = ClientSource.PARTNER, "Cafe"
    moved.save()
    ahead = clients[2]
    buy(merchant, ahead, 1300, day=today + timedelta(days=1))
    sync_client_figures(ahead)
    late_joiner = ClientFactory(
        merchant=merchant, source=ClientSource.PROMO_CODE, joined_at=at(today + timedelta(days=1))
    )
    buy(merchant, late_joiner, 400, day=START + timedelta(days=5))
    sync_client_figures(late_joiner)
    snap = assert_carried_equals_full(merchant, today)
    kept = snap.rfm_state["buyers"]
    assert kept["outside"]["ids"] == sorted([early.pk, ahead.pk])
    assert kept["later"] == [late_joiner.pk]

    # night 2: the window's end passes the purchase and the join ahead of it
    today += timedelta(days=1)
    a_night(merchant, today)
    snap = assert_carried_equals_full(merchant, today)
    assert snap.rfm_state["buyers"]["outside"]["ids"] == [early.pk]
    assert snap.rfm_state["buyers"]["later"] == []

    # night 3: a buyer deleted with its purchase (its summary goes with it): counted in full
    today += timedelta(days=1)
    a_night(merchant, today)
    late_joiner.purchases.all().delete()
    late_joiner.delete()
    # (the stored scores lost a row too: the summaries are scored again, no kept figures)
    snap = assert_carried_equals_full(
        merchant, today, mode=("a changed client was deleted", "summaries not carried")
    )
    assert late_joiner.pk not in snap.rfm_state["buyers"]["later"]


def test_too_many_buyers_outside_are_counted_in_full(crowd, monkeypatch):  # noqa: F811
    merchant = crowd
    monkeypatch.setattr(buyer_totals, "OUTSIDE_MAX", 0)
    early = merchant.crowd[0]
    buy(merchant, early, 700, day=START - timedelta(days=10))
    sync_client_figures(early)
    first = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert first.rfm_state["buyers"]["outside"] is None
    today = FIRST_NIGHT + timedelta(days=1)
    a_night(merchant, today)
    assert_carried_equals_full(merchant, today, mode="too many buyers outside the window")


@pytest.mark.parametrize("launch_moved", [True, False])
def test_a_moved_launch_or_a_lost_state_counts_in_full(crowd, launch_moved):  # noqa: F811
    merchant = crowd
    first = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    today = FIRST_NIGHT + timedelta(days=1)
    a_night(merchant, today)
    if launch_moved:
        merchant.launch_date = START + timedelta(days=20)
        merchant.save(update_fields=["launch_date"])
    else:
        state = {**first.rfm_state, "buyers": None}
        type(first).objects.filter(pk=first.pk).update(rfm_state=state)
    mode = "window moved" if launch_moved else "no kept state"
    assert_carried_equals_full(merchant, today, mode=mode)
