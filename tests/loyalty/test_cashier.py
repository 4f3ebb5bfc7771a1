"""The cashier page: only the cashier's own merchant, client by phone (any spelling) or card,
caps shown, purchase confirmed once per request id, refunds from the purchase list."""

import uuid
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import translation

from crm.models import Client
from loyalty.models import Purchase, Refund
from loyalty.services.members import client_join
from onboarding.models import StaffMember
from tests.factories import ClientFactory, UserFactory, reference_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def sakura():
    merchant = reference_merchant("sakura")
    user = UserFactory(username="cashier-sakura", role="cashier")
    StaffMember.objects.create(
        merchant=merchant, user=user, full_name="Кассир Сакура", branch=merchant.branches.first()
    )
    return merchant


@pytest.fixture
def cashier(client, sakura):
    client.force_login(StaffMember.objects.get(full_name="Кассир Сакура").user)
    return client


@pytest.fixture
def member(sakura):
    person = ClientFactory(merchant=sakura, phone="+79130000001", card_code="SK-0001")
    client_join(merchant=sakura, client=person)  # 100 welcome
    return person


def purchase_data(member, **extra):
    data = {
        "client_id": member.pk,
        "request_id": str(uuid.uuid4()),
        "by_phone": "True",
        "amount": "1000",
        "excluded_amount": "0",
        "payment_type": "card",
        "points": "0",
        "certificate": "",
    }
    data.update(extra)
    return data


def test_only_own_merchant(client, sakura):
    url = reverse("loyalty:cashier", args=["sakura"])
    assert client.get(url).status_code == 302  # login first
    reference_merchant("zolotoff")
    client.force_login(StaffMember.objects.get(full_name="Кассир Сакура").user)
    assert client.get(url).status_code == 200
    assert client.get(reverse("loyalty:cashier", args=["zolotoff"])).status_code == 404
    assert client.get(reverse("loyalty:cashier", args=["no-such"])).status_code == 404


def test_owner_and_specialist_may_use_it_partner_not(client, sakura):
    owner, specialist, partner = (
        UserFactory(role="owner"),
        UserFactory(role="specialist"),
        UserFactory(role="partner"),
    )
    sakura.owners.add(owner)
    sakura.specialists.add(specialist)
    sakura.partner = partner
    sakura.save()
    url = reverse("loyalty:cashier", args=["sakura"])
    for user, status in ((owner, 200), (specialist, 200), (partner, 404), (UserFactory(), 404)):
        client.force_login(user)
        assert client.get(url).status_code == status, user


@pytest.mark.parametrize(
    "query", ["8 913 000-00-01", "+7 (913) 000 00 01", "9130000001", "SK-0001"]
)
def test_find_client_by_phone_or_card(cashier, member, query):
    response = cashier.get(reverse("loyalty:cashier", args=["sakura"]), {"q": query})
    body = response.content.decode()
    assert response.status_code == 200
    assert member.phone in body and 'id="balance">100<' in body  # balance, whole points
    assert "Новичок" in body and "3.00%" in body and "50.00%" in body  # tier, cashback, cap


def test_unknown_phone_offers_registration(cashier, sakura):
    response = cashier.get(reverse("loyalty:cashier", args=["sakura"]), {"q": "8 913 555 44 33"})
    assert "Register a new client" in response.content.decode()
    response = cashier.post(
        reverse("loyalty:cashier_register", args=["sakura"]),
        {"phone": "8 913 555 44 33", "full_name": "Новый"},
    )
    assert response.status_code == 302
    new = Client.objects.get(merchant=sakura, phone="+79135554433")
    assert new.balance == D(100) and new.joined_at is not None


def test_purchase_confirmed_once(cashier, sakura, member):
    url = reverse("loyalty:cashier_purchase", args=["sakura"])
    data = purchase_data(member, points="50")
    first = cashier.post(url, data)
    assert first.status_code == 302
    again = cashier.post(url, data)  # double submit of the same form
    assert again.status_code == 302
    purchase = Purchase.objects.get()
    staff = StaffMember.objects.get(full_name="Кассир Сакура")
    assert (purchase.cashier, purchase.branch, purchase.source, purchase.by_phone) == (
        staff,
        staff.branch,
        "cashier",
        True,
    )
    assert (purchase.points_redeemed, purchase.paid_money, purchase.points_accrued) == (
        D(50),
        D(950),
        D("28.50"),
    )
    member.refresh_from_db()
    assert member.balance == D("78.50")


def test_purchase_over_the_cap_refused_with_message(cashier, sakura, member):
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["sakura"]),
        purchase_data(member, amount="100", points="60"),
    )
    assert response.status_code == 400
    assert "at most 50.00" in response.content.decode()
    assert not Purchase.objects.exists()


def test_purchase_for_another_merchants_client_refused(cashier, sakura):
    stranger = ClientFactory(merchant=reference_merchant("zolotoff"))
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["sakura"]), purchase_data(stranger)
    )
    assert response.status_code == 404 and not Purchase.objects.exists()


def test_refund_from_purchase_list(cashier, sakura, member, django_assert_max_num_queries):
    cashier.post(reverse("loyalty:cashier_purchase", args=["sakura"]), purchase_data(member))
    purchase = Purchase.objects.get()
    for _n in range(3):
        cashier.post(reverse("loyalty:cashier_purchase", args=["sakura"]), purchase_data(member))
    with django_assert_max_num_queries(12):
        listing = cashier.get(reverse("loyalty:cashier_purchases", args=["sakura"]))
    assert (
        reverse("loyalty:cashier_refund", args=["sakura", purchase.pk]) in listing.content.decode()
    )
    url = reverse("loyalty:cashier_refund", args=["sakura", purchase.pk])
    assert cashier.get(url).status_code == 200
    too_much = cashier.post(url, {"amount": "1000.01", "request_id": str(uuid.uuid4())})
    assert too_much.status_code == 400 and not Refund.objects.exists()
    request_id = str(uuid.uuid4())
    assert cashier.post(url, {"amount": "400", "request_id": request_id}).status_code == 302
    assert cashier.post(url, {"amount": "400", "request_id": request_id}).status_code == 302
    purchase.refresh_from_db()
    assert purchase.refunded_amount == D(400) and Refund.objects.count() == 1
    assert Refund.objects.get().created_by.username == "cashier-sakura"


def test_refund_of_another_merchants_purchase_is_404(cashier, sakura):
    other = reference_merchant("zolotoff")
    from loyalty.services.purchases import purchase_record

    foreign = purchase_record(
        merchant=other, client=None, amount=D(10), payment_type="cash", source="api"
    ).purchase
    url = reverse("loyalty:cashier_refund", args=["sakura", foreign.pk])
    assert cashier.get(url).status_code == 404
