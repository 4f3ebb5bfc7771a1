"""docs/extending.md, proven: each test adds a toy one by the recipe's steps and shows it
working end to end."""

import json
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.campaigns.delivery import DeliveryBackend, outbox_deliver
from loyalty.campaigns.run import (
    campaign_rule_register,
    campaign_rule_unregister,
    campaigns_run_day,
)
from loyalty.models import CampaignIssuance, LedgerEntry, LedgerKind, OutboxMessage, Purchase
from loyalty.pos.adapters import PosAdapter, pos_adapter_register, pos_adapter_unregister
from loyalty.pos.common import Unauthorized, money
from loyalty.pos.receipt import CARD, SALE, Receipt
from loyalty.services.lines import LineInput
from loyalty.sources import PurchaseSource
from onboarding.models import Merchant
from reports.metrics import point_b
from reports.registry import metric_register, metric_unregister
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db
DAY = date(2025, 3, 2)


# ── A new campaign kind ───────────────────────────────────────────────────────────────


def toy_candidates(*, campaign, day):
    """Step 2: the rule — every member with a phone ending in 7, once per month."""
    rows = campaign.merchant.clients.filter(phone__endswith="7").values_list("pk", flat=True)
    return [(pk, f"{day:%Y-%m}") for pk in rows]


@pytest.fixture
def toy_kind():
    campaign_rule_register("toy", toy_candidates)  # step 3
    yield "toy"
    campaign_rule_unregister("toy")


def test_a_toy_campaign_kind_issues_in_the_daily_run(toy_kind):
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind=toy_kind, reward_points=Decimal(50), channel="inbox")
    lucky = MemberFactory(merchant=merchant, phone="+79130000007")
    MemberFactory(merchant=merchant, phone="+79130000001")
    report = campaigns_run_day(merchant=merchant, day=DAY)
    assert report.issued == 1
    issuance = CampaignIssuance.objects.get()
    assert (issuance.client_id, issuance.period_key) == (lucky.pk, "2025-03")
    assert OutboxMessage.objects.get().client_id == lucky.pk
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 0  # idempotent


# ── A new POS ─────────────────────────────────────────────────────────────────────────


def toy_authenticate(request) -> Merchant:
    """Step 1a: who is calling (the merchant's slug as its key, for the toy)."""
    merchant = Merchant.objects.filter(slug=request.headers.get("X-Toy-Key", "")).first()
    if merchant is None:
        raise Unauthorized("unknown key")
    return merchant


def toy_parse(*, merchant, payload) -> Receipt:
    """Step 1b: the payload as a receipt."""
    amount = money(payload["total"])
    return Receipt(
        source=PurchaseSource.API,
        kind=SALE,
        external_id=f"toy:{payload['id']}",
        occurred_at=datetime.combine(DAY, time(12), tzinfo=merchant.tzinfo),
        lines=[LineInput(amount=amount)],
        payments={CARD: amount},
        phone=payload.get("phone"),
    )


@pytest.fixture
def toy_pos():
    pos_adapter_register(PosAdapter("toy", toy_authenticate, toy_parse))  # step 2
    yield "toy"
    pos_adapter_unregister("toy")


def test_a_toy_pos_records_a_purchase_through_the_engine(client, program, toy_pos):
    merchant = program.merchant
    member = MemberFactory(merchant=merchant, phone="+79130000042")
    url = reverse("loyalty:pos_adapter", args=[toy_pos])
    body = json.dumps({"id": "1", "total": "1000.00", "phone": "+79130000042"})
    answer = client.post(url, body, content_type="application/json", HTTP_X_TOY_KEY=merchant.slug)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    purchase = Purchase.objects.get(merchant=merchant, external_id="toy:1")
    assert purchase.client_id == member.pk and purchase.amount == Decimal("1000.00")
    # The engine applied the program: 3% of 1000 accrued to the member's ledger.
    accrual = LedgerEntry.objects.get(purchase=purchase, kind=LedgerKind.ACCRUAL)
    assert (accrual.client_id, accrual.points) == (member.pk, Decimal("30.00"))
    repeat = client.post(url, body, content_type="application/json", HTTP_X_TOY_KEY=merchant.slug)
    assert repeat.json()["status"] == "duplicate"
    assert client.post(url, body, content_type="application/json").status_code == 401
    assert Purchase.objects.filter(merchant=merchant).count() == 1


# ── A new metric ──────────────────────────────────────────────────────────────────────


def toy_members_with_email(*, merchant, period):
    """Step 1: the figure."""
    return merchant.clients.filter(joined_at__isnull=False).exclude(email="").count()


@pytest.fixture
def toy_metric():
    metric_register("members_with_email", "Members with e-mail", toy_members_with_email)  # 2
    yield "members_with_email"
    metric_unregister("members_with_email")


def test_a_toy_metric_appears_in_point_b_and_on_the_dashboard(client, toy_metric):
    merchant = MerchantFactory()
    MemberFactory(merchant=merchant, email="a@example.com")
    MemberFactory(merchant=merchant, email="")
    figure = point_b(merchant=merchant).extra[0]
    assert (figure.key, figure.label, figure.value) == (toy_metric, "Members with e-mail", 1)
    owner = UserFactory(username="owner-toy", role="owner")
    merchant.owners.add(owner)
    client.force_login(owner)
    html = client.get(reverse("reports:dashboard", args=[merchant.slug])).content.decode()
    assert f'data-metric="{toy_metric}"' in html and "Members with e-mail" in html


# ── A new delivery channel ────────────────────────────────────────────────────────────

TOY_SENT: list[tuple[str, str]] = []


class ToyBackend(DeliveryBackend):
    """Step 1: the backend."""

    def send(self, message):
        TOY_SENT.append((message.recipient, message.body))
        message.provider_message_id = f"toy-{len(TOY_SENT)}"


def test_a_toy_channel_delivers_an_outbox_message(settings):
    settings.LOYALTY_DELIVERY_BACKENDS = {"toy": f"{__name__}.ToyBackend"}  # step 2
    TOY_SENT.clear()
    merchant = MerchantFactory(name="Toy shop")
    CampaignFactory(merchant=merchant, kind="birthday", days_before=0, channel="toy")
    MemberFactory(merchant=merchant, phone="+79130000099", birthday=date(1990, 3, 2))
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 1
    message = OutboxMessage.objects.get()
    assert message.channel == "toy"
    assert outbox_deliver(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "toy-1")
    assert TOY_SENT[0][0] == "+79130000099" and "Toy shop" in TOY_SENT[0][1]
