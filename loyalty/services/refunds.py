"""Refunds: reverse proportionally what a purchase did — cashback, points paid (returned),
referral percentages, certificate use — never more than the purchase.

Shares are cumulative: after refunds totalling R of a check A, exactly q(X·R/A) of each
movement X has been reversed, so any sequence of partial refunds that ends in a full one
reverses every movement exactly. The one-time referral bonus is reversed only when the whole
purchase is refunded. A debit never takes a balance below zero: if the client has already
spent the cashback, the part the balance cannot cover is written off and named in the entry's
reason.

A POS refund costs one lock and one write, as a sale does: on PostgreSQL the sale is read with
any refund already under the document's id and the sale's ledger movements in one statement,
the clients and the purchase are locked, and the refund, its ledger entries, the refunded
lines and purchase, the client figures and the POS event row are one statement
(`LedgerBatch.flush_with`); a refund of the same id committed meanwhile makes that write a
no-op, answered as a repeat. SQLite writes each part with a statement of its own.

Over 600 lines: one idea, reversing a purchase under its lock (lines, amount, certificate use,
referral shares, pending refunds); the cumulative-share arithmetic must see every part at once,
and the POS refund's reads are shaped for its one-statement write."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.ledger import LedgerBatch, purchase_movements_sql
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
from .locking import lock_with_config, rules_cached


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
    return lines or _lines_made(purchase)


def _lines_made(purchase: Purchase) -> list[PurchaseLine]:
    """Lines for a purchase recorded before lines were kept (saved)."""
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


def _locked(purchase: Purchase) -> tuple[Purchase, list[PurchaseLine]]:
    """Lock the purchase and read its lines. On PostgreSQL one statement: the lines with the
    purchase's refunded amount (the one figure of a recorded purchase that changes), the
    purchase row locked — every writer of its lines holds that lock."""
    if connection.vendor != "postgresql":
        purchase = Purchase.objects.select_for_update(of=("self",)).get(pk=purchase.pk)
        return purchase, purchase_lines(purchase)
    sql = _SQL.get("locked")
    if sql is None:
        qn = connection.ops.quote_name
        sql = _SQL["locked"] = (
            f"SELECT l.*, p.refunded_amount AS locked_refunded "
            f"FROM {qn(Purchase._meta.db_table)} p "
            f"LEFT JOIN {qn(PurchaseLine._meta.db_table)} l ON l.purchase_id = p.id "
            "WHERE p.id = %s ORDER BY l.position FOR UPDATE OF p"
        )
    rows = list(PurchaseLine.objects.raw(sql, [purchase.pk]))
    if not rows:
        raise Purchase.DoesNotExist
    purchase.refunded_amount = rows[0].locked_refunded
    lines = [line for line in rows if line.pk is not None]
    return purchase, lines or _lines_made(purchase)


_SQL: dict[str, str] = {}


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
    purchase, lines = _locked(purchase)
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
        return _same_refund(existing, refund_split_known(purchase, returned) if returned else None)
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
    rows_with=None,
) -> RefundResult:
    """A POS refund of the sale `base_external_id`: applied now if the sale is known, else
    kept pending (never failed) and applied when the sale arrives. Names `lines`, or an
    `amount` (None: the whole remaining sale; above what is left: reduced to it).
    `rows_with(result)`: rows written with a new refund (see `refund_record`)."""
    purchase, known_refund, originals = sale_for_refund(merchant, base_external_id, external_id)
    if purchase is None:
        with transaction.atomic():
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
    if known_refund is not False:
        existing = (
            Refund.objects.filter(pk=known_refund).first()
            if known_refund is not None
            else Refund.objects.filter(merchant=merchant, external_id=external_id).first()
        )
        if existing is not None:
            if lines:
                _same_refund(existing, refund_split_known(purchase, lines))
            return RefundResult(refund=existing, created=False)
    if q(purchase.amount - purchase.refunded_amount) <= 0:
        return RefundResult(refund=None, created=False)
    # What is left, the lines the sale kept and the amount's bounds are settled under the
    # purchase's lock (`clamp`).
    return refund_record(
        merchant=merchant,
        purchase=purchase,
        amount=amount if amount is not None or lines else purchase.amount,
        promo_amount=promo_amount,
        lines=lines or None,
        external_id=external_id,
        occurred_at=occurred_at,
        raw_payload=raw_payload,
        clamp=True,
        rows_with=rows_with,
        checked=True,
        originals=originals,
    )


def sale_for_refund(merchant: Merchant, base_external_id: str, external_id: str):
    """(purchase, known refund, originals) for a POS refund of the sale `base_external_id`.

    On PostgreSQL one statement: the purchase (its raw payload left unread), the id of a
    refund already recorded under `external_id` (False: none), and the purchase's own
    ledger movements as `(client, kind, level, points)`. Elsewhere the purchase alone, with
    None for the other two (read by the caller)."""
    if connection.vendor != "postgresql":
        purchase = Purchase.objects.filter(merchant=merchant, external_id=base_external_id).first()
        return purchase, None, None
    sql = _SQL.get("sale")
    if sql is None:
        qn = connection.ops.quote_name
        columns = ", ".join(
            f"p.{qn(f.column)}" for f in Purchase._meta.concrete_fields if f.name != "raw_payload"
        )
        sql = _SQL["sale"] = (
            f"SELECT {columns}, "
            f"(SELECT r.id FROM {qn(Refund._meta.db_table)} r "
            "WHERE r.merchant_id = %s AND r.external_id = %s) AS known_refund, "
            f"{purchase_movements_sql('p.id')} AS originals "
            f"FROM {qn(Purchase._meta.db_table)} p "
            "WHERE p.merchant_id = %s AND p.external_id = %s"
        )
    rows = list(
        Purchase.objects.raw(sql, [merchant.pk, external_id, merchant.pk, base_external_id])
    )
    if not rows:
        return None, None, None
    purchase = rows[0]
    originals = []
    for item in (purchase.originals or "").split(";"):
        if item:
            client_id, kind, level, points = item.split(",")
            originals.append((int(client_id), kind, int(level) if level else None, Decimal(points)))
    return purchase, purchase.known_refund or False, originals


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
