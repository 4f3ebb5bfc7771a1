"""The program forecast: a small history replayed through a draft, worked out by hand."""

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal as D
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from loyalty.forecast.drafts import draft_apply, draft_save, settings_from_program
from loyalty.forecast.service import ForecastError, forecast_run
from loyalty.models import Purchase, Tier
from tests.factories import CampaignFactory, ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db

TODAY = date(2025, 7, 1)  # the window of 12 months: 2024-07-01 .. 2025-06-30
UTC = ZoneInfo("UTC")

DRAFT = {
    "welcome_points": "100",
    "points_expiry_months": None,
    "promo_earns_points": True,
    "promo_redeemable": False,
    "referral_bonus_points": "50",
    "referral_bonus_trigger": "first_purchase",
    "referral_base": "check",
    "referral_level1_percent": "10",
    "tiers": [
        {
            "name": "Base",
            "cashback_percent": "5",
            "max_redemption_percent": "20",
            "spend_threshold": "0",
        },
        {
            "name": "Gold",
            "cashback_percent": "10",
            "max_redemption_percent": "30",
            "spend_threshold": "3000",
        },
    ],
}


def buy(merchant, client, day, amount, excluded=0):
    Purchase.objects.create(
        merchant=merchant,
        client=client,
        source="manual",
        occurred_at=datetime.combine(day, time(12), tzinfo=UTC),
        amount=D(amount),
        excluded_amount=D(excluded),
        paid_money=D(amount),
        payment_type="card",
    )


@pytest.fixture
def shop():
    return MerchantFactory(time_zone="UTC", previous_discount_percent=D(5))


def test_small_history_worked_out_by_hand(shop):
    a = ClientFactory(merchant=shop)
    b = ClientFactory(merchant=shop, referred_by=a)
    buy(shop, a, date(2025, 1, 10), 1000)
    buy(shop, b, date(2025, 2, 5), 2000)
    buy(shop, a, date(2025, 3, 1), 2500)
    buy(shop, a, date(2025, 3, 15), 1000, excluded=400)
    buy(shop, None, date(2025, 4, 1), 500)
    buy(shop, a, date(2024, 6, 30), 9999)  # before the window: not replayed
    draft = draft_save(merchant=shop, name="Two tiers", settings=DRAFT, redeem_share_percent=100)

    fc = forecast_run(merchant=shop, drafts=[draft], months=12, today=TODAY)

    # 1) 10.01 A 1000: joins, welcome 100. Base: cap 20% of 1000 = 200, balance 100 -> pays
    #    100; cashback 5% of 900 = 45. A: 45.
    # 2) 05.02 B 2000 (A's friend): welcome 100; pays 100 (cap 400); cashback 5% of 1900 = 95.
    #    B's first purchase: one-time bonus 50 to A, level 1: 10% of the check 2000 = 200.
    #    A: 45 + 50 + 200 = 295; B: 95.
    # 3) 01.03 A 2500: Base, cap 500, pays 295; cashback 5% of 2205 = 110.25. A's spend
    #    3500 reaches Gold (3000).
    # 4) 15.03 A 1000 with 400 promo: Gold, eligible 600, cap 30% = 180, balance 110.25 ->
    #    pays 110.25 (regular items); earning 489.75 + promo 400 = 889.75, 10% = 88.975 ->
    #    88.98 (half up). A: 88.98.
    # 5) 01.04 a check without a card, 500: revenue only.
    assert fc["source"] == "history"
    assert (fc["checks"], fc["card_checks"]) == (5, 4)
    assert fc["revenue"] == D("7000.00") and fc["card_revenue"] == D("6500.00")
    p = fc["programs"][0]
    # issued: welcome 200 + cashback (45 + 95 + 110.25 + 88.98 = 339.23) + bonus 50 + L1 200
    assert p["issued_by_kind"]["welcome"] == D("200.00")
    assert p["issued_by_kind"]["accrual"] == D("339.23")
    assert p["points_issued"] == D("789.23")
    # redeemed: 100 + 100 + 295 + 110.25 = 605.25; liability 789.23 - 605.25 = 88.98 + 95
    assert p["points_redeemed"] == D("605.25")
    assert p["liability_end"] == D("183.98")
    assert p["referral_by_level"] == {"0": D("50.00"), "1": D("200.00"), "2": D(0), "3": D(0)}
    # actual discount: 605.25 / 6500 = 9.3115...% -> 9.31
    assert p["actual_discount_percent"] == D("9.31")
    assert [(t["name"], t["clients"], t["share_percent"]) for t in p["tiers"]] == [
        ("Base", 1, D("50.00")),
        ("Gold", 1, D("50.00")),
    ]
    months = {m["month"]: m for m in p["months_detail"]}
    assert len(months) == 12
    # Jan: +145 -100 = 45; Feb: +445 -100 -> 390; Mar: +199.23 -405.25 -> 183.98
    assert (months["2025-01"]["issued"], months["2025-01"]["liability"]) == (D(145), D(45))
    assert (months["2025-02"]["issued"], months["2025-02"]["liability"]) == (D(445), D(390))
    assert months["2025-03"]["redeemed"] == D("405.25")
    assert months["2025-06"]["liability"] == D("183.98")
    # the previous direct discount, 5% of the card revenue 6500
    assert fc["direct_discount"]["cost"] == D("325.00")


def test_whole_balance_expires_months_after_the_last_purchase(shop):
    a = ClientFactory(merchant=shop)
    buy(shop, a, date(2025, 1, 10), 1000)
    settings = dict(DRAFT, points_expiry_months=2)
    draft = draft_save(merchant=shop, name="Expiring", settings=settings, redeem_share_percent=0)
    p = forecast_run(merchant=shop, drafts=[draft], months=12, today=TODAY)["programs"][0]
    # welcome 100 + 5% of 1000 = 150, never spent; lapses on 10.03 (two months later)
    months = {m["month"]: m for m in p["months_detail"]}
    assert months["2025-02"]["liability"] == D(150)
    assert months["2025-03"]["expired"] == D(150)
    assert p["points_expired"] == D(150) and p["liability_end"] == D(0)


def test_campaign_certificate_pays_within_its_cap_and_validity(shop):
    CampaignFactory(
        merchant=shop,
        kind="check_growth",
        name="Grow",
        min_check_amount=D(1500),
        reward_points=D(300),
        redemption_cap_percent=D(50),
        certificate_valid_days=30,
    )
    a = ClientFactory(merchant=shop)
    buy(shop, a, date(2025, 1, 1), 2000)  # >= 1500: a 300 certificate, valid to 30.01
    buy(shop, a, date(2025, 1, 11), 400)  # pays 50% of 400 = 200 of it
    buy(shop, a, date(2025, 2, 15), 1000)  # the rest (100) lapsed on 30.01
    settings = dict(DRAFT, welcome_points="0", referral_bonus_points="0")
    settings["tiers"] = [
        {
            "name": "Only",
            "cashback_percent": "0",
            "max_redemption_percent": "0",
            "spend_threshold": "0",
        }
    ]
    draft = draft_save(merchant=shop, name="Gifts", settings=settings, redeem_share_percent=100)
    p = forecast_run(merchant=shop, drafts=[draft], months=12, today=TODAY)["programs"][0]
    grow = p["certificates"][0]
    # only the 2000 check reaches 1500: one certificate of 300, of which 200 redeemed
    assert (grow["issued"], grow["face_value"], grow["redeemed"]) == (1, D(300), D(200))
    assert p["cost"] == D(200) and p["points_redeemed"] == D(0)


def test_synthetic_history_from_point_a():
    shop = MerchantFactory(
        time_zone="UTC",
        point_a_clients=10,
        point_a_average_check=D(1000),
        point_a_visits_per_year=D(12),
    )
    fc = forecast_run(merchant=shop, months=12, today=TODAY)
    # 365 days: 10 clients x 12 checks; the current (empty) program gives nothing
    assert fc["source"] == "point_a" and fc["checks"] == 120 and fc["card_checks"] == 120
    assert D(80000) < fc["card_revenue"] < D(160000)
    assert fc["direct_discount"]["cost"] == (fc["card_revenue"] * 5 / 100).quantize(D("0.01"))


def test_no_history_and_no_point_a_is_a_clear_error(shop):
    with pytest.raises(ForecastError, match="Point A"):
        forecast_run(merchant=shop, today=TODAY)


def test_bad_draft_is_refused_with_the_programs_messages(shop):
    bad = dict(DRAFT)
    bad["tiers"] = [
        {
            "name": "Gold",
            "cashback_percent": "10",
            "max_redemption_percent": "30",
            "spend_threshold": "0",
        },
        {
            "name": "Silver",
            "cashback_percent": "5",
            "max_redemption_percent": "30",
            "spend_threshold": "100",
        },
    ]
    with pytest.raises(ValidationError, match="Cashback must not decrease"):
        draft_save(merchant=shop, name="Bad", settings=bad)


def test_chosen_draft_becomes_the_program(shop):
    draft = draft_save(merchant=shop, name="Two tiers", settings=DRAFT)
    program = draft_apply(merchant=shop, draft=draft)
    assert program.welcome_points == D(100) and program.referral_level1_percent == D(10)
    assert list(Tier.objects.filter(program=program).values_list("name", "spend_threshold")) == [
        ("Base", D(0)),
        ("Gold", D(3000)),
    ]
    assert settings_from_program(shop)["tiers"][1]["cashback_percent"] == "10.00"
    other = MerchantFactory()
    with pytest.raises(ValidationError):
        draft_apply(merchant=other, draft=draft)


def test_command_json_and_html(shop):
    a = ClientFactory(merchant=shop)
    # yesterday: the history window ends the day before today, whatever the month
    buy(shop, a, shop.local_today() - timedelta(days=1), 1000)
    draft = draft_save(merchant=shop, name="Two tiers", settings=DRAFT, redeem_share_percent=100)
    out = StringIO()
    call_command(
        "program_forecast", shop.slug, "--draft", str(draft.pk), "--format", "json", stdout=out
    )
    data = json.loads(out.getvalue())
    # welcome 100 paid in full (cap 200), cashback 5% of 900 = 45
    assert data["programs"][0]["points_redeemed"] == "100.00"
    assert data["programs"][0]["liability_end"] == "45.00"
    out = StringIO()
    call_command(
        "program_forecast", shop.slug, "--draft", str(draft.pk), "--format", "html", stdout=out
    )
    assert "Two tiers" in out.getvalue() and "Actual discount" in out.getvalue()
    with pytest.raises(CommandError, match="No draft"):
        call_command("program_forecast", shop.slug, "--draft", "999999")
