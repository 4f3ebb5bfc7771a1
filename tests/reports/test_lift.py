"""Before/after lift on a fixture whose figures are known."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from loyalty.models import Purchase
from reports.lift import lift
from tests.factories import ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
TODAY = date(2025, 7, 1)


def buy(merchant, client, day, amount, refunded=0):
    Purchase.objects.create(
        merchant=merchant,
        client=client,
        source="manual",
        payment_type="card",
        occurred_at=datetime.combine(day, time(12), tzinfo=UTC),
        amount=D(amount),
        paid_money=D(amount),
        refunded_amount=D(refunded),
    )


@pytest.fixture
def shop():
    shop = MerchantFactory(time_zone="UTC", launch_date=date(2025, 1, 1))
    member = ClientFactory(merchant=shop, joined_at=datetime(2025, 1, 1, tzinfo=UTC))
    other = ClientFactory(merchant=shop)
    # before: 2024-07-04 .. 2024-12-31 (181 days, as many as after)
    buy(shop, member, date(2024, 8, 1), 1000)
    buy(shop, member, date(2024, 9, 15), 1000)  # back in 45 days
    buy(shop, other, date(2024, 8, 1), 500)
    buy(shop, other, date(2024, 11, 15), 500)  # back in 106 days: not within 90
    buy(shop, None, date(2024, 10, 1), 300)
    buy(shop, member, date(2024, 7, 1), 9999)  # before the before period
    # after: 2025-01-01 .. 2025-06-30
    buy(shop, member, date(2025, 2, 1), 1500)
    buy(shop, member, date(2025, 3, 1), 1500)  # back in 28 days
    buy(shop, member, date(2025, 4, 1), 1500)
    buy(shop, other, date(2025, 2, 1), 600)
    buy(shop, None, date(2025, 3, 1), 300)
    buy(shop, member, date(2025, 5, 1), 1000, refunded=1000)  # fully refunded: not a check
    return shop


def test_before_after_by_group(shop):
    result = lift(merchant=shop, today=TODAY)
    assert result["before"] == {"start": date(2024, 7, 4), "end": date(2024, 12, 31)}
    assert result["days"] == 181
    every = result["groups"]["all"]
    # before: 5 checks, 3300 -> 660; 2 buyers, 4 client checks -> 2; client revenue 3000 / 2
    assert every["before"]["average_check"] == D("660.00")
    assert every["before"]["visits_per_client"] == D("2.00")
    assert every["before"]["revenue_per_client"] == D("1500.00")
    # the member came back in 45 days, the other in 106: 1 of 2 within 60 and within 90
    assert every["before"]["return_60_percent"] == D("50.00")
    assert every["before"]["return_90_percent"] == D("50.00")
    # after: 5 checks, 5400 -> 1080 (+63.64%); client revenue 5100 / 2 = 2550
    assert every["after"]["average_check"] == D("1080.00")
    assert every["change_percent"]["average_check"] == D("63.64")
    assert every["after"]["revenue_per_client"] == D("2550.00")
    members = result["groups"]["members"]
    # member: 2 checks of 1000 before, 3 of 1500 after
    assert (members["before"]["average_check"], members["after"]["average_check"]) == (
        D("1000.00"),
        D("1500.00"),
    )
    assert members["change_percent"]["average_check"] == D("50.00")
    assert members["after"]["visits_per_client"] == D("3.00")
    assert members["change_percent"]["revenue_per_client"] == D("125.00")
    assert members["before"]["return_60_percent"] == D("100.00")
    others = result["groups"]["non_members"]
    assert others["before"]["return_90_percent"] == D("0.00")
    assert (others["after"]["checks"], others["after"]["average_check"]) == (1, D("600.00"))


def test_no_lift_before_the_launch(shop):
    assert lift(merchant=shop, today=date(2025, 1, 1)) is None
    shop.launch_date = None
    assert lift(merchant=shop, today=TODAY) is None


def test_case_study_and_dashboard_show_the_lift(shop, client):
    from django.urls import reverse
    from django.utils import timezone

    from reports.casestudy import case_study_html, case_study_json
    from tests.factories import UserFactory

    data = case_study_json(merchant=shop, today=TODAY)
    members = data["lift"]["lift"]["groups"]["members"]
    assert members["change_percent"]["average_check"] == "50.00"
    page = case_study_html(merchant=shop, today=TODAY)
    assert 'id="lift"' in page and "no control group" in page and "+50" in page
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(admin)
    shop.launch_date = timezone.localdate() - timezone.timedelta(days=200)
    shop.save()
    page = client.get(reverse("reports:dashboard", args=[shop.slug])).content.decode()
    assert "Before and after the launch" in page and "seasonality" in page


def test_the_lift_round_trips_through_json(shop):
    from reports.lift import lift_from_json
    from reports.pointb import to_json

    result = lift(merchant=shop, today=TODAY)
    assert lift_from_json(to_json(result)) == result
    assert lift_from_json(to_json(None)) is None


def test_a_large_merchant_reads_the_lift_the_nightly_refresh_stored(shop, monkeypatch):
    from reports import metrics
    from reports.models import ReportSnapshot
    from reports.rollup import reports_refresh

    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    live = lift(merchant=shop, today=TODAY, live=True)
    reports_refresh(merchant=shop, today=TODAY)
    snapshot = ReportSnapshot.objects.get(merchant=shop)
    assert snapshot.lift["day"] == "2025-07-01"
    assert lift(merchant=shop, today=TODAY) == live
    # The stored figures are what the page reads (no streaming of the checks again) …
    snapshot.lift["value"]["groups"]["all"]["after"]["checks"] = 12345
    snapshot.save(update_fields=["lift"])
    assert lift(merchant=shop, today=TODAY)["groups"]["all"]["after"]["checks"] == 12345
    # … only on the day they were computed for; another day is computed live.
    assert lift(merchant=shop, today=date(2025, 7, 2))["groups"]["all"]["after"]["checks"] == 5


@pytest.fixture
def night_shop(shop):
    """The shop in Vladivostok (UTC+10) with checks around local midnight, two on one day,
    a client who joined after the after period and partly refunded checks."""
    shop.time_zone = "Asia/Vladivostok"
    shop.save()
    late = ClientFactory(merchant=shop, joined_at=datetime(2025, 8, 1, tzinfo=UTC))
    early = ClientFactory(merchant=shop, joined_at=datetime(2024, 12, 31, 13, 59, tzinfo=UTC))
    for at, client, amount, refunded in (
        (datetime(2024, 7, 3, 14, 0, tzinfo=UTC), late, 700, 0),  # local 4 July: before starts
        (datetime(2024, 7, 3, 13, 59, tzinfo=UTC), late, 800, 0),  # local 3 July: outside
        (datetime(2024, 9, 1, 15, 0, tzinfo=UTC), late, 250, 100),
        (datetime(2024, 9, 1, 16, 0, tzinfo=UTC), late, 250, 0),  # the same local day
        (datetime(2024, 10, 30, 14, 30, tzinfo=UTC), late, 90, 0),  # 59 days later
        (datetime(2024, 12, 31, 14, 0, tzinfo=UTC), early, 400, 0),  # local 1 Jan: after
        (datetime(2025, 3, 1, 13, 0, tzinfo=UTC), early, 410, 0),
        (datetime(2025, 6, 30, 13, 59, tzinfo=UTC), None, 120, 20),  # local 30 June
        (datetime(2025, 6, 30, 14, 0, tzinfo=UTC), early, 999, 0),  # local 1 July: outside
    ):
        Purchase.objects.create(
            merchant=shop,
            client=client,
            source="manual",
            payment_type="card",
            occurred_at=at,
            amount=D(amount),
            paid_money=D(amount),
            refunded_amount=D(refunded),
        )
    return shop


@pytest.mark.parametrize("zone", ["UTC", "Asia/Vladivostok"])
def test_the_sql_and_the_streamed_lift_agree(night_shop, zone):
    """PostgreSQL aggregates the lift in one statement; SQLite streams the checks through
    Python: both give the same sums (the figures are computed from them by one function)."""
    from django.db import connection

    from reports.lift import lift_periods, lift_totals

    night_shop.time_zone = zone
    periods = lift_periods(night_shop, TODAY)
    streamed = lift_totals(night_shop, periods, in_sql=False)
    assert streamed[("before", "all")]["checks"] > 5 and streamed[("after", "all")]["buyers"] == 3
    if connection.vendor != "postgresql":
        pytest.skip("the SQL path is PostgreSQL's")
    in_sql = lift_totals(night_shop, periods, in_sql=True)
    assert in_sql == streamed
    # the same types too (a count read back as a Decimal would be stored as a string)
    assert {k: {n: type(v) for n, v in t.items()} for k, t in in_sql.items()} == {
        k: {n: type(v) for n, v in t.items()} for k, t in streamed.items()
    }


def test_a_year_after_the_launch_the_refresh_keeps_the_stored_lift(shop, monkeypatch):
    """The periods stop moving a year after the launch: a night whose changed days are all
    outside them keeps the stored lift; a purchase recorded late inside them computes it
    again. Either way the stored lift is the live one."""
    from reports import lift as lift_module
    from reports import metrics, rollup
    from reports.rollup import reports_refresh

    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    first, second, third = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
    snapshot = reports_refresh(merchant=shop, today=first)
    assert snapshot.timings["mode"] == "full" and "lift_kept" not in snapshot.timings
    assert lift(merchant=shop, today=first) == lift(merchant=shop, today=first, live=True)

    member = shop.clients.get(joined_at__isnull=False)
    buy(shop, member, date(2026, 1, 5), 700)  # the new day: after both periods
    computed, real = [], lift_module.lift_totals
    monkeypatch.setattr(
        lift_module, "lift_totals", lambda *a, **k: computed.append(1) or real(*a, **k)
    )
    snapshot = reports_refresh(merchant=shop, today=second)
    assert snapshot.timings["mode"] == "incremental" and snapshot.timings["lift_kept"]
    assert computed == []
    assert lift(merchant=shop, today=second) == lift(merchant=shop, today=second, live=True)

    buy(shop, member, date(2024, 10, 1), 444)  # recorded late, inside the before period
    snapshot = reports_refresh(merchant=shop, today=third)
    assert snapshot.timings["mode"] == "incremental" and not snapshot.timings["lift_kept"]
    stored = lift(merchant=shop, today=third)
    assert stored == lift(merchant=shop, today=third, live=True)
    # 1000 + 1000 + 9999 (2024-07-01 is inside the before period now) + 444
    assert stored["groups"]["members"]["before"]["revenue"] == D("12443.00")


def test_a_year_after_the_launch_the_page_reads_the_last_refresh_s_lift(shop, monkeypatch):
    """Opened before the night's refresh (or after one that failed), the page of a large
    merchant reads the lift the last refresh stored when its periods still hold — a year
    after the launch they no longer move — instead of reading every check again."""
    from reports import lift as lift_module
    from reports import metrics
    from reports.rollup import reports_refresh

    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    refreshed = date(2026, 1, 5)
    reports_refresh(merchant=shop, today=refreshed)
    stored = lift(merchant=shop, today=refreshed)

    def computed(*args, **kwargs):
        raise AssertionError("the checks were read again")

    monkeypatch.setattr(lift_module, "lift_totals", computed)
    assert lift(merchant=shop, today=refreshed + timedelta(days=1)) == stored
    assert lift(merchant=shop, today=refreshed + timedelta(days=30)) == stored

    # In another time zone the periods are other days: computed again.
    shop.time_zone = "Asia/Vladivostok"
    shop.save(update_fields=["time_zone"])
    with pytest.raises(AssertionError, match="read again"):
        lift(merchant=shop, today=refreshed + timedelta(days=1))
