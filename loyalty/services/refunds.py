"""Refunds: reverse proportionally what a purchase did — cashback, points paid (returned),
referral percentages, certificate use — never more than the purchase.

Shares are cumulative: after refunds totalling R of a check A, exactly q(X·R/A) of each
movement X has been reversed, so any sequence of partial refunds that ends in a full one
reverses every movement exactly. The one-time referral bonus is reversed only when the whole
purchase is refunded. A debit never takes a balance below zero: if the client has already
spent the cashback, the part the balance cannot cover is written off and named in the entry's
reason.

A POS refund costs one lock and one write, as a sale does: on PostgreSQL the sale is read with
any refund already under the document's id and the sale's ledger movements in one statement
(`pos_refunds`), the clients and the purchase are locked (`refund_lines`), and the refund, its
ledger entries, the refunded lines and purchase, the client figures and the POS event row are
one statement (`LedgerBatch.flush_with`); a refund of the same id committed meanwhile makes
that write a no-op, answered as a repeat. SQLite writes each part with a statement of its own."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.ledger import LedgerBatch
from loyalty.models import (
    CampaignKind,
    Certificate,
    LedgerEntry,
    LedgerKind,
    Purchase,
    Refund,
)
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .errors import IdempotencyConflict, RefundError
from .lines import (
    RefundLineInput,
    line_share,
    refund_split,
)
from .locking import lock_with_config, rules_cached
from .refund_lines import purchase_locked, refund_split_known


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
    rows_with=None,
    checked: bool = False,
    originals: list | None = None,
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
    together are applied one after the other, each against what the other left.

    `rows_with(result)` gives rows to write with the refund (its POS event row), in the
    refund's own statement; `checked`: the caller has just looked for the external id. With
    `lines` and an `amount` (and `clamp`), lines the sale did not name fall back to the
    amount and its promo part. `originals`: the purchase's own ledger movements, if the
    caller read them (`sale_for_refund`)."""
    if purchase.merchant_id != merchant.pk:
        raise RefundError(_("The purchase belongs to another merchant."))
    if lines is None:
        amount = q(amount if amount is not None else 0)
        if amount <= 0 and not clamp:
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
                rows_with,
                checked,
                originals,
            )
    except IntegrityError:
        if external_id:
            existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
            if existing is not None:
                return RefundResult(refund=existing, created=False)
        raise


def same_refund(existing: Refund, split: dict | None) -> RefundResult:
    """The first refund under this id, if the repeat asks for the same items."""
    if split is not None:
        asked = sorted([pos, str(value)] for pos, value in split.items())
        if sorted([p, str(q(Decimal(v)))] for p, v in existing.lines) != asked:
            raise IdempotencyConflict(
                _("Refund “%(id)s” was already recorded with other items; the repeat is refused.")
                % {"id": existing.external_id}
            )
    return RefundResult(refund=existing, created=False)


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
    rows_with=None,
    checked=False,
    originals=None,
):
    if external_id and not checked:
        existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        if existing is not None:
            return RefundResult(refund=existing, created=False)
    if originals is None:
        originals = list(
            LedgerEntry.objects.filter(purchase_id=purchase.pk, refund__isnull=True).values_list(
                "client_id", "kind", "referral_level", "points"
            )
        )
    # The buyer and every client the purchase paid (their referrers come with them), and
    # the program's fingerprint: one statement, as a purchase locks.
    snapshot = lock_with_config(
        merchant_id=merchant.pk,
        client_ids={purchase.client_id} | {row[0] for row in originals} - {None},
    )
    clients = snapshot.clients
    purchase, lines = purchase_locked(purchase)
    if returned and clamp and amount is not None:
        known = {ln.external_id for ln in lines}
        if any(ln.external_id not in known for ln in returned):
            # The POS names lines the sale did not (or the sale kept none): the amount and
            # its promo part, which it also gave, still say what comes back.
            returned = None
    if returned:
        amount = promo_amount = None
    if clamp and not returned:
        left = q(purchase.amount - purchase.refunded_amount)
        amount = min(q(amount), left)
        if promo_amount is not None:
            promo_amount = min(q(promo_amount), amount)
        if amount <= 0:
            return RefundResult(refund=None, created=False)
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
    # Written with everything else below; a refund of this id committed meanwhile makes
    # its insert (and so the whole write) a no-op, answered as a repeat.
    refund = Refund(
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
    changed = []
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
        changed.append(line)
    base_total = q(sum((ln.referral_base for ln in lines), ZERO))
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
    purchase.refunded_amount = after_total
    buyer = clients.get(purchase.client_id)
    if buyer is not None:
        buyer.total_spent = max(q(buyer.total_spent - amount), ZERO)
        rules = rules_cached(merchant, snapshot.fingerprint)
        buyer.tier_id = _tier_corrected(rules, buyer, purchase)
        batch.touch(buyer.pk)
    # The refund, its ledger entries, the lines and the purchase it changes, the clients'
    # figures and the caller's rows: one statement on PostgreSQL.
    updates = [([purchase], ["refunded_amount"])]
    if changed:
        updates.append((changed, ["refunded_amount", "refunded_quantity"]))
    extra = rows_with(result) if rows_with is not None else []
    if not batch.flush_with(refund, extra, updates):
        existing = Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        if existing is None:  # the conflicting row is gone again: let the caller retry
            raise IntegrityError("refund external id conflict")
        return same_refund(existing, refund_split_known(purchase, returned) if returned else None)
    result.certificate_returned = _certificate_return(purchase, q(certificate_share), at)
    if full:
        result.certificates_cancelled = _consequences_undo(purchase, at)
    return result


def _tier_corrected(rules, buyer, purchase):
    """The spend-based tier after a refund: recomputed from spend net of refunds — a
    correction of what the refunded purchase reached, not a fall — yet never below the tier
    the client held before the purchase. A tier set by hand stays."""
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
