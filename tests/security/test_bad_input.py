"""Malformed query strings and form values give a message or are ignored — never a 500 —
and ids of another merchant's records in a form are refused."""

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Purchase, Refund

pytestmark = pytest.mark.django_db

BAD_VALUES = ["abc", "²", "-1", "0", "9" * 30, "1e9", "", " ", "1;DROP", "%00", "١٢"]
BAD_DATES = ["2024-13-01", "0001-01-01", "9999-12-31", "20240101x", "²⁰²⁴-01-01", "-1"]


@pytest.fixture
def owner(client, world):
    client.force_login(world["owner_a"])
    return client


@pytest.mark.parametrize("value", BAD_VALUES)
def test_dashboard_ignores_bad_branch(owner, value):
    response = owner.get(reverse("reports:dashboard", args=["alpha"]), {"branch": value})
    assert response.status_code == 200
    response = owner.get(reverse("reports:dashboard_xlsx", args=["alpha"]), {"branch": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", BAD_DATES)
def test_dashboard_ignores_bad_dates(owner, value):
    for key in ("start", "end"):
        response = owner.get(reverse("reports:dashboard", args=["alpha"]), {key: value})
        assert response.status_code == 200, (key, value)
    response = owner.get(
        reverse("reports:dashboard_xlsx", args=["alpha"]), {"start": value, "end": value}
    )
    assert response.status_code == 200


def test_dashboard_refuses_other_merchants_branch(owner, world):
    response = owner.get(
        reverse("reports:dashboard", args=["alpha"]), {"branch": world["b"]["branch"].pk}
    )
    assert response.status_code == 200
    assert "Unknown branch" in response.content.decode()
    assert "Bravo" not in response.content.decode()


@pytest.mark.parametrize("value", ["bogus", "-name", "__class__", "", "benefit", "x" * 500])
def test_portfolio_sort_keys(client, world, value):
    client.force_login(world["spec_a"])
    response = client.get(reverse("reports:portfolio"), {"sort": value, "dir": "desc"})
    assert response.status_code == 200


def test_segment_export_unknown_segment_or_format(owner):
    for segment, fmt in [("nope", "csv"), ("champions", "exe"), ("champions", "CSV")]:
        url = reverse("reports:segment_export", args=["alpha", segment, fmt])
        assert owner.get(url).status_code == 404


@pytest.mark.parametrize("value", BAD_VALUES)
def test_admin_pages_ignore_bad_merchant_param(client, world, value):
    client.force_login(world["spec_a"])
    for name in ("onboarding_training_matrix", "onboarding_staff_bonus"):
        response = client.get(reverse(f"admin:{name}"), {"merchant": value})
        assert response.status_code == 200, (name, value)
    response = client.get(reverse("admin:onboarding_progress"), {"o": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", BAD_DATES)
def test_bonus_page_ignores_bad_period(client, world, value):
    client.force_login(world["spec_a"])
    url = reverse("admin:onboarding_staff_bonus")
    for export in ("", "csv", "xlsx"):
        response = client.get(url, {"period": value, "export": export})
        assert response.status_code == 200, (value, export)
    response = client.post(url, {"period": value, "merchant": world["a"]["merchant"].pk})
    assert response.status_code in (200, 302)


def test_custom_admin_pages_never_show_other_merchant(client, world):
    client.force_login(world["spec_a"])
    b = world["b"]["merchant"]
    for name in ("onboarding_training_matrix", "onboarding_staff_bonus"):
        body = client.get(reverse(f"admin:{name}"), {"merchant": b.pk}).content.decode()
        assert "Bravo" not in body, name
    body = client.get(reverse("admin:onboarding_progress")).content.decode()
    assert "Bravo" not in body
    # Closing merchant B's period by POST is refused (the page falls back to merchant A).
    client.post(reverse("admin:onboarding_staff_bonus"), {"merchant": b.pk, "period": "2024-01-01"})
    world["b"]["period"].refresh_from_db()
    assert world["b"]["period"].status == "open"


@pytest.mark.parametrize("merchant", ["hidden", "abc", "", "-1", "99999999"])
def test_closing_bonus_period_of_invisible_merchant_is_404(client, world, merchant):
    """A merchant id the user cannot see (or none at all) never falls back to a visible one."""
    from onboarding.models import BonusPeriod, QuizLink

    client.force_login(world["spec_a"])
    links = QuizLink.objects.count()
    value = world["b"]["merchant"].pk if merchant == "hidden" else merchant
    response = client.post(
        reverse("admin:onboarding_staff_bonus"), {"merchant": value, "period": "2024-01-01"}
    )
    assert response.status_code == 404
    assert not BonusPeriod.objects.filter(status=BonusPeriod.Status.CLOSED).exists()
    response = client.post(
        reverse("admin:onboarding_training_matrix"), {"merchant": value, "create_links": "1"}
    )
    assert response.status_code == 404
    assert QuizLink.objects.count() == links


def test_partner_cannot_close_bonus_period(client, world):
    client.force_login(world["partner_a"])
    response = client.post(
        reverse("admin:onboarding_staff_bonus"),
        {"merchant": world["a"]["merchant"].pk, "period": "2024-01-01"},
    )
    assert response.status_code == 403
    world["a"]["period"].refresh_from_db()
    assert world["a"]["period"].status == "open"


# --- The cashier page -------------------------------------------------------------------------


@pytest.fixture
def cashier(client, world):
    client.force_login(world["cashier_a"])
    return client


def purchase_data(client_id, **extra):
    data = {
        "client_id": client_id,
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


@pytest.mark.parametrize("value", ["abc", "²", "9" * 30, "-1", "1.5", ""])
def test_cashier_purchase_bad_client_id(cashier, world, value):
    before = Purchase.objects.count()
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["alpha"]), purchase_data(value)
    )
    assert response.status_code in (400, 404)
    assert Purchase.objects.count() == before


def test_cashier_purchase_for_other_merchants_client(cashier, world):
    before = Purchase.objects.count()
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["alpha"]),
        purchase_data(world["b"]["client"].pk),
    )
    assert response.status_code == 404
    assert Purchase.objects.count() == before


@pytest.mark.parametrize(
    "field,value",
    [
        ("amount", "-100"),
        ("amount", "1e400"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "999999999999999999"),
        ("amount", "abc"),
        ("points", "-5"),
        ("points", "1" * 20),
        ("excluded_amount", "5000"),
        ("payment_type", "bitcoin"),
        ("certificate", "abc"),
        ("request_id", "not-a-uuid"),
    ],
)
def test_cashier_purchase_bad_values(cashier, world, field, value):
    before = Purchase.objects.count()
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["alpha"]),
        purchase_data(world["a"]["client"].pk, **{field: value}),
    )
    assert response.status_code == 400
    assert Purchase.objects.count() == before


def test_cashier_cannot_use_other_merchants_certificate(cashier, world):
    from tests.factories import CertificateFactory

    theirs = CertificateFactory(client=world["b"]["client"])
    before = Purchase.objects.count()
    response = cashier.post(
        reverse("loyalty:cashier_purchase", args=["alpha"]),
        purchase_data(world["a"]["client"].pk, certificate=str(theirs.pk)),
    )
    assert response.status_code == 400
    assert Purchase.objects.count() == before
    theirs.refresh_from_db()
    assert theirs.status == "active"


@pytest.mark.parametrize("q", ["x" * 500, "²²²", "+", "'; --", "%", "0" * 64])
def test_cashier_search_bad_query(cashier, q):
    response = cashier.get(reverse("loyalty:cashier", args=["alpha"]), {"q": q})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "data",
    [
        {"phone": "abc"},
        {"phone": "+7913" + "9" * 40},
        {"phone": "+79135550000", "referrer_phone": "garbage"},
        {"phone": "+79135550000", "referrer_phone": "+79132000001"},  # merchant B's client
        {},
    ],
)
def test_cashier_register_bad_values(cashier, world, data):
    from crm.models import Client

    before = Client.objects.filter(merchant=world["a"]["merchant"]).count()
    response = cashier.post(reverse("loyalty:cashier_register", args=["alpha"]), data)
    assert response.status_code == 302
    assert Client.objects.filter(merchant=world["a"]["merchant"]).count() == before


def test_refund_of_other_merchants_purchase(cashier, world):
    theirs = world["b"]["purchase"]
    url = reverse("loyalty:cashier_refund", args=["alpha", theirs.pk])
    assert cashier.get(url).status_code == 404
    response = cashier.post(url, {"amount": "10", "request_id": str(uuid.uuid4())})
    assert response.status_code == 404
    # Through merchant B's own URL the cashier of A is refused too.
    url = reverse("loyalty:cashier_refund", args=["bravo", theirs.pk])
    assert cashier.post(url, {"amount": "10", "request_id": str(uuid.uuid4())}).status_code == 404
    assert not Refund.objects.filter(purchase=theirs).exists()


@pytest.mark.parametrize("amount", ["-10", "0", "abc", "1e400", "NaN", "100000", "1000.001"])
def test_refund_bad_amounts(cashier, world, amount):
    mine = world["a"]["purchase"]
    url = reverse("loyalty:cashier_refund", args=["alpha", mine.pk])
    response = cashier.post(url, {"amount": amount, "request_id": str(uuid.uuid4())})
    assert response.status_code == 400
    assert not Refund.objects.filter(purchase=mine).exists()


def test_cashier_sees_only_own_cashier_page(cashier, world):
    assert cashier.get(reverse("loyalty:cashier", args=["alpha"])).status_code == 200
    assert cashier.get(reverse("loyalty:cashier", args=["bravo"])).status_code == 404
    assert cashier.get(reverse("loyalty:cashier_purchases", args=["bravo"])).status_code == 404
    assert cashier.get(reverse("reports:dashboard", args=["alpha"])).status_code == 404
    assert cashier.get(reverse("reports:dashboard", args=["bravo"])).status_code == 404
    assert cashier.get(reverse("reports:case_study", args=["alpha"])).status_code == 404
    body = cashier.get(reverse("reports:portfolio")).content.decode()
    assert "Alpha" not in body and "Bravo" not in body


def test_owner_sees_only_own_merchants(owner, world):
    assert owner.get(reverse("reports:dashboard", args=["alpha"])).status_code == 200
    for name in ("reports:dashboard", "reports:dashboard_xlsx", "reports:case_study"):
        assert owner.get(reverse(name, args=["bravo"])).status_code == 404, name
    url = reverse("reports:segment_export", args=["bravo", "champions", "csv"])
    assert owner.get(url).status_code == 404
    assert owner.get(reverse("loyalty:cashier", args=["bravo"])).status_code == 404


def test_partner_has_no_cashier_page(client, world):
    client.force_login(world["partner_a"])
    assert client.get(reverse("loyalty:cashier", args=["alpha"])).status_code == 404
    assert client.get(reverse("reports:dashboard", args=["alpha"])).status_code == 200
    assert client.get(reverse("reports:dashboard", args=["bravo"])).status_code == 404


def test_deactivated_cashier_loses_the_page(client, world):
    staff = world["a"]["staff"]
    staff.is_active = False
    staff.save()
    client.force_login(world["cashier_a"])
    assert client.get(reverse("loyalty:cashier", args=["alpha"])).status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 300, "%2e%2e", "²"])
def test_quiz_unknown_token(client, token):
    assert client.get(f"/quiz/{token}/").status_code == 404


def test_quiz_token_opens_only_its_staff_members_quizzes(client, world):
    from onboarding.models import Attestation
    from onboarding.training import quiz_link_for

    a, b = world["a"], world["b"]
    token = quiz_link_for(staff=a["staff"]).token
    assert client.get(reverse("onboarding:quiz_home", args=[token])).status_code == 200
    url = reverse("onboarding:quiz_take", args=[token, b["module"].pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
    theirs = Attestation.objects.create(
        merchant=b["merchant"], staff=b["staff"], module=b["module"], attempt=1,
        correct_count=1, question_count=1, score_percent=100, pass_threshold_percent=80,
        passed=True, taken_at=timezone.now(),
    )  # fmt: skip
    url = reverse("onboarding:quiz_result", args=[token, theirs.pk])
    assert client.get(url).status_code == 404
    # A deactivated staff member's link stops working.
    a["staff"].is_active = False
    a["staff"].save()
    assert client.get(reverse("onboarding:quiz_home", args=[token])).status_code == 404
