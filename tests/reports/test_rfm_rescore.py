"""The stored RFM scores carried from night to night (`reports.rescore`): after several
incremental refreshes — new buyers, late documents, refunds, buyers leaving "new", ties in
both ranked columns — the stored scores, segment ids, RFM history and buyers per source are
exactly those of a full refresh and of the live computation."""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from crm.models import ClientSource
from reports import metrics, rfm, rfm_history, rollup, summaries
from reports.models import ClientPurchases, ReportSnapshot, RfmScore
from reports.rollup import reports_refresh
from tests.factories import ClientFactory, MerchantFactory

from .conftest import at, buy, sync_client_figures
from .test_refresh_incremental import refund

START = date(2025, 1, 6)
FIRST_NIGHT = date(2025, 3, 1)
AMOUNTS = [300, 500, 500, 800, 1000, 1000, 1500, 2500]  # repeated: ties in M
SOURCES = [ClientSource.IMPORT, ClientSource.PLATFORM, ClientSource.PROMO_CODE]


def stored(merchant) -> dict:
    return {
        s.client_id: {"r": s.r, "f": s.f, "m": s.m, "segment": s.segment}
        for s in RfmScore.objects.filter(merchant=merchant)
    }


def segment_ids(merchant, today, *, live) -> dict:
    return {
        segment: rfm.segment_client_ids(merchant=merchant, segment=segment, today=today, live=live)
        for segment in rfm.SEGMENTS
    }


@pytest.fixture
def crowd(db, monkeypatch):
    """A merchant with 60 members and ~150 purchases before the first night (every purchase
    at noon, so buyers of one day tie in R)."""
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    rng = random.Random(15)
    merchant = MerchantFactory(slug="crowd", time_zone="Europe/Moscow", launch_date=START)
    clients = [
        ClientFactory(merchant=merchant, source=rng.choice(SOURCES), joined_at=at(START))
        for _ in range(60)
    ]
    for _ in range(150):
        day = START + timedelta(days=rng.randrange((FIRST_NIGHT - START).days))
        buy(merchant, rng.choice(clients[:45]), rng.choice(AMOUNTS), day=day)
    for client in clients:
        sync_client_figures(client)
    merchant.crowd = clients
    merchant.rng = rng
    return merchant


def a_night(merchant, today: date) -> None:
    """The day before `today`: new purchases (some by first-time buyers), a late document for
    an earlier day, a partial and a full refund of old purchases."""
    rng, clients = merchant.rng, merchant.crowd
    yesterday = today - timedelta(days=1)
    touched = set()
    for _ in range(12):
        client = rng.choice(clients)
        buy(merchant, client, rng.choice(AMOUNTS), day=yesterday)
        touched.add(client)
    late = rng.choice(clients)
    buy(merchant, late, rng.choice(AMOUNTS), day=yesterday - timedelta(days=rng.randrange(3, 40)))
    touched.add(late)
    old = [p for c in clients for p in c.purchases.all() if p.refunded_amount == 0]
    partial, full = rng.sample(old, 2)
    refund(partial, partial.amount / 2)
    refund(full, full.amount)
    for client in touched:
        sync_client_figures(client)


@pytest.mark.parametrize("carry_back", [0.25, 1.0])
def test_nights_of_incremental_rescoring_equal_a_full_refresh(crowd, monkeypatch, carry_back):
    """With the default share few past months are carried back (most of this small crowd buys
    every week); with every share allowed, each past month a late document or a refund reopens
    is carried back from the summaries' scores, even across most of the buyers."""
    merchant = crowd
    monkeypatch.setattr(rfm_history, "CARRY_BACK_MAX_SHARE", carry_back)
    carried = []
    carry = rfm_history.carried_segment_counts

    def spy(**kwargs):
        counts = carry(**kwargs)
        carried.append((kwargs["as_of"], counts is not None))
        return counts

    monkeypatch.setattr(rfm_history, "carried_segment_counts", spy)
    first = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert first.timings["rfm_store_mode"] == "full: full refresh"
    assert first.rfm_state["scores"]["n"] == RfmScore.objects.filter(merchant=merchant).count() > 30
    for night in range(1, 7):
        today = FIRST_NIGHT + timedelta(days=night)
        a_night(merchant, today)
        snap = reports_refresh(merchant=merchant, today=today)
        assert snap.timings["mode"] == "incremental"
        assert snap.timings["rfm_store_mode"] == "incremental"
        assert snap.timings["summary_scores_mode"] == "incremental"
        scores, ids, clients = (
            stored(merchant),
            segment_ids(merchant, today, live=False),
            snap.clients,
        )
        assert scores == rfm.client_scores(merchant=merchant, today=today), night
        assert ids == segment_ids(merchant, today, live=True), night
        state = snap.rfm_state
        full = reports_refresh(merchant=merchant, today=today, full=True)
        assert full.timings["rfm_store_mode"] == "full: full refresh"
        assert stored(merchant) == scores
        assert full.clients == clients  # RFM table and history, buyers per source, …
        assert full.rfm_state == state  # the same cut-offs and counts below them
    # the nights moved the buyers across the cut-offs and out of "new"
    assert {s["segment"] for s in scores.values()} >= {"loyal", "at_risk", "lapsed"}
    # past months were reopened; with every share allowed each was carried back, never ranked
    assert carried and all(done for _as_of, done in carried) == (carry_back == 1.0)
    assert len({as_of for as_of, _done in carried}) >= 2


def test_a_day_without_changes_keeps_every_score(crowd):
    merchant = crowd
    reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    before = stored(merchant)
    snap = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert snap.timings["rfm_store_mode"] == "incremental"
    assert stored(merchant) == before == rfm.client_scores(merchant=merchant, today=FIRST_NIGHT)


@pytest.mark.parametrize("change", ["row deleted", "time zone", "earlier day", "no state"])
def test_an_unusable_state_scores_every_buyer_again(crowd, change):
    merchant = crowd
    reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    today, reason = FIRST_NIGHT + timedelta(days=1), None
    a_night(merchant, today)
    if change == "row deleted":  # (a buyer cannot be deleted: its purchases protect it)
        RfmScore.objects.filter(merchant=merchant).first().delete()
        reason = "full: stored rows differ from the kept state"
    elif change == "time zone":
        merchant.time_zone = "Asia/Yekaterinburg"
        merchant.save(update_fields=["time_zone"])
        reason = "full: time zone changed"
    elif change == "earlier day":
        # the rollup cannot go back either: the whole refresh is a full one
        today, reason = FIRST_NIGHT - timedelta(days=1), "full: full refresh"
    else:
        ReportSnapshot.objects.filter(merchant=merchant).update(rfm_state={})
        reason = "full: no kept state"
    snap = reports_refresh(merchant=merchant, today=today)
    assert snap.timings["rfm_store_mode"] == reason
    # the summaries' scores have their own state: only a stored score row was lost
    summaries = "incremental" if change == "row deleted" else reason
    assert snap.timings["summary_scores_mode"] == summaries
    assert stored(merchant) == rfm.client_scores(merchant=merchant, today=today)
    full = reports_refresh(merchant=merchant, today=today, full=True)
    assert snap.rfm_state == full.rfm_state and snap.clients == full.clients


def test_cut_off_positions_follow_cume_dist():
    # CUME_DIST > k/5 from the p-th value on, p = ⌊kN/5⌋ + 1
    from reports.rescore import _position

    for n in range(1, 60):
        for k in (1, 2, 3, 4):
            p = _position(n, k)
            assert p / n > k / 5 >= (p - 1) / n


def test_a_month_carried_back_is_its_ranking(crowd):
    """Carried back from the summaries' scores of a later day, a month's end counts the buyers
    as its own ranking does: the first purchases after it are not there yet, and one-purchase
    buyers within 30 days of it are "new" again (no longer on the later day). The summaries
    and their scores are left as they were."""
    merchant, today, month_end = crowd, date(2025, 3, 5), date(2025, 2, 28)
    newcomers = [ClientFactory(merchant=merchant, joined_at=at(START)) for _ in range(6)]
    for n, client in enumerate(newcomers[:5]):  # new on Feb 28 (from Jan 30), not on Mar 5
        buy(merchant, client, AMOUNTS[n], day=date(2025, 1, 31) + timedelta(days=n % 4))
    buy(merchant, newcomers[5], 700, day=date(2025, 3, 2))  # a first purchase after it
    for n, client in enumerate(merchant.crowd[:3]):
        buy(merchant, client, AMOUNTS[n], day=date(2025, 3, 1) + timedelta(days=n))
    for client in [*newcomers, *merchant.crowd[:3]]:
        sync_client_figures(client)
    snap = reports_refresh(merchant=merchant, today=today)

    def rows():
        return set(
            ClientPurchases.objects.values_list("client_id", "purchases", "r", "m", "segment")
        )

    before = rows()
    counts = rfm_history.carried_segment_counts(  # no transaction needed: nothing written
        merchant=merchant, as_of=month_end, state=snap.rfm_state["summaries"]
    )
    [ranked] = rfm_history.monthly_history(merchant=merchant, start=month_end, end=month_end)
    assert counts is not None and counts["new"] >= 5
    assert {key: counts.get(key, 0) for key in rfm.RFM_SEGMENTS} == ranked["segments"]
    assert rows() == before


def figures(rows) -> dict:
    """{client id: (purchases, revenue, first, last)} of rows, as numbers and times (SQLite
    gives a computed column's time as its text)."""

    def moment(value):
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    return {
        client_id: (int(n), Decimal(str(rev)), moment(first), moment(last))
        for client_id, n, rev, first, last in rows
    }


def test_summaries_at_a_month_end_equal_its_fold(crowd):
    """The carried-back month reads the summaries of the buyers since its end as of it from the
    summaries themselves (`summaries.at_end_sql`), not from every purchase: across refunds
    on both sides of the end, they and the others' rows equal the purchases before it folded."""
    merchant, today = crowd, date(2025, 3, 5)
    end = at(date(2025, 3, 1), 0)
    a, b, c = merchant.crowd[:3]
    buy(merchant, a, 800, day=date(2025, 2, 27))
    buy(merchant, a, 500, day=date(2025, 3, 2), refunded=500)  # none kept since the end
    buy(merchant, b, 300, day=date(2025, 2, 28), refunded=300)  # the last before is earlier
    buy(merchant, b, 1000, day=date(2025, 3, 3))
    buy(merchant, c, 2500, day=date(2025, 3, 1), refunded=1000)  # partly refunded since
    first_since, twice = (ClientFactory(merchant=merchant, joined_at=at(START)) for _ in "ab")
    buy(merchant, first_since, 700, day=date(2025, 2, 20), refunded=700)
    buy(merchant, first_since, 700, day=date(2025, 3, 2))  # its first kept purchase since
    buy(merchant, twice, 1500, day=date(2025, 2, 20))
    buy(merchant, twice, 1500, day=date(2025, 3, 4))
    for client in (a, b, c, first_since, twice):
        sync_client_figures(client)
    reports_refresh(merchant=merchant, today=today)
    since = (
        "SELECT DISTINCT client_id FROM loyalty_purchase WHERE occurred_at >= %s "
        "AND client_id IS NOT NULL"
    )
    adapt = connection.ops.adapt_datetimefield_value
    per_client, params = summaries.per_client_sql(merchant, None, end)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({since}) AS s", [adapt(end)])
        assert cursor.fetchone()[0] >= 5
        cursor.execute(per_client, params)
        folded = figures(cursor.fetchall())
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE since_end AS {since}", [adapt(end)])
        sql, params = summaries.at_end_sql(merchant, "SELECT client_id FROM since_end", end)
        cursor.execute(
            f"SELECT client_id, purchases, revenue, first_at, last_at, kept FROM ({sql}) AS e",
            params,
        )
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE since_end")
        at_end = {row[0]: row for row in rows}
        assert not at_end[first_since.pk][5] and at_end[twice.pk][5]
        rolled = figures(row[:5] for row in rows if row[5])
        cursor.execute(
            "SELECT client_id, purchases, revenue, first_at, last_at "
            f"FROM {ClientPurchases._meta.db_table} WHERE merchant_id = %s "
            "AND client_id NOT IN (SELECT client_id FROM loyalty_purchase "
            "WHERE occurred_at >= %s AND client_id IS NOT NULL)",
            [merchant.pk, adapt(end)],
        )
        rolled.update(figures(cursor.fetchall()))
    assert first_since.pk not in rolled and twice.pk in rolled
    assert rolled == folded


def test_segment_totals_missing_from_a_kept_state_are_summed_once(crowd):
    """A state kept before the per-segment totals were (`reports.rfm_counts`) is carried, its
    totals summed from every row once; then they are carried like the cut-offs."""
    merchant = crowd
    first = reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert set(first.rfm_state["scores"]["segments"]) <= set(rfm.RFM_SEGMENTS)
    for ranked in ("scores", "summaries"):
        del first.rfm_state[ranked]["segments"]
    ReportSnapshot.objects.filter(pk=first.pk).update(rfm_state=first.rfm_state)
    for night in (1, 2):
        today = FIRST_NIGHT + timedelta(days=night)
        a_night(merchant, today)
        snap = reports_refresh(merchant=merchant, today=today)
        assert snap.timings["rfm_store_mode"] == snap.timings["summary_scores_mode"]
        assert snap.timings["rfm_store_mode"] == "incremental"
        full = reports_refresh(merchant=merchant, today=today, full=True)
        assert snap.rfm_state == full.rfm_state and snap.clients == full.clients
