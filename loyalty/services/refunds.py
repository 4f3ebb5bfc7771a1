"""Refunds: reverse proportionally what a purchase did — cashback, points paid (returned),
referral percentages, certificate use — never more than the purchase.

Shares are cumulative: after refunds totalling R of a check A, exactly q(X·R/A) of each
movement X has been reversed, so any sequence of partial refunds that ends in a full one
reverses every movement exactly. The one-time referral bonus is reversed only when the whole
purchase is refunded. A debit never takes a balance below zero: if the client has already
spent the cashback, the part the balance cannot cover is written off and named in the entry's
reason.

Over 450 lines: one idea, reversing a purchase under its lock (lines, amount, certificate use,
referral shares, pending refunds); the cumulative-share arithmetic must see every part at once."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.ledger import LedgerBatch, lock_clients
from loyalty.models import (
    CampaignKind,
    Certificate,
    LedgerEntry,
    LedgerKind,
    Purchase,
    PurchaseLine,
    Refund,
)
from loyalty.pos.models import PendingRefund
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .errors import IdempotencyConflict, RefundError
from .lines import (
    RefundLineInput,
    allocate,
    line_figures,
    line_rewards,
    line_share,
    lines_from_totals,
    refund_split,
)
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
    certificates_cancelled: int = 0  # issued because of the purchase, cancelled by its refund

    @property
    def duplicate(self) -> bool:
        return not self.created and not self.pending


def refund_record(
    *,
    merchant: Merchant,
    purchase: Purchase,
    amount=None,
    promo_amount=None,
    lines: list[RefundLineInput] | None = None,
    external_id: str | None = None,
    occurred_at: datetime | None = None,
    created_by=None,
    raw_payload=None,
    clamp: bool = False,
) -> RefundResult:
    """Refund what comes back — named `lines` (a POS), or an `amount` with its `promo_amount`
    part (the cashier page; without it the amount is spread over all lines) — and reverse
    exactly what those items earned and paid: their cashback, their points paid, their share
    of referral rewards and of the certificate. A refund that completes the check also
    cancels what the purchase caused (an unused check-growth certificate) and corrects the
    spend-based tier.

    Raises RefundError if nothing or more than is left is asked. Idempotent per (merchant,
    external_id): a repeat with the same content returns the first refund; other content
    under the same id raises IdempotencyConflict. With `clamp` (a POS telling what it took
    back), what is asked is reduced to what is left when the purchase is locked, and nothing
    left is no refund (`refund` None) rather than an error: two refunds of one sale arriving
    together are applied one after the other, each against what the other left."""
    if purchase.merchant_id != merchant.pk:
        raise RefundError(_("The purchase belongs to another merchant."))
    if lines is None:
        amount = q(amount if amount is not None else 0)
        if amount <= 0:
            raise RefundError(_("A refund must be more than zero."))
    external_id = external_id or None
    try:
        with transaction.atomic():
            return _refund_locked(
                merchant,
                purchase,
                amount,
                promo_amount,
                lines,
                external_id,
                occurred_at,
                created_by,
                raw_payload,
                clamp,
            )
    except IntegrityError:
        if external_id:
            existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
            if existing is not None:
                return RefundResult(refund=existing, created=False)
        raise


def _same_refund(existing: Refund, split: dict | None) -> RefundResult:
    """The first refund under this id, if the repeat asks for the same items."""
    if split is not None:
        asked = sorted([pos, str(value)] for pos, value in split.items())
        if sorted([p, str(q(Decimal(v)))] for p, v in existing.lines) != asked:
            raise IdempotencyConflict(
                _("Refund “%(id)s” was already recorded with other items; the repeat is refused.")
                % {"id": existing.external_id}
            )
    return RefundResult(refund=existing, created=False)


def purchase_lines(purchase: Purchase) -> list[PurchaseLine]:
    """The purchase's lines, locked; a purchase recorded before lines were kept gets its
    regular and promo parts as two lines, with its totals allocated to them."""
    lines = list(
        PurchaseLine.objects.filter(purchase=purchase).order_by("position").select_for_update()
    )
    if lines:
        return lines
    lines = [
        PurchaseLine(
            purchase=purchase,
            position=position,
            name=line.name,
            amount=line.amount,
            promo=line.promo,
            quantity=line.quantity,
        )
        for position, line in enumerate(
            lines_from_totals(q(purchase.amount), q(purchase.excluded_amount)), start=1
        )
    ]
    line_figures(
        lines=lines,
        points=q(purchase.points_redeemed),
        certificate_used=q(purchase.certificate_redeemed),
        promo_redeemable=False,
        promo_earns=True,
    )
    line_rewards(
        lines=lines, accrued=q(purchase.points_accrued), promo_earns=True, referral_base="paid"
    )
    before = q(purchase.refunded_amount)
    for line, part in zip(lines, allocate(before, [ln.amount for ln in lines]), strict=True):
        line.refunded_amount = part
    PurchaseLine.objects.bulk_create(lines)
    return lines


def _refund_locked(
    merchant,
    purchase,
    amount,
    promo_amount,
    returned,
    external_id,
    occurred_at,
    created_by,
    raw_payload,
    clamp=False,
):
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
    lines = purchase_lines(purchase)
    if external_id:  # re-read under the locks: a concurrent post of this refund may have won
        existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        if existing is not None:
            return _same_refund(
                existing, refund_split_known(purchase, returned) if returned else None
            )
    if clamp and not returned:
        left = q(purchase.amount - purchase.refunded_amount)
        amount = min(q(amount), left)
        if promo_amount is not None:
            promo_amount = min(q(promo_amount), amount)
    split = refund_split(lines=lines, amount=amount, promo_amount=promo_amount, returned=returned)
    split = {position: value for position, value in split.items() if value}
    if not split and clamp:
        return RefundResult(refund=None, created=False)
    if not split:
        raise RefundError(_("Nothing of this purchase is left to refund."))
    amount = q(sum(split.values(), ZERO))
    promo_part = q(
        sum((v for ln in lines if ln.promo for p, v in split.items() if p == ln.position), ZERO)
    )
    at = occurred_at or timezone.now()
    refund = Refund.objects.create(
        merchant=merchant,
        purchase=purchase,
        external_id=external_id,
        amount=amount,
        promo_amount=promo_part,
        lines=[[pos, str(value)] for pos, value in sorted(split.items())],
        occurred_at=at,
        created_by=created_by,
        raw_payload=raw_payload,
    )
    result = RefundResult(refund=refund, created=True)
    # Each line's own shares, cumulatively: what the refunds so far and after this one took.
    own = defaultdict(lambda: ZERO)  # kind -> points reversed now (signed as the original)
    base_before = base_after = ZERO
    certificate_share = ZERO
    for line in lines:
        before = q(line.refunded_amount)
        after = q(before + split.get(line.position, ZERO))
        base_before += q(line.referral_base * before / line.amount) if line.amount else ZERO
        base_after += q(line.referral_base * after / line.amount) if line.amount else ZERO
        if after == before:
            continue
        own[LedgerKind.REDEMPTION] += -line_share(line.points_paid, line, before, after)
        own[LedgerKind.ACCRUAL] += line_share(line.cashback, line, before, after)
        certificate_share += line_share(line.certificate_paid, line, before, after)
        line.refunded_amount = after
        if line.quantity and line.amount:
            line.refunded_quantity = min(
                line.quantity, (line.quantity * after / line.amount).quantize(Decimal("0.001"))
            )
    base_total = q(sum((ln.referral_base for ln in lines), ZERO))
    PurchaseLine.objects.bulk_update(lines, ["refunded_amount", "refunded_quantity"])
    after_total = q(purchase.refunded_amount + amount)
    full = after_total >= q(purchase.amount)
    totals = defaultdict(lambda: ZERO)
    for client_id, kind, level, points in originals:
        totals[(client_id, kind, level)] += points
    reversals = []
    for (client_id, kind, level), total in totals.items():
        if kind == LedgerKind.REFERRAL_BONUS:
            points = -q(total) if full else ZERO
        elif (
            kind in (LedgerKind.REDEMPTION, LedgerKind.ACCRUAL) and client_id == purchase.client_id
        ):
            points = -own[kind]  # the returned items' own shares, signed against the original
        elif kind == LedgerKind.REFERRAL and base_total > 0:
            points = -(q(total * base_after / base_total) - q(total * base_before / base_total))
        else:
            continue
        if points:
            reversals.append((client_id, kind, level, q(points)))
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
    result.certificate_returned = _certificate_return(purchase, q(certificate_share), at)
    purchase.refunded_amount = after_total
    purchase.save(update_fields=["refunded_amount"])
    buyer = clients.get(purchase.client_id)
    if buyer is not None:
        buyer.total_spent = max(q(buyer.total_spent - amount), ZERO)
        buyer.tier_id = _tier_corrected(merchant, buyer, purchase)
        batch.touch(buyer.pk)
    batch.flush()
    if full:
        result.certificates_cancelled = _consequences_undo(purchase, at)
    return result


def _tier_corrected(merchant, buyer, purchase):
    """The spend-based tier after a refund: recomputed from spend net of refunds — a
    correction of what the refunded purchase reached, not a fall — yet never below the tier
    the client held before the purchase. A tier set by hand stays."""
    rules = load_rules(merchant)
    current = rules.tier_by_id(buyer.tier_id)
    if buyer.tier_locked or not rules.tiers:
        return buyer.tier_id
    by_spend = rules.tier_for_spend(buyer.total_spent)
    held_before = rules.tier_by_id(purchase.tier_id)
    floor = held_before if held_before is not None else by_spend
    corrected = by_spend if by_spend.position >= floor.position else floor
    if current is not None and corrected.position > current.position:
        corrected = current  # a refund takes back what the purchase lifted, never lifts
    return corrected.pk


def _consequences_undo(purchase: Purchase, at) -> int:
    """A fully refunded purchase's certificates (check growth): an unused one is cancelled;
    a partly used one keeps what it paid (that purchase stands) and loses the rest."""
    issued = list(
        Certificate.objects.select_for_update(of=("self",)).filter(
            issuance__period_key=str(purchase.pk),
            issuance__campaign__kind=CampaignKind.CHECK_GROWTH,
            client_id=purchase.client_id,
            status__in=[Certificate.Status.ACTIVE, Certificate.Status.EXPIRED],
        )
    )
    for certificate in issued:
        certificate.status = Certificate.Status.CANCELLED
    Certificate.objects.bulk_update(issued, ["status"])
    return len(issued)


def _certificate_return(purchase: Purchase, share: Decimal, at) -> Decimal:
    """Give the refunded certificate share back to the same certificate: its used value goes
    down, and it is active again while valid (one certificate never becomes several)."""
    if share <= 0:
        return ZERO
    certificate = None
    if purchase.certificate_id:
        certificate = (
            Certificate.objects.select_for_update(of=("self",))
            .filter(pk=purchase.certificate_id)
            .first()
        )
    if certificate is None:
        certificate = (
            Certificate.objects.select_for_update(of=("self",))
            .filter(redeemed_purchase=purchase)
            .first()
        )
    if certificate is None:
        return ZERO
    if not purchase.certificate_id and certificate.used_points == 0:
        # Recorded before used values were kept: the whole face was taken at the sale.
        certificate.used_points = certificate.points
    certificate.used_points = max(q(certificate.used_points - share), ZERO)
    if certificate.status in (Certificate.Status.REDEEMED, Certificate.Status.ACTIVE):
        certificate.status = (
            Certificate.Status.ACTIVE
            if certificate.valid_until > at
            else Certificate.Status.EXPIRED
        )
    if certificate.redeemed_purchase_id == purchase.pk and certificate.used_points == 0:
        certificate.redeemed_at = None
        certificate.redeemed_purchase = None
    certificate.save(update_fields=["used_points", "status", "redeemed_at", "redeemed_purchase"])
    return share


def _lines_json(lines: list[RefundLineInput] | None) -> list:
    return [
        [
            ln.external_id,
            ln.position,
            None if ln.quantity is None else str(ln.quantity),
            None if ln.amount is None else str(ln.amount),
        ]
        for ln in lines or []
    ]


def _lines_from_json(rows) -> list[RefundLineInput] | None:
    if not rows:
        return None
    return [
        RefundLineInput(
            external_id=ext or "",
            position=pos,
            quantity=None if qty is None else Decimal(qty),
            amount=None if amount is None else Decimal(amount),
        )
        for ext, pos, qty, amount in rows
    ]


def refund_or_pending(
    *,
    merchant: Merchant,
    base_external_id: str,
    external_id: str,
    amount=None,
    promo_amount=None,
    lines: list[RefundLineInput] | None = None,
    occurred_at: datetime | None = None,
    raw_payload=None,
) -> RefundResult:
    """A POS refund of the sale `base_external_id`: applied now if the sale is known, else
    kept pending (never failed) and applied when the sale arrives. Names `lines`, or an
    `amount` (None: the whole remaining sale; above what is left: reduced to it)."""
    with transaction.atomic():
        purchase = Purchase.objects.filter(merchant=merchant, external_id=base_external_id).first()
        if purchase is None:
            pending, created = PendingRefund.objects.get_or_create(
                merchant=merchant,
                external_id=external_id,
                defaults={
                    "base_external_id": base_external_id,
                    "amount": q(amount) if amount is not None else None,
                    "promo_amount": q(promo_amount) if promo_amount is not None else None,
                    "lines": _lines_json(lines),
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
        if lines:
            _same_refund(existing, refund_split_known(purchase, lines))
        return RefundResult(refund=existing, created=False)
    remaining = q(purchase.amount - purchase.refunded_amount)
    if lines and amount is not None:
        known = set(
            PurchaseLine.objects.filter(purchase=purchase).values_list("external_id", flat=True)
        )
        if any(ln.external_id not in known for ln in lines):
            # The POS names lines the sale did not (or the sale kept none): the amount and its
            # promo part, which it also gave, still say what comes back.
            lines = None
    if lines:
        if remaining <= 0:
            return RefundResult(refund=None, created=False)
        return refund_record(
            merchant=merchant,
            purchase=purchase,
            lines=lines,
            external_id=external_id,
            occurred_at=occurred_at,
            raw_payload=raw_payload,
            clamp=True,
        )
    value = remaining if amount is None else min(q(amount), remaining)
    if value <= 0:
        return RefundResult(refund=None, created=False)
    promo = None if promo_amount is None else min(q(promo_amount), value)
    return refund_record(
        merchant=merchant,
        purchase=purchase,
        amount=value,
        promo_amount=promo,
        external_id=external_id,
        occurred_at=occurred_at,
        raw_payload=raw_payload,
        clamp=True,
    )


def refund_split_known(purchase: Purchase, lines: list[RefundLineInput]) -> dict | None:
    """What a repeat naming `lines` would have taken, measured against the purchase as it was
    before any refund (for comparing a repeat with the first delivery)."""
    stored = list(PurchaseLine.objects.filter(purchase=purchase).order_by("position"))
    if not stored:
        return None
    for line in stored:
        line.refunded_amount = ZERO
    try:
        return refund_split(lines=stored, amount=None, promo_amount=None, returned=lines)
    except RefundError:
        return {}


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
            promo_amount=item.promo_amount,
            lines=_lines_from_json(item.lines),
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
