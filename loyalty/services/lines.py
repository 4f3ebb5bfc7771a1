"""A check's lines and what each of them earned and paid.

At the sale every line gets its share of the points paid (only lines points may pay: regular
ones, or all when the program lets points pay promo items), of the certificate, of the
cashback and of the referral base. Shares are allocated with cumulative rounding, so they add
up to the purchase's totals to the kopeck. A refund of a line then reverses exactly its own
shares (`line_share`), cumulatively, so returning every line reverses every total."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from loyalty.models import PurchaseLine
from onboarding.money import ZERO, q

from .errors import LoyaltyError, RefundError

CHECK, PAID = "check", "paid"


@dataclass
class LineInput:
    """One item as the till or the cashier page describes it (amount after discounts)."""

    amount: Decimal
    promo: bool = False
    quantity: Decimal = Decimal(1)
    external_id: str = ""
    name: str = ""


@dataclass
class RefundLineInput:
    """A returned item: its external line id (or 1-based position) and how much of it; with
    neither quantity nor amount, all that is left of it."""

    external_id: str = ""
    position: int | None = None
    quantity: Decimal | None = None
    amount: Decimal | None = None


def lines_from_totals(amount: Decimal, excluded: Decimal, *, named: bool = True) -> list[LineInput]:
    """The cashier page's check as its regular and promo parts (one line each, if not zero);
    `named` False leaves the lines unnamed (a forecast replaying a million checks)."""
    lines = []
    if amount - excluded > 0 or not excluded:
        name = _("Regular items") if named else ""
        lines.append(LineInput(amount=q(amount - excluded), name=name))
    if excluded > 0:
        name = _("Promo items") if named else ""
        lines.append(LineInput(amount=q(excluded), promo=True, name=name))
    return lines


def lines_validate(lines: list[LineInput]) -> tuple[Decimal, Decimal]:
    """(check amount, promo part) of validated lines; raise LoyaltyError on nonsense."""
    if not lines:
        raise LoyaltyError(_("A check needs at least one line."))
    total = promo = ZERO
    seen = set()
    for line in lines:
        line.amount = q(line.amount)
        line.quantity = Decimal(line.quantity if line.quantity is not None else 1)
        if line.amount < 0 or line.quantity <= 0:
            raise LoyaltyError(_("A line's amount cannot be negative nor its quantity zero."))
        if line.external_id:
            if line.external_id in seen:
                raise LoyaltyError(
                    _("Line id “%(id)s” appears twice in the check.") % {"id": line.external_id}
                )
            seen.add(line.external_id)
        total += line.amount
        if line.promo:
            promo += line.amount
    return q(total), q(promo)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` by `weights` with cumulative rounding: the parts add up to `total`."""
    if len(weights) == 1:  # one line takes the whole (rounded) total
        return [q(total)] if total and weights[0] > 0 else [ZERO]
    weight_sum = sum(weights, ZERO)
    if not total or weight_sum <= 0:
        return [ZERO] * len(weights)
    parts, running, given = [], ZERO, ZERO
    for weight in weights:
        running += weight
        upto = q(total * running / weight_sum)
        parts.append(upto - given)
        given = upto
    return parts


def line_figures(
    *,
    lines: list[PurchaseLine],
    points: Decimal,
    certificate_used: Decimal,
    promo_redeemable: bool,
    promo_earns: bool,
) -> Decimal:
    """Give each line its share of the points and certificate paid; return the accrual base
    (money paid on lines that earn). Cashback and referral shares are set by `line_rewards`."""
    if len(lines) == 1:  # the common check: the same steps without the lists
        line = lines[0]
        eligible = line.amount if (promo_redeemable or not line.promo) else ZERO
        line.points_paid = allocate(points, (eligible,))[0]
        room = max(eligible - line.points_paid, ZERO)
        line.certificate_paid = allocate(certificate_used, (room,))[0]
        return q(_earning(line, promo_earns))
    eligible = [ln.amount if (promo_redeemable or not ln.promo) else ZERO for ln in lines]
    for line, part in zip(lines, allocate(points, eligible), strict=True):
        line.points_paid = part
    room = [max(e - ln.points_paid, ZERO) for e, ln in zip(eligible, lines, strict=True)]
    for line, part in zip(lines, allocate(certificate_used, room), strict=True):
        line.certificate_paid = part
    return q(sum((_earning(ln, promo_earns) for ln in lines), ZERO))


def _earning(line: PurchaseLine, promo_earns: bool) -> Decimal:
    if line.promo and not promo_earns:
        return ZERO
    return max(line.amount - line.points_paid - line.certificate_paid, ZERO)


def line_rewards(
    *, lines: list[PurchaseLine], accrued: Decimal, promo_earns: bool, referral_base: str
) -> Decimal:
    """Give each line its share of the cashback and of the referral base; return the
    referral base (the check amount, or the money paid that earns, per the program)."""
    if len(lines) == 1:  # the common check: the same steps without the lists
        line = lines[0]
        earning = _earning(line, promo_earns)
        line.cashback = allocate(accrued, (earning,))[0]
        line.referral_base = line.amount if referral_base == CHECK else earning
        return q(line.referral_base)
    earning = [_earning(ln, promo_earns) for ln in lines]
    for line, part in zip(lines, allocate(accrued, earning), strict=True):
        line.cashback = part
    for line, base in zip(lines, earning, strict=True):
        line.referral_base = line.amount if referral_base == CHECK else base
    return q(sum((ln.referral_base for ln in lines), ZERO))


def line_share(total: Decimal, line: PurchaseLine, before: Decimal, after: Decimal) -> Decimal:
    """The part of a line's `total` that refunds of the line from `before` to `after` reverse."""
    if line.amount <= 0:
        return q(total) if after > before else ZERO
    return q(total * after / line.amount) - q(total * before / line.amount)


def refund_split(
    *,
    lines: list[PurchaseLine],
    amount: Decimal | None,
    promo_amount: Decimal | None,
    returned: list[RefundLineInput] | None,
) -> dict[int, Decimal]:
    """How much of each line (by position) a refund takes back.

    Named lines take what they name (a quantity is priced at the line's average price);
    an amount with its promo part is spread over the regular and the promo lines by what is
    left of each; an amount alone is spread over all lines by what is left of each. Raises
    RefundError when more is asked than is left."""
    left = {ln.position: q(ln.amount - ln.refunded_amount) for ln in lines}
    split: dict[int, Decimal] = {}
    if returned:
        by_id = {ln.external_id: ln for ln in lines if ln.external_id}
        by_pos = {ln.position: ln for ln in lines}
        for item in returned:
            line = by_id.get(item.external_id) if item.external_id else None
            if line is None and item.position is not None:
                line = by_pos.get(item.position)
            if line is None:
                raise RefundError(
                    _("The check has no line “%(id)s”.") % {"id": item.external_id or item.position}
                )
            if item.amount is not None:
                value = q(item.amount)
            elif item.quantity is not None and line.quantity:
                value = q(line.amount * Decimal(item.quantity) / line.quantity)
            else:
                value = left[line.position] - split.get(line.position, ZERO)
            split[line.position] = q(split.get(line.position, ZERO) + value)
    else:
        amount = q(amount or 0)
        if promo_amount is None:
            groups = [(lines, amount)]
        else:
            promo_amount = q(promo_amount)
            if promo_amount < 0 or promo_amount > amount:
                raise RefundError(_("The promo part cannot be negative or more than the refund."))
            groups = [
                ([ln for ln in lines if not ln.promo], amount - promo_amount),
                ([ln for ln in lines if ln.promo], promo_amount),
            ]
        for group, value in groups:
            if not value:
                continue
            room = [left[ln.position] for ln in group]
            if value > sum(room, ZERO):
                raise RefundError(
                    _("At most %(remaining)s of these items can still be refunded.")
                    % {"remaining": q(sum(room, ZERO))}
                )
            for line, part in zip(group, allocate(value, room), strict=True):
                split[line.position] = q(split.get(line.position, ZERO) + part)
    for position, value in split.items():
        if value < 0 or value > left[position]:
            raise RefundError(
                _("At most %(remaining)s of line %(line)s can still be refunded.")
                % {"remaining": left[position], "line": position}
            )
    return {pos: value for pos, value in split.items() if value > 0}
