"""A refunded purchase's lines: locked with the purchase (one statement on PostgreSQL), made
for a purchase recorded before lines were kept, and measured for a repeat of a refund."""

from django.db import connection

from loyalty.models import Purchase, PurchaseLine
from onboarding.money import ZERO, q

from .errors import RefundError
from .lines import (
    RefundLineInput,
    allocate,
    line_figures,
    line_rewards,
    lines_from_totals,
    refund_split,
)


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


def purchase_locked(purchase: Purchase) -> tuple[Purchase, list[PurchaseLine]]:
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
