"""A specialist with several merchants cannot tie a record of one merchant to a record of
another in an admin form (a client's tier, a review's client, a staff member's branch)."""

import pytest
from django.urls import reverse

from crm.models import Client, Review
from loyalty.models import Tier
from loyalty.program import program_for
from onboarding.models import StaffMember
from tests.factories import BranchFactory, ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def second(world):
    other = MerchantFactory(slug="charlie", name="Charlie")
    other.specialists.add(world["spec_a"])
    program_for(other)
    tier = Tier.objects.create(
        program=other.program, name="Charlie tier", position=1, cashback_percent=1,
        max_redemption_percent=1, spend_threshold=0,
    )  # fmt: skip
    return {
        "merchant": other,
        "tier": tier,
        "client": ClientFactory(merchant=other, phone="+79133000001"),
        "branch": BranchFactory(merchant=other, name="Charlie branch"),
    }


def client_form(person, **extra):
    data = {
        "merchant": person.merchant_id,
        "phone": person.phone,
        "full_name": person.full_name,
        "source": person.source,
        "gender": person.gender or "",
        "consent": "",
    }
    for prefix in ("purchases", "ledger_entries", "certificates", "referrals"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(extra)
    return data


def test_client_tier_of_another_merchant_is_refused(client, world, second):
    person = world["a"]["client"]
    client.force_login(world["spec_a"])
    url = reverse("admin:crm_client_change", args=[person.pk])
    form = client.get(url).context["adminform"].form
    data = {**{k: v for k, v in form.initial.items() if v is not None}, **client_form(person)}
    data = _formsets(client.get(url), data)
    data["tier"] = second["tier"].pk
    response = client.post(url, data)
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.tier_id != second["tier"].pk
    # The same form with the merchant's own tier saves.
    own = Tier.objects.filter(program__merchant=world["a"]["merchant"]).first()
    data["tier"] = own.pk
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    person.refresh_from_db()
    assert person.tier_id == own.pk


def _formsets(response, data):
    for formset in response.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data[f"{prefix}-TOTAL_FORMS"] = str(len(formset.formset.forms))
        data[f"{prefix}-INITIAL_FORMS"] = str(formset.formset.initial_form_count())
        for i, form in enumerate(formset.formset.forms):
            if form.instance.pk:
                data[f"{prefix}-{i}-id"] = form.instance.pk
                fk = formset.formset.fk.name
                data[f"{prefix}-{i}-{fk}"] = formset.formset.instance.pk
    return data


def test_review_of_another_merchants_client_is_refused(client, world, second):
    client.force_login(world["spec_a"])
    before = Review.objects.count()
    response = client.post(
        reverse("admin:crm_review_add"),
        {
            "merchant": world["a"]["merchant"].pk,
            "client": second["client"].pk,
            "platform": "app",
            "rating": "5",
            "text": "",
            "created_at_0": "2024-05-01",
            "created_at_1": "10:00",
        },
    )
    assert response.status_code == 200
    assert Review.objects.count() == before


def test_staff_branch_of_another_merchant_is_refused(client, world, second):
    client.force_login(world["spec_a"])
    before = StaffMember.objects.count()
    response = client.post(
        reverse("admin:onboarding_staffmember_add"),
        {
            "merchant": world["a"]["merchant"].pk,
            "full_name": "New cashier",
            "role": "cashier",
            "branch": second["branch"].pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert StaffMember.objects.count() == before
    assert not Client.objects.filter(full_name="New cashier").exists()
