"""A Novokuznetsk merchant (UTC+7) with a sale at 13:16 UTC, its people and a superuser; pages
are read in Russian (the product's default) unless a test switches to English."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.conf import settings
from django.utils import translation

from loyalty.models import PaymentType, PurchaseSource
from loyalty.program import TierSpec, program_configure
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from tests.factories import (
    BranchFactory,
    ClientFactory,
    MerchantFactory,
    StaffMemberFactory,
    UserFactory,
)

SALE_AT = dt.datetime(2025, 3, 14, 13, 16, tzinfo=dt.UTC)  # 20:16 in Novokuznetsk


@pytest.fixture(autouse=True)
def language_reset():
    """Russian requests activate Russian in this thread (LocaleMiddleware); the tests after
    these ones assert English messages, so the suite's language comes back after each test.
    (Activated, not deactivated: Django's fallback catalogue was built at start-up from the
    project's default, Russian.)"""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def zerno(db):
    merchant = MerchantFactory(
        name="Кофейня Зерно",
        slug="zerno",
        city="Новокузнецк",
        time_zone="Asia/Novokuznetsk",
        currency="RUB",
        launch_date=dt.date(2025, 1, 10),
    )
    program_configure(
        merchant=merchant,
        tiers=[TierSpec("Base", D(5), D(20), D(0))],
        welcome_points=D(100),
    )
    branch = BranchFactory(merchant=merchant, name="Кирова, 5")
    cashier_user = UserFactory(username="zerno-cashier", role="cashier")
    staff = StaffMemberFactory(
        merchant=merchant, full_name="Анна Кассир", branch=branch, user=cashier_user
    )
    client = ClientFactory(merchant=merchant, phone="+79131110001", full_name="Пётр")
    client_join(merchant=merchant, client=client)
    sale = purchase_record(
        merchant=merchant,
        client=client,
        amount=D("6362191.46"),
        payment_type=PaymentType.CARD,
        occurred_at=SALE_AT,
        branch=branch,
        cashier=staff,
        external_id="sale-2016",
        source=PurchaseSource.CASHIER,
    ).purchase
    specialist = UserFactory(username="zerno-spec", role="specialist")
    merchant.specialists.add(specialist)
    owner = UserFactory(username="zerno-owner", role="owner")
    merchant.owners.add(owner)
    root = UserFactory(username="root")
    root.is_superuser = root.is_staff = True
    root.save()
    return {
        "merchant": merchant,
        "branch": branch,
        "staff": staff,
        "client": client,
        "sale": sale,
        "specialist": specialist,
        "owner": owner,
        "cashier": cashier_user,
        "root": root,
    }


def ru_get(client, url, **params):
    """GET a page as a Russian-speaking user (the language cookie the RU/EN switch sets)."""
    client.cookies["django_language"] = "ru"
    return client.get(url, params)
