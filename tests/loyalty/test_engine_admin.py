"""Admin for the engine's records: read-only lists scoped to the user's merchants, filters,
the manual adjustment (reason required, user logged) and the client-page displays."""

from decimal import Decimal as D

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import translation

from loyalty.admin_client import CLIENT_INLINES, ClientLoyaltyAdminMixin
from loyalty.models import LedgerEntry, LedgerKind
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from loyalty.services.refunds import refund_record
from tests.factories import (
    BranchFactory,
    CertificateFactory,
    ClientFactory,
    StaffMemberFactory,
    UserFactory,
    reference_merchant,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    mine, other = reference_merchant("zolotoff"), reference_merchant("rustore")
    specialist = UserFactory(role="specialist")
    mine.specialists.add(specialist)
    partner = UserFactory(role="partner")
    mine.partner = partner
    mine.save()
    branch = BranchFactory(merchant=mine, name="Филиал-А")
    cashier = StaffMemberFactory(merchant=mine, full_name="Кассир Анна", branch=branch)
    buyer = ClientFactory(merchant=mine)
    client_join(merchant=mine, client=buyer)
    sale = purchase_record(
        merchant=mine,
        client=buyer,
        amount=D(10000),
        payment_type="card",
        source="cashier",
        branch=branch,
        cashier=cashier,
    ).purchase
    refund_record(merchant=mine, purchase=sale, amount=D(1000))
    CertificateFactory(client=buyer)
    stranger = ClientFactory(merchant=other)
    BranchFactory(merchant=other, name="Чужой филиал")
    purchase_record(
        merchant=other, client=stranger, amount=D(777), payment_type="cash", source="cashier"
    )
    return {
        "mine": mine,
        "other": other,
        "specialist": specialist,
        "partner": partner,
        "buyer": buyer,
        "stranger": stranger,
        "branch": branch,
    }


@pytest.mark.parametrize("model", ["purchase", "ledgerentry", "refund", "certificate", "posevent"])
def test_lists_are_scoped_and_read_only(client, world, model):
    client.force_login(world["specialist"])
    url = reverse(f"admin:loyalty_{model}_changelist")
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "777" not in body and world["stranger"].phone not in body
    assert "Чужой филиал" not in body  # branch filter offers only visible branches
    assert client.get(reverse(f"admin:loyalty_{model}_add")).status_code == 403


def test_filters_by_date_branch_cashier_kind(client, world):
    client.force_login(world["specialist"])
    url = reverse("admin:loyalty_purchase_changelist")
    response = client.get(url, {"branch__id__exact": world["branch"].pk})
    assert response.status_code == 200 and "₽10,000.00" in response.content.decode()
    response = client.get(
        reverse("admin:loyalty_ledgerentry_changelist"), {"kind__exact": "welcome"}
    )
    assert response.status_code == 200 and "3,000" in response.content.decode()  # grouped
    response = client.get(url, {"occurred_at_from": "01.01.2000", "occurred_at_to": "01.01.2001"})
    assert response.status_code == 200
    body = client.get(url).content.decode()
    assert "Кассир Анна" in body and "Филиал-А" in body


def test_manual_adjustment_needs_reason_and_logs_user(client, world):
    buyer, specialist = world["buyer"], world["specialist"]
    client.force_login(specialist)
    url = reverse("admin:loyalty_ledgerentry_adjust", args=[buyer.pk])
    assert client.get(url).status_code == 200
    with translation.override("en"):
        response = client.post(url, {"points": "150", "reason": "   "}, HTTP_ACCEPT_LANGUAGE="en")
    assert (
        response.status_code == 200 and not LedgerEntry.objects.filter(kind="adjustment").exists()
    )
    response = client.post(url, {"points": "-99999", "reason": "typo"})
    assert (
        response.status_code == 200 and not LedgerEntry.objects.filter(kind="adjustment").exists()
    )
    response = client.post(url, {"points": "150", "reason": "Compensation for a lost check"})
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind=LedgerKind.ADJUSTMENT)
    assert (entry.points, entry.created_by, entry.reason) == (
        D(150),
        specialist,
        "Compensation for a lost check",
    )
    assert LogEntry.objects.filter(user=specialist, object_id=str(entry.pk)).exists()
    buyer.refresh_from_db()
    assert buyer.balance == D("3000") + D(300) - D(30) + D(150)


def test_adjustment_forbidden_for_partner_and_other_merchants(client, world):
    client.force_login(world["partner"])
    assert (
        client.get(
            reverse("admin:loyalty_ledgerentry_adjust", args=[world["buyer"].pk])
        ).status_code
        == 403
    )
    client.force_login(world["specialist"])
    url = reverse("admin:loyalty_ledgerentry_adjust", args=[world["stranger"].pk])
    assert client.post(url, {"points": "5", "reason": "x"}).status_code == 404
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_client_page_displays(world):
    mine = world["mine"]
    root = ClientFactory(merchant=mine, full_name="Корень")
    middle = ClientFactory(merchant=mine, referred_by=root, full_name="Середина")
    buyer = world["buyer"]
    buyer.referred_by = middle
    buyer.save()
    ClientFactory(merchant=mine, referred_by=buyer, full_name="Приглашённый")
    mixin = ClientLoyaltyAdminMixin()
    with translation.override("en"):
        summary = mixin.loyalty_summary(buyer)
        up = mixin.referral_chain_up(buyer)
        down = mixin.referral_tree_down(root)
    assert str(buyer.balance) in summary and "Украшаем мир красотой" in summary
    assert "Середина" in up and "Корень" in up and up.index("Середина") < up.index("Корень")
    assert "level 1: 1" in down and "level 2: 1" in down and "level 3: 1" in down
    assert "Приглашённый" in down
    assert reverse("admin:loyalty_ledgerentry_adjust", args=[buyer.pk]) in mixin.adjust_points(
        buyer
    )
    assert {i.model.__name__ for i in CLIENT_INLINES} == {
        "Purchase",
        "LedgerEntry",
        "Certificate",
        "Client",
    }


def test_client_change_page_renders_with_the_mixin(rf, world):
    from django.contrib import admin
    from django.contrib.admin import AdminSite

    from crm.models import Client
    from loyalty.admin_client import LoyaltyClientAdmin

    # loyalty registers its extension of crm's client admin in crm's place
    assert type(admin.site._registry[Client]) is LoyaltyClientAdmin
    assert issubclass(LoyaltyClientAdmin, ClientLoyaltyAdminMixin)
    assert all(inline in LoyaltyClientAdmin.inlines for inline in CLIENT_INLINES)
    site = AdminSite(name="admin")
    model_admin = LoyaltyClientAdmin(Client, site)
    request = rf.get("/")
    request.user = world["specialist"]
    request.session = {}
    from django.contrib.messages.storage.fallback import FallbackStorage

    request._messages = FallbackStorage(request)
    response = model_admin.change_view(request, str(world["buyer"].pk))
    response.render()
    body = response.content.decode()
    assert response.status_code == 200
    assert "10000" in body and "3000" in body  # purchases and ledger inlines
    assert reverse("admin:loyalty_ledgerentry_adjust", args=[world["buyer"].pk]) in body
