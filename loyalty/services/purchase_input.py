"""A check as a caller describes it (`PurchaseInput`), what recording it did
(`PurchaseResult`), its validation, and its idempotency: the content a repeat of the external id
must repeat, and the first result a repeat is answered with."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.models import Certificate, LedgerKind, PaymentType, Purchase
from onboarding.models import Branch, Merchant, StaffMember
from onboarding.money import ZERO, q

from .errors import ClientError, IdempotencyConflict, LoyaltyError, RedemptionError
from .lines import LineInput, lines_from_totals, lines_validate


@dataclass
class PurchaseInput:
    """One check as a caller describes it (amounts in the merchant's currency)."""

    amount: Decimal
    payment_type: str
    source: str
    client: Client | None = None
    excluded_amount: Decimal = ZERO
    points_to_redeem: Decimal = ZERO
    certificate: Certificate | None = None
    occurred_at: datetime | None = None
    branch: Branch | None = None
    cashier: StaffMember | None = None
    external_id: str | None = None
    by_phone: bool = False
    raw_payload: dict | list | None = None
    # The check's items; None: the amount and its promo part as two lines.
    lines: list[LineInput] | None = None
    # A POS: the till has already taken the points, so they are booked as taken; a payment
    # that breaks the rules is flagged for review instead of refused.
    till_points: bool = False
    content_key: str = ""
    pending_refunds: bool | None = None
    # Rows written with the check when it is created, in the same statement on PostgreSQL:
    # `rows_with(result)` returns unsaved rows linked to `result.purchase` (a POS event row).
    rows_with: Callable[["PurchaseResult"], list] | None = None
    # History (migrated merchants): record the check as it happened elsewhere — points paid as
    # given, no cashback, referral or ledger movement (balances come as opening balances) —
    # and move only the client's spend, dates, purchase count and tier.
    history: bool = False


@dataclass
class PurchaseResult:
    """What a recorded (or repeated) purchase did. `created` is False for a repeat."""

    purchase: Purchase
    created: bool
    balance: Decimal | None = None
    referral_points: Decimal = ZERO
    rewarded: dict = field(default_factory=dict)  # referrer client id -> points

    @property
    def duplicate(self) -> bool:
        return not self.created

    @property
    def points_accrued(self) -> Decimal:
        return self.purchase.points_accrued

    @property
    def points_redeemed(self) -> Decimal:
        return self.purchase.points_redeemed

    @property
    def certificate_redeemed(self) -> Decimal:
        return self.purchase.certificate_redeemed


def content_key(item: PurchaseInput) -> str:
    """What a repeat of the external id must repeat: client, lines, points, certificate."""
    parts = [
        str(item.client.pk if item.client is not None else ""),
        str(q(item.points_to_redeem)),
        str(item.certificate.pk if item.certificate is not None else ""),
    ]
    for line in item.lines or []:
        parts.append(f"{line.external_id}|{q(line.amount)}|{int(line.promo)}|{line.quantity:f}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def same_content(purchase: Purchase, item: PurchaseInput | None) -> None:
    """Refuse a repeat of the external id that carries other content."""
    if item is not None and purchase.content_key and purchase.content_key != item.content_key:
        raise IdempotencyConflict(
            _(
                "Purchase “%(id)s” was already recorded with other content (client, amount or "
                "lines); the repeat is refused."
            )
            % {"id": purchase.external_id}
        )


def repeat_result(purchase: Purchase, item: PurchaseInput | None = None) -> PurchaseResult:
    same_content(purchase, item)
    balance = None
    if purchase.client_id:
        balance = Client.objects.filter(pk=purchase.client_id).values_list("balance", flat=True)[0]
    rewarded: dict = {}
    for client_id, points in purchase.ledger_entries.filter(
        refund__isnull=True, kind__in=[LedgerKind.REFERRAL, LedgerKind.REFERRAL_BONUS]
    ).values_list("client_id", "points"):
        rewarded[client_id] = q(rewarded.get(client_id, ZERO) + points)
    return PurchaseResult(
        purchase=purchase,
        created=False,
        balance=balance,
        referral_points=q(sum(rewarded.values(), ZERO)),
        rewarded=rewarded,
    )


def validate_input(merchant: Merchant, item: PurchaseInput) -> None:
    item.amount = q(item.amount)
    item.excluded_amount = q(item.excluded_amount or 0)
    item.points_to_redeem = q(item.points_to_redeem or 0)
    if item.amount < 0:
        raise LoyaltyError(_("The check amount cannot be negative."))
    if item.excluded_amount < 0 or item.excluded_amount > item.amount:
        raise LoyaltyError(_("Promo items cannot be negative or more than the check."))
    if item.points_to_redeem < 0:
        raise RedemptionError(_("Points to pay cannot be negative."))
    if item.payment_type not in PaymentType.values:
        raise LoyaltyError(_("Unknown payment type “%(type)s”.") % {"type": item.payment_type})
    if item.client is not None and item.client.merchant_id != merchant.pk:
        raise ClientError(_("The client belongs to another merchant."))
    if item.history and (item.certificate is not None or item.points_to_redeem > item.amount):
        raise RedemptionError(_("Points paid cannot be more than the check."))
    if item.client is None and (item.points_to_redeem or item.certificate):
        raise RedemptionError(_("Points and certificates need a client."))
    if item.lines is None:
        item.lines = lines_from_totals(item.amount, item.excluded_amount)
    else:
        item.amount, item.excluded_amount = lines_validate(item.lines)
    item.content_key = content_key(item)
    for obj, label in ((item.branch, _("branch")), (item.cashier, _("cashier"))):
        if obj is not None and obj.merchant_id != merchant.pk:
            raise LoyaltyError(_("The %(what)s belongs to another merchant.") % {"what": label})
    item.occurred_at = item.occurred_at or timezone.now()


def known_keys(merchant_id: int, keys: list[str]) -> bool:
    """Whether any of these external ids is already recorded (one cheap indexed query)."""
    marks = ", ".join(["%s"] * len(keys))
    table = connection.ops.quote_name(Purchase._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE merchant_id = %s AND external_id IN ({marks}) LIMIT 1",
            [merchant_id, *keys],
        )
        return cursor.fetchone() is not None


def existing_purchase(merchant: Merchant, external_id: str | None) -> Purchase | None:
    if not external_id:
        return None
    return Purchase.objects.filter(merchant=merchant, external_id=external_id).first()
