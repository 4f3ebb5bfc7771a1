"""The nightly refresh rewrites only the days that changed, and gives what a full rebuild gives;
RFM segment ids read from the stored scores equal the live computation."""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from loyalty.models import Refund
from reports import metrics, rfm, rfm_history
from reports.metrics import point_b
from reports.models import DailyMembers, DailySales, ReportSnapshot, RfmScore
from reports.pointb import to_json
from reports.rollup import reports_refresh
from tests.factories import BranchFactory, ClientFactory

from .conftest import FIRST_NIGHT, at, buy, sync_client_figures

NEXT_NIGHT = date(2025, 3, 2)
SALES_FIELDS = [
    "day", "branch_id", "channel", "source_detail", "card_purchases", "card_revenue", "by_phone",
    "points_redeemed", "cert_purchases", "cert_revenue", "nocard_purchases", "nocard_revenue",
]  # fmt: skip


def sales_rows(merchant) -> list[tuple]:
    return sorted(
        DailySales.objects.filter(merchant=merchant).values_list(*SALES_FIELDS),
        key=lambda r: tuple(str(v) for v in r),
    )


def members_rows(merchant) -> list[tuple]:
    return sorted(
        DailyMembers.objects.filter(merchant=merchant).values_list(
            "day", "channel", "source_detail", "joined"
        )
    )


def refund(purchase, amount) -> None:
    """What the refund service leaves behind that the rollup reads: a refund row and the
    purchase's refunded amount."""
    Refund.objects.create(
        merchant=purchase.merchant, purchase=purchase, amount=D(amount), occurred_at=at(NEXT_NIGHT)
    )
    purchase.refunded_amount += D(amount)
    purchase.save(update_fields=["refunded_amount"])
    if purchase.client:
        sync_client_figures(purchase.client)


def a_day_of_changes(merchant) -> set[date]:
    """A new day of purchases, a refund of an old purchase, a back-dated purchase and a member
    who joined long ago; returns the purchase days that changed."""
    c = merchant.clients_by_name
    branch = BranchFactory(merchant=merchant)
    buy(merchant, c["c"], 1500, day=FIRST_NIGHT, branch=branch)
    buy(merchant, c["e"], 800, day=FIRST_NIGHT, points=80)
    buy(merchant, None, 300, day=FIRST_NIGHT)
    old = c["a"].purchases.get(occurred_at=at(date(2025, 2, 5)))
    refund(old, 500)
    buy(merchant, c["b"], 700, day=date(2025, 2, 10), by_phone=True)
    ClientFactory(merchant=merchant, source="platform", joined_at=at(date(2025, 1, 20)))
    for client in (c["b"], c["c"], c["e"]):
        sync_client_figures(client)
    return {FIRST_NIGHT, date(2025, 2, 5), date(2025, 2, 10)}


def figures(merchant, today, **kwargs):
    return replace(point_b(merchant=merchant, today=today, **kwargs), snapshot_at=None)


def test_incremental_refresh_equals_a_full_rebuild(rolled):
    merchant = rolled
    a_day_of_changes(merchant)
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.timings["mode"] == "incremental" and snap.timings["days"] == 3
    assert snap.rollup_through == FIRST_NIGHT
    incremental = (
        sales_rows(merchant),
        members_rows(merchant),
        snap.clients,
        snap.purchases_total,
        figures(merchant, NEXT_NIGHT),
    )
    full = reports_refresh(merchant=merchant, today=NEXT_NIGHT, full=True)
    assert full.timings["mode"] == "full"
    rebuilt = (
        sales_rows(merchant),
        members_rows(merchant),
        full.clients,
        full.purchases_total,
        figures(merchant, NEXT_NIGHT),
    )
    assert incremental[0] == rebuilt[0]  # every rollup row
    assert incremental[1] == rebuilt[1]
    assert incremental[2] == rebuilt[2]  # the client-level snapshot, RFM history included
    assert incremental[3] == rebuilt[3] == 12
    assert incremental[4] == rebuilt[4]  # every dashboard figure
    # and both are the live figures
    live = figures(merchant, NEXT_NIGHT, use_snapshot=False)
    assert rebuilt[4].data_source == "rollup" and live.data_source == "live"
    assert rebuilt[4] == replace(live, data_source="rollup")
    # the changes are in: 11 800 + 1 500 + 800 − 500 + 700
    assert rebuilt[4].sales.card_revenue == D("14300.00")


def test_only_the_changed_days_are_rewritten(rolled):
    merchant = rolled
    before = dict(DailySales.objects.filter(merchant=merchant).values_list("pk", "day"))
    changed = a_day_of_changes(merchant)
    reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    after = dict(DailySales.objects.filter(merchant=merchant).values_list("pk", "day"))
    kept = set(before) & set(after)
    # 10 February had no purchase before the back-dated one, 1 March is the new day
    assert {before[pk] for pk in set(before) - kept} == {date(2025, 2, 5)}
    assert {after[pk] for pk in set(after) - kept} == changed
    assert {after[pk] for pk in kept}.isdisjoint(changed)
    assert {after[pk] for pk in kept} == set(before.values()) - changed


def test_a_quiet_night_rewrites_only_the_new_day(rolled):
    merchant = rolled
    before = set(DailySales.objects.filter(merchant=merchant).values_list("pk", flat=True))
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.timings == {**snap.timings, "mode": "incremental", "days": 1}
    assert set(DailySales.objects.filter(merchant=merchant).values_list("pk", flat=True)) == before


def test_a_refresh_without_a_snapshot_or_with_full_rebuilds(small_merchant):
    assert reports_refresh(merchant=small_merchant, today=FIRST_NIGHT).timings["mode"] == "full"
    snap = reports_refresh(merchant=small_merchant, today=NEXT_NIGHT, full=True)
    assert snap.timings["mode"] == "full"


def test_rfm_history_keeps_months_before_the_first_change(small_merchant):
    merchant = small_merchant
    fresh = rfm_history.monthly_history(merchant=merchant, start=None, end=NEXT_NIGHT)
    assert [h["month"] for h in fresh] == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    marked = [{**h, "segments": {**h["segments"], "lapsed": 99}} for h in fresh]
    reused = rfm_history.monthly_history(
        merchant=merchant, start=None, end=NEXT_NIGHT, known=marked,
        unchanged_before=date(2025, 2, 5),
    )  # fmt: skip
    # January (as of 31 Jan) is taken as it was; February and March are computed again
    assert reused[0]["segments"]["lapsed"] == 99
    assert reused[1:] == fresh[1:]


def test_stored_rfm_segments_equal_the_live_computation(rolled):
    merchant = rolled
    d = merchant.clients_by_name["d"]
    assert RfmScore.objects.filter(merchant=merchant, client=d).exists()
    a_day_of_changes(merchant)
    refund(d.purchases.get(occurred_at=at(date(2025, 2, 12))), 800)  # d bought nothing now
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.rfm_as_of == NEXT_NIGHT
    assert RfmScore.objects.filter(merchant=merchant).count() == 4
    assert not RfmScore.objects.filter(merchant=merchant, client=d).exists()
    assert rfm.client_scores(merchant=merchant, today=NEXT_NIGHT) == {
        s.client_id: {"r": s.r, "f": s.f, "m": s.m, "segment": s.segment}
        for s in RfmScore.objects.filter(merchant=merchant)
    }
    found = set()
    for segment in rfm.SEGMENTS:
        stored = rfm.segment_client_ids(merchant=merchant, segment=segment, today=NEXT_NIGHT)
        live = rfm.segment_client_ids(
            merchant=merchant, segment=segment, today=NEXT_NIGHT, live=True
        )
        assert stored == live, segment
        found.update(stored)
    assert len(found) == 6  # four buyers and the two members who never bought
    assert snap.clients["rfm"] == to_json(rfm.segment_summary(merchant=merchant, today=NEXT_NIGHT))


def test_segment_ids_of_another_day_or_after_a_drop_are_live(rolled, monkeypatch):
    merchant = rolled
    stored = rfm.segment_client_ids(merchant=merchant, segment="champions", today=FIRST_NIGHT)
    # a stored score that disagrees with the live one shows which source was read
    RfmScore.objects.filter(merchant=merchant).update(segment="champions")
    everyone = sorted(RfmScore.objects.filter(merchant=merchant).values_list("pk", flat=True))
    assert rfm.segment_client_ids(merchant=merchant, segment="champions", today=FIRST_NIGHT) == (
        everyone
    )
    later = date(2025, 3, 20)
    assert rfm.segment_client_ids(merchant=merchant, segment="champions", today=later) == (
        rfm.segment_client_ids(merchant=merchant, segment="champions", today=later, live=True)
    )
    from reports.rollup import reports_drop

    reports_drop(merchant=merchant)
    assert not RfmScore.objects.filter(merchant=merchant).exists()
    assert not ReportSnapshot.objects.filter(merchant=merchant).exists()
    assert (
        rfm.segment_client_ids(merchant=merchant, segment="champions", today=FIRST_NIGHT) == stored
    )


def test_the_snapshot_holds_the_live_client_level_figures(rolled):
    merchant = rolled
    a_day_of_changes(merchant)
    for full in (False, True):
        snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT, full=full)
        live = metrics.client_level(
            merchant, metrics.default_period(merchant, today=NEXT_NIGHT), today=NEXT_NIGHT
        )
        assert snap.clients == to_json(live)
