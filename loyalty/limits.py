"""Plausibility bounds of purchase input from outside — POS webhooks, the cashier page and the
purchase-history import share these rules (settings POS_MAX_AMOUNT, POS_EARLIEST_DATE,
POS_MAX_FUTURE_HOURS; docs/security.md, "Limits and settings").

An amount beyond the bound or a moment outside [earliest date, now + future hours] is refused
with a message, never stored: the database's money columns hold 12 digits before the point,
and a year-9999 purchase would sit on every report."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

# The money columns are numeric(14, 2): whatever the setting says, nothing larger is stored.
COLUMN_MAX = Decimal("9999999999.99")
# Line quantities (numeric(14, 3)); no till sells more of one item.
MAX_QUANTITY = Decimal(1_000_000)


def max_amount() -> Decimal:
    return min(Decimal(settings.POS_MAX_AMOUNT), COLUMN_MAX)


def amount_problem(value: Decimal) -> str | None:
    """Why an amount (of money or points) cannot be taken, or None."""
    if not value.is_finite():
        return _("%(value)s is not a number.") % {"value": value}
    if abs(value) > max_amount():
        return _("%(value)s is more than the largest amount allowed, %(max)s.") % {
            "value": value,
            "max": max_amount(),
        }
    return None


def max_amount_validator(value: Decimal) -> None:
    """Form validator: the amount bound (the cashier page)."""
    problem = amount_problem(Decimal(value))
    if problem:
        raise ValidationError(problem, code="max_amount")


def earliest_moment() -> dt.datetime:
    day = dt.date.fromisoformat(settings.POS_EARLIEST_DATE)
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def moment_problem(at: dt.datetime) -> str | None:
    """Why a purchase's moment is implausible (before the earliest date, or further ahead
    than the allowed clock skew), or None."""
    if at < earliest_moment():
        return _("%(at)s is before %(earliest)s, the earliest date accepted.") % {
            "at": at.isoformat(),
            "earliest": settings.POS_EARLIEST_DATE,
        }
    if at > timezone.now() + dt.timedelta(hours=settings.POS_MAX_FUTURE_HOURS):
        return _("%(at)s is in the future.") % {"at": at.isoformat()}
    return None
