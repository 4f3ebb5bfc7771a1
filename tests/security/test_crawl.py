"""Crawl every admin page (changelist, add, change of one object per model, custom pages)
and the site pages as each role; none may answer 5xx."""

import contextlib

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from loyalty.models import Campaign
from onboarding.checklists import template_apply
from onboarding.models import StaffMember
from onboarding.training import modules_install_standard, quiz_link_for
from tests.factories import BranchFactory, ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

CUSTOM = [
    ("admin:index", []),
    ("admin:onboarding_progress", []),
    ("admin:onboarding_training_matrix", []),
    ("admin:onboarding_staff_bonus", []),
    ("admin:onboarding_trainingmodule_install_standard", []),
    ("admin:crm_client_import", []),
    ("admin:loyalty_campaign_segment_gift", []),
]


@pytest.fixture
def world(program, standard_checklist):
    merchant = program.merchant
    BranchFactory(merchant=merchant)
    ClientFactory(merchant=merchant, imported=True)
    Campaign.objects.create(
        merchant=merchant, kind="birthday", name="ДР", reward_form="points", reward_points=100,
        days_before=3,
    )  # fmt: skip
    template_apply(merchant=merchant, template=standard_checklist)
    modules_install_standard(merchant=merchant)
    specialist = UserFactory(username="crawl-spec", role="specialist")
    partner = UserFactory(username="crawl-partner", role="partner")
    owner = UserFactory(username="crawl-owner", role="owner")
    cashier = UserFactory(username="crawl-cashier", role="cashier")
    superuser = UserFactory(username="crawl-root", is_superuser=True, is_staff=True)
    merchant.specialists.add(specialist)
    merchant.owners.add(owner)
    merchant.partner = partner
    merchant.save()
    staff = StaffMember.objects.create(merchant=merchant, full_name="Кассир", user=cashier)
    quiz_link_for(staff=staff)
    MerchantFactory()  # somebody else's
    return merchant, [superuser, specialist, partner, owner, cashier]


def _admin_urls(merchant):
    urls = []
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(f"{prefix}_add"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{prefix}_change", args=[obj.pk]))
    urls += [reverse(name, args=args) for name, args in CUSTOM]
    urls.append(reverse("admin:onboarding_merchant_people", args=[merchant.pk]))
    urls.append(reverse("admin:crm_client_import") + f"?merchant={merchant.pk}")
    urls.append(reverse("admin:onboarding_merchant_change", args=[merchant.pk]) + "?x=%ff")
    return urls


def _site_urls(merchant):
    return [
        "/",
        reverse("reports:portfolio"),
        reverse("reports:dashboard", args=[merchant.slug]),
        reverse("reports:case_study", args=[merchant.slug]),
        reverse("loyalty:cashier", args=[merchant.slug]),
        reverse("loyalty:cashier_purchases", args=[merchant.slug]),
    ]


def test_no_page_answers_5xx_for_any_role(client, world):
    merchant, users = world
    urls = _admin_urls(merchant) + _site_urls(merchant)
    failures = []
    for user in users:
        client.force_login(user)
        for url in urls:
            status = client.get(url).status_code
            if status >= 500:
                failures.append((user.username, url, status))
    assert failures == []
    assert len(urls) > 40
