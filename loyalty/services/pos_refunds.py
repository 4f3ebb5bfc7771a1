"""POS refunds: a refund names its sale by the POS's document id and may arrive before it —
then it is kept pending (never failed) and applied when the sale arrives.

On PostgreSQL the sale is read with any refund already under the document's id and the sale's
ledger movements in one statement (`sale_for_refund`); the refund itself is `refund_record`
with `clamp` (what is asked is reduced to what is left under the purchase's lock)."""

from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.ledger import purchase_movements_sql
from loyalty.models import Purchase, Refund
from loyalty.pos.models import PendingRefund
from onboarding.models import Merchant
from onboarding.money import q

from .lines import RefundLineInput
from .refund_lines import refund_split_known
from .refunds import RefundResult, refund_record, same_refund

_SQL: dict[str, str] = {}


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
                same_refund(existing, refund_split_known(purchase, lines))
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
