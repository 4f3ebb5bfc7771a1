"""Each reference configuration of CASES.md is stored exactly (values written out here by hand)."""

from decimal import Decimal as D

import pytest

from demo.reference import REFERENCE_MERCHANTS
from demo.seeding import _merchant
from loyalty.models import Campaign
from onboarding.models import Merchant

pytestmark = pytest.mark.django_db


def load(slug):
    ref = next(r for r in REFERENCE_MERCHANTS if r["slug"] == slug)
    _merchant(ref)
    return Merchant.objects.get(slug=slug)


def tier_values(merchant):
    return [
        (t.name, t.cashback_percent, t.max_redemption_percent)
        for t in merchant.program.tiers.order_by("position")
    ]


def campaign(merchant, kind):
    return Campaign.objects.get(merchant=merchant, kind=kind)


def test_000_zolotoff():
    m = load("zolotoff")
    assert (m.country, m.currency, str(m.launch_date)) == ("RU", "RUB", "2024-08-14")
    assert (m.carrier_app, m.carrier_telegram, m.carrier_phone) == (True, True, True)
    p = m.program
    assert p.welcome_points == 3000 and p.points_expiry_months == 24
    assert p.installment_accrual_only and not p.promo_redeemable
    assert p.referral_bonus_points == 500
    assert p.referral_percents == [D(5), D(2), D(1)]
    assert [c for _n, c, _r in tier_values(m)] == [3, 5, 7, 9, 11]
    assert [r for _n, _c, r in tier_values(m)][0] == 5 and tier_values(m)[-1][2] == 20
    assert tier_values(m)[0][0] == "Украшаем мир красотой"
    assert tier_values(m)[-1][0] == "Вы – королева, и мы это знаем"
    w = campaign(m, "winback")
    assert (w.reward_points, w.days_after_last_purchase, w.reward_form) == (1000, 716, "points")
    g = campaign(m, "check_growth")
    assert (
        g.reward_points,
        g.min_check_amount,
        g.redemption_cap_percent,
        g.certificate_valid_days,
    ) == (2000, 15000, 20, 30)
    b = campaign(m, "birthday")
    assert (b.reward_points, b.days_before, b.certificate_valid_days, b.redemption_cap_percent) == (
        1500,
        10,
        20,
        20,
    )
    assert m.point_a_items.filter(kind="state").count() == 4
    assert m.point_a_items.filter(kind="goal").count() == 5


def test_001_kz_restaurant():
    m = load("kz-restaurant")
    assert (m.country, m.currency) == ("KZ", "KZT")
    p = m.program
    assert p.welcome_points == 5000 and p.points_expiry_months == 24
    assert p.referral_percents == [D(3), D(1), D(1)]
    assert [c for _n, c, _r in tier_values(m)] == [5, 7, 10, 15, 20]
    caps = [r for _n, _c, r in tier_values(m)]
    assert caps[0] == 7 and caps[-1] == 20
    b = campaign(m, "birthday")
    assert (b.reward_points, b.redemption_cap_percent, b.certificate_valid_days) == (1000, 7, 15)
    w = campaign(m, "winback")
    assert (w.reward_points, w.days_after_last_purchase) == (2000, 15)
    r = campaign(m, "review_reward")
    assert (r.reward_points, r.review_platform, r.reward_form) == (1000, "2gis", "points")
    assert campaign(m, "partner_certificate").certificates_count == 725


def test_002_rustore():
    m = load("rustore")
    assert m.pos_integration == "evotor" and m.online_orders
    p = m.program
    assert p.welcome_points == 500 and p.points_expiry_months == 12
    assert p.referral_bonus_points == 500
    assert p.referral_percents == [D("1.5"), D(1), D("0.5")]
    assert p.staff_bonus_percent == D("0.1")
    assert not p.promo_redeemable
    assert tier_values(m) == [
        ("Серебро", 1, 10),
        ("Золото", 2, 20),
        ("Платина", 3, 35),
        ("VIP", 5, 50),
    ]
    b = campaign(m, "birthday")
    assert (b.reward_points, b.certificate_valid_days, b.days_before, b.redemption_cap_percent) == (
        5000,
        22,
        7,
        5,
    )


def test_003_sakura():
    m = load("sakura")
    assert m.pos_integration == "none"
    p = m.program
    assert p.welcome_points == 100
    assert p.referral_bonus_points == 50 and p.referral_bonus_trigger == "first_purchase"
    assert p.referral_percents == [D(5)]
    assert [n for n, _c, _r in tier_values(m)] == [
        "Новичок",
        "Любитель",
        "Эксперт по вкусной еде",
        "Мастер японской кухни",
        "Любимый клиент",
    ]
    assert [c for _n, c, _r in tier_values(m)] == [3, 5, 7, 10, 12]
    w = campaign(m, "winback")
    assert (w.days_after_last_purchase, w.reward_points, w.certificate_valid_days) == (60, 150, 7)
    b = campaign(m, "birthday")
    assert (b.reward_points, b.days_before, b.redemption_cap_percent) == (300, 3, 50)
    r = campaign(m, "review_reward")
    assert (r.reward_points, r.reward_form, r.review_platform) == (250, "certificate", "maps")


def test_004_tbilisi():
    m = load("tbilisi-restaurant")
    assert (m.country, m.currency, m.pos_integration) == ("GE", "GEL", "poster")
    p = m.program
    assert p.welcome_points == 5
    assert p.referral_bonus_points == 3 and p.referral_percents == [D(1)]
    assert [c for _n, c, _r in tier_values(m)] == [2, 3, 4, 5, 6]
    g = campaign(m, "segment_gift")
    assert (g.reward_form, g.burn_after_days) == ("points", 3)


def test_loading_twice_does_not_duplicate():
    load("zolotoff")
    m = load("zolotoff")
    assert m.program.tiers.count() == 5
    assert Campaign.objects.filter(merchant=m).count() == 3
    assert m.point_a_items.count() == 9
    assert m.branches.count() == 3
