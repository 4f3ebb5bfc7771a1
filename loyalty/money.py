"""The one rounding rule for money and points.

Money and points are Decimal with two places. Every computed amount (cashback, caps,
referral percentages, proportional refunds) is rounded half-up to 0.01 by `q()`;
nothing is ever a float.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def q(value) -> Decimal:
    """Round to 0.01, half up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def q_down(value) -> Decimal:
    """Round toward zero to 0.01 — for caps, so a cap is never exceeded by rounding."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def percent_of(amount, percent) -> Decimal:
    """`percent`% of `amount`, rounded by the one rule."""
    return q(Decimal(amount) * Decimal(percent) / HUNDRED)
