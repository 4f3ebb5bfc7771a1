"""The program page with the tier inline rejects a decreasing ladder with a clear message."""

import pytest
from django.urls import reverse

from loyalty.program import program_for
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def program_form(program, tiers):
    data = {
        "welcome_points": "100",
        "points_expiry_months": "12",
        "referral_bonus_points": "0",
        "referral_bonus_trigger": "first_purchase",
        "referral_base": "check",
        "referral_level1_percent": "0",
        "referral_level2_percent": "0",
        "referral_level3_percent": "0",
        "staff_bonus_percent": "0",
        "installment_accrual_only": "on",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
    }
    for i, (name, cashback, cap, threshold) in enumerate(tiers):
        data.update(
            {
                f"tiers-{i}-position": str(i + 1),
                f"tiers-{i}-name": name,
                f"tiers-{i}-cashback_percent": cashback,
                f"tiers-{i}-max_redemption_percent": cap,
                f"tiers-{i}-spend_threshold": threshold,
                f"tiers-{i}-program": program.pk,
            }
        )
    return data


@pytest.fixture
def setup(client):
    user = UserFactory(username="spec", role="specialist")
    merchant = MerchantFactory()
    merchant.specialists.add(user)
    client.force_login(user)
    return program_for(merchant)


def test_decreasing_tiers_rejected_in_admin(client, setup):
    url = reverse("admin:loyalty_program_change", args=[setup.pk])
    response = client.post(
        url, program_form(setup, [("A", "5", "10", "0"), ("B", "3", "10", "10")])
    )
    assert response.status_code == 200
    assert "Cashback must not decrease" in response.content.decode()
    assert setup.tiers.count() == 0


def test_cap_above_100_rejected_in_admin(client, setup):
    url = reverse("admin:loyalty_program_change", args=[setup.pk])
    response = client.post(url, program_form(setup, [("A", "5", "120", "0")]))
    assert response.status_code == 200
    assert setup.tiers.count() == 0


def test_valid_tiers_saved_in_admin(client, setup):
    url = reverse("admin:loyalty_program_change", args=[setup.pk])
    response = client.post(
        url, program_form(setup, [("A", "3", "10", "0"), ("B", "5", "20", "100")])
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert [str(t.cashback_percent) for t in setup.tiers.order_by("position")] == ["3.00", "5.00"]


def test_campaign_form_keeps_only_kind_fields(client, setup):
    url = reverse("admin:loyalty_campaign_add")
    response = client.post(
        url,
        {
            "merchant": setup.merchant.pk,
            "kind": "winback",
            "name": "Back",
            "is_active": "on",
            "reward_form": "points",
            "reward_points": "1000",
            "days_after_last_purchase": "60",
            "days_before": "5",
            "channel": "web_push",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    from loyalty.models import Campaign

    campaign = Campaign.objects.get(name="Back")
    assert campaign.days_after_last_purchase == 60 and campaign.days_before is None
    assert campaign.audience == "members"  # not posted: the default
    body = client.get(reverse("admin:loyalty_campaign_change", args=[campaign.pk])).content.decode()
    assert "x-show" in body and "kind == &#x27;winback&#x27;" in body
