"""The busiest list pages do not issue a query per row: the count is the same with 3 rows as
with 9 (and under a fixed ceiling)."""

import uuid
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.models import PaymentType, PurchaseSource
from loyalty.services.adjustments import points_adjust
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from tests.factories import ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def add_rows(world, n):
    a = world["a"]
    for _i in range(n):
        person = ClientFactory(merchant=a["merchant"])
        client_join(merchant=a["merchant"], client=person)
        purchase_record(
            merchant=a["merchant"],
            client=person,
            amount=D(500),
            payment_type=PaymentType.CARD,
            branch=a["branch"],
            cashier=a["staff"],
            external_id=f"q-{uuid.uuid4()}",
            source=PurchaseSource.CASHIER,
        )
        points_adjust(
            merchant=a["merchant"], client=person, points=D(5), reason="test", user=world["spec_a"]
        )
        merchant = MerchantFactory()
        merchant.specialists.add(world["spec_a"])


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


PAGES = [
    ("admin:crm_client_changelist", 16),
    ("admin:loyalty_purchase_changelist", 16),
    ("admin:loyalty_ledgerentry_changelist", 16),
    ("admin:onboarding_merchant_changelist", 16),
    ("admin:loyalty_certificate_changelist", 16),
    ("admin:loyalty_campaign_changelist", 16),
    ("admin:onboarding_staffmember_changelist", 16),
    ("admin:crm_importbatch_changelist", 16),
    # + a fixed 15 for the checklist facts (POS readiness included) and time to value
    # (onboarding.facts.facts_for)
    ("admin:onboarding_progress", 28),
]


@pytest.mark.parametrize("name,ceiling", PAGES)
def test_admin_list_pages_do_not_grow_with_rows(client, world, name, ceiling):
    client.force_login(world["spec_a"])
    url = reverse(name)
    add_rows(world, 3)
    count(client, url)  # warm caches (content types, sessions)
    few = count(client, url)
    add_rows(world, 6)
    many = count(client, url)
    assert many == few, (name, few, many)
    assert many <= ceiling, (name, many)


def test_owner_pages_do_not_grow_with_rows(client, world):
    client.force_login(world["spec_a"])
    add_rows(world, 2)
    urls = [
        reverse("reports:dashboard", args=["alpha"]),
        reverse("loyalty:cashier_purchases", args=["alpha"]),
    ]
    few = [count(client, url) for url in urls]
    add_rows(world, 6)
    many = [count(client, url) for url in urls]
    assert many == few, (few, many)


def test_portfolio_queries_grow_only_per_merchant(client, world, django_assert_max_num_queries):
    """One summary row per merchant is a handful of aggregates each; it must not depend on
    the number of clients or purchases."""
    client.force_login(world["spec_a"])
    url = reverse("reports:portfolio")
    add_rows(world, 1)
    first = count(client, url)
    a = world["a"]
    for _i in range(5):
        person = ClientFactory(merchant=a["merchant"])
        client_join(merchant=a["merchant"], client=person)
    assert count(client, url) == first


def test_client_page_does_not_grow_with_history(client, world):
    """The client page (loyalty summary, referral chain, purchases/ledger inlines)."""
    a = world["a"]
    person = a["client"]
    client.force_login(world["spec_a"])
    url = reverse("admin:crm_client_change", args=[person.pk])

    def buy(n):
        for _i in range(n):
            purchase_record(
                merchant=a["merchant"],
                client=person,
                amount=D(100),
                payment_type=PaymentType.CARD,
                external_id=f"h-{uuid.uuid4()}",
                source=PurchaseSource.CASHIER,
            )
            friend = ClientFactory(merchant=a["merchant"], referred_by=person)
            client_join(merchant=a["merchant"], client=friend)

    buy(2)
    count(client, url)
    few = count(client, url)
    buy(6)
    assert count(client, url) == few
