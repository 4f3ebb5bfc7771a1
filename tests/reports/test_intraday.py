"""What a page keeps of the purchases since the night (`reports.intraday`): a later view reads
only the purchases past the kept mark, and its figures always equal the live ones — after new
purchases, a refund, a client's channel change, purchases still inside the marks' window, with
the cache down; the partners block the same."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import ClientSource
from loyalty.models import Purchase
from reports import aggregates as agg
from reports import intraday, partner_figures, partners, rollup
from reports.aggregates import Period
from reports.metrics import point_b, snapshot_for
from tests.factories import UserFactory

from .conftest import FIRST_NIGHT, buy
from .test_partner_figures import assert_stored_is_live
from .test_partner_figures import merchant as partners_merchant  # noqa: F401 (fixture)
from .test_refresh_incremental import refund

EVENING = FIRST_NIGHT + timedelta(days=1)  # the rollup ends the day before the first night


class Reads:
    """The id ranges the page's live statements were asked for."""

    def __init__(self, monkeypatch, module, name):
        self.ranges = []
        real = getattr(module, name)

        def spy(*args, **kwargs):
            self.ranges.append(kwargs.get("ids", (None, None)))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)


KEYS = (("month", "channel", "source_detail"), ("branch_id",))  # Point B's, the branch table's


def page_sales(merchant):
    """What the days after the rollup add to Point B and the branch table as the page reads
    them (kept part and the rest), and as read live."""
    snap = snapshot_for(merchant)
    period, through = Period(start=None, end=EVENING), snap.rollup_through
    night = intraday.night_of(snap)
    page = [agg.sales_after(merchant, period, by, through, night) for by in KEYS]
    live = [agg.sales_after(merchant, period, by, through, None) for by in KEYS]
    return [sort(rows) for rows in page], [sort(rows) for rows in live]


def sort(rows):
    return sorted(rows, key=lambda r: tuple(str(r.get(k)) for k in sorted(r)))


def assert_page_is_live(merchant):
    page, live = page_sales(merchant)
    assert page == live
    assert any(r["card_purchases"] for r in page[0])


def test_a_later_view_reads_only_the_purchases_past_what_was_kept(rolled, monkeypatch):
    m, c = rolled, rolled.clients_by_name
    buy(m, c["a"], 1500, day=FIRST_NIGHT)
    buy(m, c["d"], 700, day=EVENING, points=70)
    buy(m, None, 300, day=EVENING)
    reads = Reads(monkeypatch, agg, "sales_live")
    assert_page_is_live(m)
    newest = Purchase.objects.filter(merchant=m).latest("pk").pk
    # the first view read the purchases up to the settled mark (all: the window is 0 here)
    assert (None, newest) in reads.ranges
    reads.ranges.clear()
    later = buy(m, c["c"], 900, day=EVENING, cert=100)
    assert_page_is_live(m)
    page_reads = [r for r in reads.ranges if r != (None, None)]  # the live side's own
    # Point B, branches: the newly settled purchase added; nothing visible past it, no more read
    assert page_reads == [(newest, later.pk)] * 2
    reads.ranges.clear()
    assert_page_is_live(m)
    assert [r for r in reads.ranges if r != (None, None)] == []  # all kept


@pytest.mark.parametrize("change", ["refund", "channel", "source detail"])
def test_a_refund_or_a_channel_change_drops_what_was_kept(rolled, monkeypatch, change):
    m, c = rolled, rolled.clients_by_name
    today = buy(m, c["c"], 1500, day=EVENING)
    buy(m, c["b"], 800, day=EVENING)
    assert_page_is_live(m)
    if change == "refund":
        refund(today, 600)
    elif change == "channel":
        c["c"].source = ClientSource.PLATFORM
        c["c"].save(update_fields=["source"])
    else:
        c["c"].source_detail = "TIKTOK"
        c["c"].save(update_fields=["source_detail"])
    reads = Reads(monkeypatch, agg, "sales_live")
    assert_page_is_live(m)
    newest = Purchase.objects.filter(merchant=m).latest("pk").pk
    assert (None, newest) in reads.ranges  # read again from the first purchase


def test_purchases_inside_the_window_are_read_at_each_view_until_settled(rolled, monkeypatch):
    m, c = rolled, rolled.clients_by_name
    night_mark = snapshot_for(m).purchases_seen_id
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(minutes=10))
    fresh = [buy(m, c["a"], 400, day=EVENING), buy(m, None, 200, day=EVENING)]
    reads = Reads(monkeypatch, agg, "sales_live")
    assert_page_is_live(m)
    assert (None, night_mark) in reads.ranges and (night_mark, None) in reads.ranges
    Purchase.objects.filter(pk__in=[p.pk for p in fresh]).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    reads.ranges.clear()
    assert_page_is_live(m)
    assert (night_mark, fresh[-1].pk) in reads.ranges  # now settled: added to the kept part
    reads.ranges.clear()
    assert_page_is_live(m)
    assert reads.ranges == [(None, None)] * 2  # the live side's own: the page's all kept
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(minutes=10))
    buy(m, c["b"], 300, day=EVENING)  # inside the window: read past the settled mark
    reads.ranges.clear()
    assert_page_is_live(m)
    assert (fresh[-1].pk, None) in reads.ranges and len(reads.ranges) == 4


def test_the_page_reads_the_day_whole_when_the_cache_is_down(rolled, monkeypatch):
    m, c = rolled, rolled.clients_by_name
    buy(m, c["a"], 1500, day=EVENING)

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    assert_page_is_live(m)
    buy(m, c["b"], 500, day=EVENING)
    assert_page_is_live(m)


def test_the_partners_block_keeps_the_day_too(partners_merchant, monkeypatch):  # noqa: F811
    m = partners_merchant
    cafe1, gym = m.c["cafe1"], m.c["gym"]
    first = buy(m, cafe1, 300, day=date(2025, 3, 5))
    assert_stored_is_live(m)
    calls = []
    real = partner_figures.added_per_client

    def spy(merchant, purchases):
        calls.append(purchases)
        return real(merchant, purchases)

    monkeypatch.setattr(partners, "added_per_client", spy)
    second = buy(m, gym, 450, day=date(2025, 3, 6))
    assert assert_stored_is_live(m)["Gym"] == [2, 2, 2, 3, D("2050.00")]
    # the newly settled purchase (nothing visible past it: no more read), not the first again
    read = [sorted(q.values_list("pk", flat=True)) for q in calls]
    assert read == [[second.pk]]
    refund(first, 300)  # drops the kept part: the next view reads the day again
    calls.clear()
    assert assert_stored_is_live(m)["Cafe"] == [2, 1, 1, 2, D("2500.00")]
    assert sorted(calls[0].values_list("pk", flat=True)) == [second.pk]  # the refunded one gone


def test_the_rollup_is_read_once_a_night(rolled):
    m, c = rolled, rolled.clients_by_name

    def view(as_live=True):
        with CaptureQueriesContext(connection) as sql:
            b = point_b(merchant=m, today=EVENING)
        rollup_reads = [q for q in sql.captured_queries if "reports_daily" in q["sql"]]
        live = point_b(merchant=m, today=EVENING, use_snapshot=False)
        assert b.data_source == "rollup"
        assert ((b.sales, b.months) == (live.sales, live.months)) == as_live
        return len(rollup_reads)

    assert view() == 3  # sales by month and channel, by channel and detail, members
    assert view() == 0
    buy(m, c["a"], 2500, day=date(2025, 2, 20))  # a late document for a rolled-up day
    # the rollup is as the night left it (the day is carried by the next), read or kept
    assert view(as_live=False) == 0
    rollup.reports_refresh(merchant=m, today=EVENING)
    assert view() == 3


def test_a_view_reads_the_marks_once_for_its_blocks(rolled):
    m, c = rolled, rolled.clients_by_name
    buy(m, c["a"], 1500, day=EVENING)

    def marks_read(*blocks):
        with CaptureQueriesContext(connection) as sql:
            for block in blocks:
                block()
        return sum("ORDER BY id DESC LIMIT 1" in q["sql"] for q in sql.captured_queries)

    snap = snapshot_for(m)
    period, night = Period(start=None, end=EVENING), intraday.night_of(snap)
    blocks = [
        lambda by=by: agg.sales_after(m, period, by, snap.rollup_through, night) for by in KEYS
    ]
    assert marks_read(*blocks) == 2
    with intraday.one_view():
        assert marks_read(*blocks) == 1
    assert marks_read(*blocks) == 2  # each view reads them anew


def test_the_dashboard_page_reads_the_marks_once(rolled, client):
    m, c = rolled, rolled.clients_by_name
    buy(m, c["a"], 1500, day=date.today())
    owner = UserFactory(username="owner-intraday", role="owner")
    m.owners.add(owner)
    client.force_login(owner)
    with CaptureQueriesContext(connection) as sql:
        assert client.get(f"/dashboard/{m.slug}/").status_code == 200
    # Point B, the branch table and the partners block share them
    assert sum("ORDER BY id DESC LIMIT 1" in q["sql"] for q in sql.captured_queries) == 1
