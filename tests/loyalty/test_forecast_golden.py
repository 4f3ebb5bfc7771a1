"""The forecast of a seeded history is pinned: the figures in data/forecast_golden.json were
produced by the replay before it was made faster (rule answers reused, tier ladder looked up
once, local days by midnight boundaries), so any change of a figure is a change of behaviour.
They changed once on purpose: members replay in two fixed groups, each with its own count of
which checks pay with points (`loyalty.forecast.groups`), which moved the figures of drafts
that pay on part of the checks (50 %, 80 %) by under 2 %; a draft paying on every check kept
every figure. `UPDATE_FORECAST_GOLDEN=1` rewrites the file after such a deliberate change.

The history has what every path of the replay reads: referral chains of three levels,
birthdays, promo parts, installments, birthday, win-back and welcome certificates, check-growth
points, drafts with and without expiry, promo rules and referral bases, the current program
with and without tiers, and a time zone whose clocks move at midnight."""

import json
import os
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from crm.models import Client
from loyalty.forecast.drafts import draft_apply, draft_save
from loyalty.forecast.service import _history_rows, forecast_run
from loyalty.models import Campaign, Purchase
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "data" / "forecast_golden.json"
TODAY = date(2026, 11, 29)

TIERS = [
    {
        "name": "Silver",
        "cashback_percent": "3",
        "max_redemption_percent": "20",
        "spend_threshold": "0",
    },
    {
        "name": "Gold",
        "cashback_percent": "5",
        "max_redemption_percent": "30",
        "spend_threshold": "8000",
    },
    {
        "name": "Platinum",
        "cashback_percent": "7",
        "max_redemption_percent": "50",
        "spend_threshold": "20000",
    },
]
A = {
    "welcome_points": "300",
    "points_expiry_months": 6,
    "referral_bonus_points": "200",
    "referral_level1_percent": "3",
    "referral_level2_percent": "2",
    "referral_level3_percent": "1",
    "tiers": TIERS,
}
B = dict(
    A,
    promo_redeemable=True,
    promo_earns_points=False,
    installment_accrual_only=False,
    tiers_can_fall=True,
    referral_base="paid",
    referral_bonus_trigger="first_purchase",
    points_expiry_months=None,
    welcome_points="0",
)
C = dict(
    A,
    promo_earns_points=False,
    points_expiry_months=2,
    referral_level3_percent="0",
    tiers=[dict(t, cashback_percent="2.5", max_redemption_percent="33.3") for t in TIERS],
)


def seed(zone: str, purchases: int = 1500, clients: int = 150):
    rng = random.Random(17)
    merchant = MerchantFactory(time_zone=zone, previous_discount_percent=D(7))
    Client.objects.bulk_create(
        Client(
            merchant=merchant,
            phone=f"+7911{i:07d}",
            birthday=date(1970 + i % 40, 1 + i % 12, 1 + i % 28) if i % 3 else None,
        )
        for i in range(clients)
    )
    people = list(Client.objects.filter(merchant=merchant).order_by("pk"))
    for n in range(4, clients, 4):
        people[n].referred_by = people[rng.randrange(n)]
    Client.objects.bulk_update(people, ["referred_by"])
    common = {"merchant": merchant, "channel": "console", "redemption_cap_percent": D(30)}
    Campaign.objects.create(
        kind="birthday",
        name="birthday",
        reward_form="certificate",
        reward_points=D(500),
        certificate_valid_days=14,
        days_before=7,
        **common,
    )
    Campaign.objects.create(
        kind="winback",
        name="winback",
        reward_form="certificate",
        reward_points=D(400),
        certificate_valid_days=10,
        days_after_last_purchase=60,
        **common,
    )
    Campaign.objects.create(
        kind="check_growth",
        name="growth",
        reward_form="points",
        reward_points=D(50),
        min_check_amount=D(3000),
        **common,
    )
    Campaign.objects.create(
        kind="welcome",
        name="welcome",
        reward_form="certificate",
        reward_points=D(250),
        certificate_valid_days=30,
        certificate_remainder_burns=True,
        **common,
    )
    end = datetime(2026, 11, 29, tzinfo=UTC)
    rows = []
    for n in range(purchases):
        amount = D(rng.randrange(300, 5000)) + D(rng.randrange(100)) / 100
        excluded = D(rng.randrange(0, int(amount) // 2)) if rng.random() < 0.1 else D(0)
        if n % 50 == 0:  # a check exactly at a local midnight
            day = TODAY - timedelta(days=rng.randrange(1, 370))
            at = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(zone))
        else:
            at = end - timedelta(seconds=rng.randrange(1, 375 * 86400))
        rows.append(
            Purchase(
                merchant=merchant,
                client=None if n % 40 == 0 else people[rng.randrange(clients)],
                source="manual",
                occurred_at=at,
                amount=amount,
                excluded_amount=excluded,
                paid_money=amount,
                payment_type="installment" if rng.random() < 0.05 else "card",
            )
        )
    Purchase.objects.bulk_create(rows, batch_size=1000)
    return merchant


def forecasts(merchant) -> dict:
    a = draft_save(merchant=merchant, name="A", settings=A)
    b = draft_save(merchant=merchant, name="B", settings=B, redeem_share_percent=80)
    c = draft_save(merchant=merchant, name="C", settings=C, redeem_share_percent=100)
    result = {
        "AB": forecast_run(merchant=merchant, drafts=[a, b], months=12, today=TODAY),
        "C3": forecast_run(merchant=merchant, drafts=[c], months=3, today=TODAY),
        "none": forecast_run(merchant=merchant, drafts=[], months=12, today=TODAY),
    }
    draft_apply(merchant=merchant, draft=b)
    result["applied"] = forecast_run(merchant=merchant, drafts=[], months=12, today=TODAY)
    return json.loads(json.dumps(_plain(result), cls=DjangoJSONEncoder, sort_keys=True))


def _plain(value):
    """The figures without what names this test's objects (slugs, ids)."""
    if isinstance(value, dict):
        return {
            k: _plain(v)
            for k, v in value.items()
            if k not in ("draft", "merchant", "merchant_name")
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("zone", ["Europe/Moscow", "America/Santiago"])
def test_forecast_figures_are_pinned(zone):
    merchant = seed(zone)
    figures = forecasts(merchant)
    if os.environ.get("UPDATE_FORECAST_GOLDEN"):
        pinned = json.loads(GOLDEN.read_text())
        pinned[zone] = figures
        GOLDEN.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    assert figures == json.loads(GOLDEN.read_text())[zone]


@pytest.mark.parametrize("zone", ["Europe/Moscow", "America/Santiago", "UTC", "Asia/Kolkata"])
def test_history_days_are_the_local_days_of_the_checks(zone):
    merchant = seed(zone, purchases=400, clients=20)
    start, end = date(2025, 11, 29), date(2026, 11, 28)
    tz = ZoneInfo(zone)
    expected = [
        (p.client_id, p.occurred_at.astimezone(tz).date(), p.amount, p.excluded_amount)
        for p in Purchase.objects.filter(merchant=merchant).order_by("occurred_at", "pk")
        if start <= p.occurred_at.astimezone(tz).date() <= end
    ]
    got = [(cid, day, a, x) for cid, day, a, x, _p in _history_rows(merchant, start, end)]
    assert got == expected
