"""The forecast page: two drafts side by side, the chosen one becomes the program, another
merchant's page is not found."""

from datetime import datetime, time, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from loyalty.forecast.drafts import draft_save
from loyalty.forecast.models import ProgramDraft
from loyalty.models import Program, Purchase
from tests.factories import ClientFactory, MerchantFactory, UserFactory
from tests.loyalty.test_forecast import DRAFT

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(client):
    user = UserFactory(username="spec", role="specialist")
    merchant = MerchantFactory(time_zone="UTC")
    merchant.specialists.add(user)
    client.force_login(user)
    buyer = ClientFactory(merchant=merchant)
    day = merchant.local_today() - timedelta(days=1)  # the history window ends yesterday
    Purchase.objects.create(
        merchant=merchant,
        client=buyer,
        source="manual",
        payment_type="card",
        occurred_at=datetime.combine(day, time(12), tzinfo=ZoneInfo("UTC")),
        amount=D(1000),
        paid_money=D(1000),
    )
    rich = dict(DRAFT, welcome_points="300")
    a = draft_save(merchant=merchant, name="Welcome 100", settings=DRAFT, redeem_share_percent=100)
    b = draft_save(merchant=merchant, name="Welcome 300", settings=rich, redeem_share_percent=100)
    return merchant, a, b


def test_two_drafts_side_by_side(client, setup):
    merchant, a, b = setup
    url = reverse("admin:loyalty_programdraft_forecast", args=[merchant.pk])
    page = client.get(url, {"a": a.pk, "b": b.pk}).content.decode()
    assert "Welcome 100" in page and "Welcome 300" in page
    # A pays its 100 welcome points (cap 20% of 1000 = 200): 10% actual discount;
    # B's 300 are capped at 200: 20%.
    assert "<b>10%</b>" in page and "<b>20%</b>" in page
    assert "Make “Welcome 300” the program" in page


def test_chosen_draft_becomes_the_program(client, setup):
    merchant, a, b = setup
    url = reverse("admin:loyalty_programdraft_forecast", args=[merchant.pk])
    response = client.post(url, {"apply": b.pk})
    program = Program.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert program.welcome_points == D(300) and program.tiers.count() == 2
    assert ProgramDraft.objects.get(pk=b.pk).applied_at is not None


def test_other_merchants_forecast_is_not_found(client, setup):
    other = MerchantFactory()
    url = reverse("admin:loyalty_programdraft_forecast", args=[other.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"apply": setup[1].pk}).status_code == 404


def test_draft_form_validates_like_the_program(client, setup):
    merchant = setup[0]
    data = {
        "merchant": merchant.pk,
        "name": "Bad",
        "redeem_share_percent": "50",
        "welcome_points": "0",
        "referral_bonus_points": "0",
        "referral_bonus_trigger": "first_purchase",
        "referral_base": "check",
        "referral_level1_percent": "0",
        "referral_level2_percent": "0",
        "referral_level3_percent": "0",
        "installment_accrual_only": "on",
        "tiers": "Gold; 10; 30; 0\nSilver; 5; 30; 100",
    }
    response = client.post(reverse("admin:loyalty_programdraft_add"), data)
    assert "Cashback must not decrease" in response.content.decode()
    data["tiers"] = "Silver; 5; 30; 0\nGold; 10; 30; 5 000"
    response = client.post(reverse("admin:loyalty_programdraft_add"), data)
    assert response.status_code == 302
    saved = ProgramDraft.objects.get(name="Bad")
    assert saved.settings["tiers"][1] == {
        "name": "Gold",
        "cashback_percent": "10",
        "max_redemption_percent": "30",
        "spend_threshold": "5000",
    }
