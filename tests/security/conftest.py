"""Two merchants and one user of every role, with a little of everything each merchant owns,
so a test can ask "can a user of merchant A see or touch merchant B's record?"."""

import uuid
from decimal import Decimal as D

import pytest
from django.utils import timezone, translation

from crm.models import ImportBatch, Review, Segment
from loyalty.models import PaymentType, PurchaseSource
from loyalty.program import TierSpec, program_configure
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from onboarding.models import BonusPeriod, MerchantTask, StaffMember, TrainingModule
from tests.factories import (
    BranchFactory,
    CampaignFactory,
    ClientFactory,
    MerchantFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def _merchant_with_data(slug: str, name: str, phone_prefix: str):
    merchant = MerchantFactory(slug=slug, name=name)
    program_configure(
        merchant=merchant,
        tiers=[TierSpec(f"{name} tier", D(5), D(20), D(0))],
        welcome_points=D(100),
    )
    branch = BranchFactory(merchant=merchant, name=f"{name} branch")
    staff = StaffMember.objects.create(
        merchant=merchant, full_name=f"{name} cashier", branch=branch
    )
    person = ClientFactory(
        merchant=merchant, phone=f"{phone_prefix}0001", full_name=f"{name} Client"
    )
    client_join(merchant=merchant, client=person)
    purchase = purchase_record(
        merchant=merchant,
        client=person,
        amount=D(1000),
        payment_type=PaymentType.CARD,
        branch=branch,
        cashier=staff,
        external_id=f"seed-{uuid.uuid4()}",
        source=PurchaseSource.CASHIER,
    ).purchase
    campaign = CampaignFactory(merchant=merchant, name=f"{name} campaign")
    gift = CampaignFactory(
        merchant=merchant,
        name=f"{name} gift",
        kind="segment_gift",
        reward_form="points",
        reward_points=D(50),
        burn_after_days=7,
    )
    segment = Segment.objects.create(merchant=merchant, name=f"{name} segment", kind="lapsed")
    review = Review.objects.create(
        merchant=merchant, client=person, platform="2gis", rating=5, created_at=timezone.now()
    )
    module = TrainingModule.objects.create(merchant=merchant, title=f"{name} module")
    task = MerchantTask.objects.create(merchant=merchant, title=f"{name} task")
    period = BonusPeriod.objects.create(merchant=merchant, start="2024-01-01", end="2024-01-31")
    batch = ImportBatch.objects.create(merchant=merchant, file_name=f"{slug}.csv", report={})
    return {
        "merchant": merchant,
        "branch": branch,
        "staff": staff,
        "client": person,
        "purchase": purchase,
        "campaign": campaign,
        "gift": gift,
        "segment": segment,
        "review": review,
        "module": module,
        "task": task,
        "period": period,
        "batch": batch,
    }


@pytest.fixture
def world(db):
    a = _merchant_with_data("alpha", "Alpha", "+7913100")
    b = _merchant_with_data("bravo", "Bravo", "+7913200")
    spec_a = UserFactory(username="spec-a", role="specialist")
    spec_b = UserFactory(username="spec-b", role="specialist")
    partner_a = UserFactory(username="partner-a", role="partner")
    owner_a = UserFactory(username="owner-a", role="owner")
    cashier_a = UserFactory(username="cashier-a", role="cashier")
    a["merchant"].specialists.add(spec_a)
    b["merchant"].specialists.add(spec_b)
    a["merchant"].owners.add(owner_a)
    a["merchant"].partner = partner_a
    a["merchant"].save()
    a["staff"].user = cashier_a
    a["staff"].save()
    return {
        "a": a,
        "b": b,
        "spec_a": spec_a,
        "spec_b": spec_b,
        "partner_a": partner_a,
        "owner_a": owner_a,
        "cashier_a": cashier_a,
    }
