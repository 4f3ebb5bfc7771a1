"""Refunds reverse proportionally what the purchase did (000's numbers), never exceed it,
never take a balance below zero, and POS refunds before their sale wait instead of failing."""

from decimal import Decimal as D

import pytest

from crm.models import Client
from loyalty.models import Certificate, LedgerKind, Purchase, Refund
from loyalty.pos.models import PendingRefund
from loyalty.services.adjustments import points_adjust
from loyalty.services.errors import LoyaltyError, RefundError
from loyalty.services.members import client_join
from loyalty.services.pos_refunds import refund_or_pending
from loyalty.services.purchases import purchase_record
from loyalty.services.refunds import refund_record
from tests.factories import CertificateFactory, ClientFactory, UserFactory, reference_merchant
from tests.loyalty.test_engine import assert_ledger_exact, buy, chain

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in their English source form."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def zolotoff():
    return reference_merchant("zolotoff")


def bal(*clients):
    return tuple(Client.objects.get(pk=c.pk).balance for c in clients)


def test_000_partial_then_full_refund_reverses_everything(zolotoff):
    a, b, c, d = chain(zolotoff, 3)
    client_join(merchant=zolotoff, client=d)  # 3 000 welcome
    sale = buy(zolotoff, d, "10000", points_to_redeem=D(500)).purchase  # cap 5% = 500
    assert (sale.paid_money, sale.points_accrued) == (D(9500), D(285))
    # c: 500 bonus + 5% of the 10 000 check; b: 2%; a: 1% (the seeds: "of the check")
    assert bal(d, c, b, a) == (D(2785), D(1000), D(200), D(100))

    part = refund_record(merchant=zolotoff, purchase=sale, amount=D(4000), external_id="r1")
    assert (part.points_returned, part.points_reversed, part.referral_reversed) == (
        D(200),
        D("114.00"),
        D("320.00"),  # 200 + 80 + 40; the one-time bonus stays until a full refund
    )
    assert bal(d, c, b, a) == (D(2871), D(800), D(120), D(60))
    sale.refresh_from_db()
    assert sale.refunded_amount == D(4000)

    with pytest.raises(RefundError, match="6000"):
        refund_record(merchant=zolotoff, purchase=sale, amount=D("6000.01"))

    refund_record(merchant=zolotoff, purchase=sale, amount=D(6000), external_id="r2")
    assert bal(d, c, b, a) == (D(3000), D(0), D(0), D(0))
    d.refresh_from_db()
    assert d.total_spent == 0 and d.purchases_count == 1
    assert_ledger_exact(zolotoff)


def test_refund_repeat_is_idempotent(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    sale = buy(zolotoff, client, "1000").purchase
    first = refund_record(merchant=zolotoff, purchase=sale, amount=D(500), external_id="ret-1")
    again = refund_record(merchant=zolotoff, purchase=sale, amount=D(500), external_id="ret-1")
    assert first.created and again.duplicate and again.refund.pk == first.refund.pk
    assert Refund.objects.count() == 1
    sale.refresh_from_db()
    assert sale.refunded_amount == D(500)


def test_refund_never_takes_balance_below_zero(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    sale = buy(zolotoff, client, "10000").purchase  # +300
    points_adjust(merchant=zolotoff, client=client, points=D(-250), reason="spent", user=None)
    result = refund_record(merchant=zolotoff, purchase=sale, amount=D(10000))
    assert result.written_off == D(250) and result.points_reversed == D(50)
    assert bal(client) == (D(0),)
    entry = result.refund.ledger_entries.get()
    assert "250" in entry.reason
    assert_ledger_exact(zolotoff)


def test_refund_validation(zolotoff):
    other = reference_merchant("rustore")
    client = ClientFactory(merchant=zolotoff)
    sale = buy(zolotoff, client, "1000").purchase
    with pytest.raises(RefundError):
        refund_record(merchant=other, purchase=sale, amount=D(1))
    with pytest.raises(RefundError):
        refund_record(merchant=zolotoff, purchase=sale, amount=D(0))
    assert not Refund.objects.exists()


def test_certificate_use_returned(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    cert = CertificateFactory(client=client, points=D(1500), redemption_cap_percent=D(20))
    sale = buy(zolotoff, client, "5000", certificate=cert).purchase  # certificate pays 1 000
    refund_record(merchant=zolotoff, purchase=sale, amount=D(2500))  # half back
    assert Certificate.objects.count() == 1  # back onto the same certificate
    cert.refresh_from_db()
    assert (cert.used_points, cert.status) == (D(500), Certificate.Status.ACTIVE)

    sale2 = buy(zolotoff, client, "5000", certificate=cert).purchase  # pays its cap, 1 000
    assert sale2.certificate_redeemed == D(1000)
    cert.refresh_from_db()
    assert cert.used_points == D(1500) and cert.status == Certificate.Status.REDEEMED
    refund_record(merchant=zolotoff, purchase=sale2, amount=D(5000))  # whole at once
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.ACTIVE and cert.used_points == D(500)


def test_refund_corrects_the_tier_its_purchase_reached(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    sale = buy(zolotoff, client, "40000").purchase
    client.refresh_from_db()
    assert client.tier.position == 2
    buy(zolotoff, client, "100")  # spend alone never lowers a tier (tiers_can_fall is off)
    refund_record(merchant=zolotoff, purchase=sale, amount=D(20000))
    client.refresh_from_db()
    # A refund corrects what the purchase's spend reached: not a fall (issue 12, item 2).
    assert client.tier.position == 1 and client.total_spent == D(20100)


def test_pos_refund_before_its_sale_waits(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    early = refund_or_pending(
        merchant=zolotoff, base_external_id="sale-1", external_id="ret-1", amount=D(400)
    )
    assert early.pending and early.refund is None
    assert PendingRefund.objects.filter(applied_at__isnull=True).count() == 1
    again = refund_or_pending(
        merchant=zolotoff, base_external_id="sale-1", external_id="ret-1", amount=D(400)
    )
    assert again.pending and PendingRefund.objects.count() == 1
    purchase_record(
        merchant=zolotoff,
        client=client,
        amount=D(1000),
        payment_type="card",
        external_id="sale-1",
        source="evotor",
    )
    sale = Purchase.objects.get(external_id="sale-1")
    assert sale.refunded_amount == D(400)
    assert bal(client) == (D(18),)  # 30 accrued − 12 reversed
    pending = PendingRefund.objects.get()
    assert pending.applied_at is not None and pending.refund.amount == D(400)
    # The refund arriving again after its sale is a duplicate.
    late = refund_or_pending(
        merchant=zolotoff, base_external_id="sale-1", external_id="ret-1", amount=D(400)
    )
    assert late.duplicate


def test_pos_refund_larger_than_left_is_reduced(zolotoff):
    sale = buy(zolotoff, None, "1000", external_id="s").purchase
    refund_record(merchant=zolotoff, purchase=sale, amount=D(900))
    result = refund_or_pending(
        merchant=zolotoff, base_external_id="s", external_id="r", amount=D(500)
    )
    assert result.refund.amount == D(100)
    nothing = refund_or_pending(merchant=zolotoff, base_external_id="s", external_id="r2")
    assert nothing.refund is None


def test_manual_adjustment_needs_reason_and_logs_user(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    user = UserFactory()
    with pytest.raises(LoyaltyError):
        points_adjust(merchant=zolotoff, client=client, points=D(10), reason="  ", user=user)
    with pytest.raises(LoyaltyError):
        points_adjust(merchant=zolotoff, client=client, points=D(-10), reason="x", user=user)
    entry = points_adjust(merchant=zolotoff, client=client, points=D(10), reason="gift", user=user)
    assert (entry.kind, entry.created_by, entry.reason) == (LedgerKind.ADJUSTMENT, user, "gift")
    assert bal(client) == (D(10),)
