"""Refunds: reverse proportionally what a purchase did — cashback, points paid (returned),
referral percentages, certificate use — never more than the purchase.

Shares are cumulative: after refunds totalling R of a check A, exactly q(X·R/A) of each
movement X has been reversed, so any sequence of partial refunds that ends in a full one
reverses every movement exactly. The one-time referral bonus is reversed only when the whole
purchase is refunded. A debit never takes a balance below zero: if the client has already
spent the cashback, the part the balance cannot cover is written off and named in the entry's
reason."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.ledger import LedgerBatch, lock_clients
from loyalty.models import Certificate, LedgerEntry, LedgerKind, Purchase, Refund
from loyalty.money import ZERO, q
from loyalty.pos.models import PendingRefund
from onboarding.models import Merchant

from .errors import RefundError
from .rules import load_rules


@dataclass
class RefundResult:
    refund: Refund | None
    created: bool
    pending: bool = False
    points_reversed: Decimal = ZERO  # cashback taken back from the buyer
    points_returned: Decimal = ZERO  # points the buyer had paid, given back
    referral_reversed: Decimal = ZERO
    certificate_returned: Decimal = ZERO
    written_off: Decimal = ZERO  # debits the balances could not cover

    @property
    def duplicate(self) -> bool:
        return not self.created and not self.pending


def _share(total: Decimal, before: Decimal, after: Decimal, amount: Decimal) -> Decimal:
    """The part of `total` that the refunds from `before` to `after` (of `amount`) reverse."""
    if amount <= 0:
        return q(total) if after > before else ZERO
    return q(total * after / amount) - q(total * before / amount)


def refund_record(
    *,
    merchant: Merchant,
    purchase: Purchase,
    amount,
    external_id: str | None = None,
    occurred_at: datetime | None = None,
    created_by=None,
    raw_payload=None,
) -> RefundResult:
    """Refund `amount` of `purchase` (full or partial) and reverse its effects proportionally.

    Raises RefundError if the amount is not positive or exceeds what is left of the purchase.
    Idempotent per (merchant, external_id): a repeat returns the first refund."""
    amount = q(amount)
    if purchase.merchant_id != merchant.pk:
        raise RefundError(_("The purchase belongs to another merchant."))
    if amount <= 0:
        raise RefundError(_("A refund must be more than zero."))
    external_id = external_id or None
    try:
        with transaction.atomic():
            return _refund_locked(
                merchant, purchase, amount, external_id, occurred_at, created_by, raw_payload
            )
    except IntegrityError:
        if external_id:
            existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
            if existing is not None:
                return RefundResult(refund=existing, created=False)
        raise


def _refund_locked(merchant, purchase, amount, external_id, occurred_at, created_by, raw_payload):
    if external_id:
        existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        if existing is not None:
            return RefundResult(refund=existing, created=False)
    originals = list(
        LedgerEntry.objects.filter(purchase_id=purchase.pk, refund__isnull=True).values_list(
            "client_id", "kind", "referral_level", "points"
        )
    )
    clients = lock_clients({purchase.client_id} | {row[0] for row in originals} - {None})
    purchase = Purchase.objects.select_for_update(of=("self",)).get(pk=purchase.pk)
    if external_id:  # re-read under the locks: a concurrent post of this refund may have won
        existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        if existing is not None:
            return RefundResult(refund=existing, created=False)
    before = q(purchase.refunded_amount)
    remaining = q(purchase.amount - before)
    if amount > remaining:
        raise RefundError(
            _("At most %(remaining)s of this purchase can still be refunded.")
            % {"remaining": remaining}
        )
    after = q(before + amount)
    at = occurred_at or timezone.now()
    refund = Refund.objects.create(
        merchant=merchant,
        purchase=purchase,
        external_id=external_id,
        amount=amount,
        occurred_at=at,
        created_by=created_by,
        raw_payload=raw_payload,
    )
    result = RefundResult(refund=refund, created=True)
    totals = defaultdict(lambda: ZERO)
    for client_id, kind, level, points in originals:
        totals[(client_id, kind, level)] += points
    full = after >= q(purchase.amount)
    reversals = []
    for (client_id, kind, level), total in totals.items():
        if kind == LedgerKind.REFERRAL_BONUS:
            points = -q(total) if full else ZERO
        else:
            points = -_share(total, before, after, q(purchase.amount))
        if points:
            reversals.append((client_id, kind, level, points))
    # Credits first (points paid are returned), then debits, so a client's own return can
    # cover the cashback taken back.
    reversals.sort(key=lambda r: (r[3] < 0, r[0]))
    batch = LedgerBatch(clients)
    for client_id, kind, level, points in reversals:
        reason = _("Refund of purchase #%(id)s: %(kind)s") % {
            "id": purchase.pk,
            "kind": LedgerKind(kind).label,
        }
        entry = batch.post(
            client_id=client_id,
            kind=LedgerKind.REFUND,
            points=points,
            allow_short=True,
            purchase=purchase,
            refund=refund,
            referral_level=level,
            reason=reason[:300],
            created_by=created_by,
            created_at=at,
        )
        if entry.uncovered:
            result.written_off += entry.uncovered
            entry.reason = (
                reason
                + " "
                + _("(%(short)s not covered by the balance)") % {"short": entry.uncovered}
            )[:300]
        if kind == LedgerKind.REDEMPTION:
            result.points_returned += entry.points
        elif kind == LedgerKind.ACCRUAL:
            result.points_reversed += -entry.points
        else:
            result.referral_reversed += -entry.points
    result.certificate_returned = _certificate_return(purchase, before, after, at)
    purchase.refunded_amount = after
    purchase.save(update_fields=["refunded_amount"])
    buyer = clients.get(purchase.client_id)
    if buyer is not None:
        buyer.total_spent = max(q(buyer.total_spent - amount), ZERO)
        tier = load_rules(merchant).next_tier(buyer)
        buyer.tier_id = tier.pk if tier is not None else buyer.tier_id
        batch.touch(buyer.pk)
    batch.flush()
    return result


def _certificate_return(purchase: Purchase, before, after, at) -> Decimal:
    """Give back the refunded share of the certificate the purchase used: the certificate
    itself if the whole purchase is refunded at once, otherwise a new certificate of that
    share with the same cap and end of validity."""
    share = _share(q(purchase.certificate_redeemed), before, after, q(purchase.amount))
    if share <= 0:
        return ZERO
    original = (
        Certificate.objects.select_for_update(of=("self",))
        .filter(redeemed_purchase=purchase)
        .first()
    )
    if original is None:
        return ZERO
    status = Certificate.Status.ACTIVE if original.valid_until > at else Certificate.Status.EXPIRED
    if share == q(purchase.certificate_redeemed):
        original.status = status
        original.redeemed_at = None
        original.redeemed_purchase = None
        original.save(update_fields=["status", "redeemed_at", "redeemed_purchase"])
    else:
        Certificate.objects.create(
            merchant_id=original.merchant_id,
            client_id=original.client_id,
            campaign_id=original.campaign_id,
            points=share,
            redemption_cap_percent=original.redemption_cap_percent,
            issued_at=at,
            valid_until=max(original.valid_until, at),
            status=status,
        )
    return share


def refund_or_pending(
    *,
    merchant: Merchant,
    base_external_id: str,
    external_id: str,
    amount=None,
    occurred_at: datetime | None = None,
    raw_payload=None,
) -> RefundResult:
    """A POS refund of the sale `base_external_id`: applied now if the sale is known, else
    kept pending (never failed) and applied when the sale arrives. `amount` None = the whole
    remaining sale; an amount above what is left is reduced to it."""
    with transaction.atomic():
        purchase = Purchase.objects.filter(merchant=merchant, external_id=base_external_id).first()
        if purchase is None:
            pending, created = PendingRefund.objects.get_or_create(
                merchant=merchant,
                external_id=external_id,
                defaults={
                    "base_external_id": base_external_id,
                    "amount": q(amount) if amount is not None else None,
                    "occurred_at": occurred_at or timezone.now(),
                    "raw_payload": raw_payload,
                },
            )
            if not created or pending.applied_at is not None:
                return RefundResult(
                    refund=pending.refund, created=False, pending=pending.refund is None
                )
    if purchase is None:
        # The sale may have committed between our read and the pending row's commit: look
        # again now that the pending row is visible to it, so one of the two applies it.
        if Purchase.objects.filter(merchant=merchant, external_id=base_external_id).exists():
            with transaction.atomic():
                applied = pending_refunds_apply(
                    merchant=merchant, base_external_ids=[base_external_id]
                )
            if applied:
                return applied[0]
        return RefundResult(refund=None, created=False, pending=True)
    existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
    if existing is not None:
        return RefundResult(refund=existing, created=False)
    remaining = q(purchase.amount - purchase.refunded_amount)
    value = remaining if amount is None else min(q(amount), remaining)
    if value <= 0:
        return RefundResult(refund=None, created=False)
    return refund_record(
        merchant=merchant,
        purchase=purchase,
        amount=value,
        external_id=external_id,
        occurred_at=occurred_at,
        raw_payload=raw_payload,
    )


def pending_refunds_exist(*, merchant: Merchant, base_external_ids) -> bool:
    """Whether refunds wait for any of these sales (one indexed read, no lock)."""
    keys = list(base_external_ids)
    table = connection.ops.quote_name(PendingRefund._meta.db_table)
    marks = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE merchant_id = %s AND base_external_id IN ({marks}) "
            "AND applied_at IS NULL LIMIT 1",
            [merchant.pk, *keys],
        )
        return cursor.fetchone() is not None


def pending_refunds_apply(*, merchant: Merchant, base_external_ids) -> list[RefundResult]:
    """Apply the refunds that were waiting for these sales (called when the sales arrive)."""
    results = []
    pending = PendingRefund.objects.select_for_update().filter(
        merchant=merchant, base_external_id__in=list(base_external_ids), applied_at__isnull=True
    )
    for item in pending.order_by("created_at", "pk"):
        result = refund_or_pending(
            merchant=merchant,
            base_external_id=item.base_external_id,
            external_id=item.external_id,
            amount=item.amount,
            occurred_at=item.occurred_at,
            raw_payload=item.raw_payload,
        )
        item.applied_at = timezone.now()
        item.refund = result.refund
        if result.refund is None:
            item.note = _("Nothing left to refund.")
        item.save(update_fields=["applied_at", "refund", "note"])
        results.append(result)
    return results
