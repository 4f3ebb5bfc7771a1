"""The purchase engine and the campaigns together: a recorded purchase ≥ the threshold gets the
check-growth certificate after commit, and a purchase re-arms the win-back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import CampaignIssuance, Certificate
from tests.factories import CampaignFactory, MemberFactory

pytestmark = pytest.mark.django_db

purchases = pytest.importorskip("loyalty.services.purchases")


def record(merchant, client, amount, external_id, occurred_at=None):
    return purchases.purchase_record(
        merchant=merchant,
        client=client,
        amount=Decimal(amount),
        payment_type="card",
        source="cashier",
        external_id=external_id,
        occurred_at=occurred_at,
    )


def test_recorded_purchase_over_threshold_issues_certificate_on_commit(
    program, django_capture_on_commit_callbacks
):
    merchant = program.merchant
    CampaignFactory(
        merchant=merchant,
        kind="check_growth",
        reward_points=Decimal(2000),
        min_check_amount=Decimal(15000),
        certificate_valid_days=30,
    )
    client = MemberFactory(merchant=merchant)
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant, client, "14000", "small-1")
    assert not CampaignIssuance.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        result = record(merchant, client, "15000", "big-1")
    issuance = CampaignIssuance.objects.get()
    assert issuance.period_key == str(result.purchase.pk)
    assert issuance.certificate.points == Decimal("2000.00")
    # The same POS document posted again is one purchase and one certificate.
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant, client, "15000", "big-1")
    assert Certificate.objects.count() == 1


def test_a_purchase_rearms_the_winback(program):
    merchant = program.merchant
    CampaignFactory(
        merchant=merchant,
        kind="winback",
        reward_points=Decimal(2000),
        days_after_last_purchase=15,
        certificate_valid_days=14,
    )
    client = MemberFactory(merchant=merchant)
    first = timezone.now() - timedelta(days=40)
    record(merchant, client, "1000", "p1", occurred_at=first)
    first_day = first.astimezone(merchant.tzinfo).date()
    assert campaigns_run_day(merchant=merchant, day=first_day + timedelta(days=15)).issued == 1
    second = first + timedelta(days=20)
    record(merchant, client, "1000", "p2", occurred_at=second)
    second_day = second.astimezone(merchant.tzinfo).date()
    assert campaigns_run_day(merchant=merchant, day=second_day + timedelta(days=15)).issued == 1
    assert campaigns_run_day(merchant=merchant, day=second_day + timedelta(days=15)).issued == 0
    assert sorted(CampaignIssuance.objects.values_list("period_key", flat=True)) == [
        first_day.isoformat(),
        second_day.isoformat(),
    ]
