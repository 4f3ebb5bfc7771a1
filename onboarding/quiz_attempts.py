"""How many quiz attempts a staff member has left: at most `QUIZ_MAX_ATTEMPTS` attempts at one
module within any `QUIZ_ATTEMPT_PERIOD_HOURS` (a rolling window), so answers cannot be found
by trying combinations. An attempt beyond the limit is refused with the local time the next
one opens (the oldest attempt in the window plus the period)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import ngettext

from .localtime import format_local
from .models import Attestation, StaffMember, TrainingModule


def quiz_max_attempts() -> int:
    return max(int(getattr(settings, "QUIZ_MAX_ATTEMPTS", 3)), 1)


def quiz_attempt_period() -> dt.timedelta:
    return dt.timedelta(hours=max(float(getattr(settings, "QUIZ_ATTEMPT_PERIOD_HOURS", 24)), 0))


@dataclass(frozen=True)
class AttemptAllowance:
    left: int  # attempts the staff member may still make now
    limit: int
    next_at: dt.datetime | None  # when the next attempt opens (None while some are left)

    def message(self, merchant) -> str:
        """The refusal shown when no attempt is left, the time in the merchant's zone."""
        return ngettext(
            "You have used the %(count)d attempt allowed for this quiz. "
            "The next attempt opens on %(when)s.",
            "You have used all %(count)d attempts allowed for this quiz. "
            "The next attempt opens on %(when)s.",
            self.limit,
        ) % {"count": self.limit, "when": format_local(self.next_at, merchant)}


def quiz_attempts_left(
    *, staff: StaffMember, module: TrainingModule, at: dt.datetime | None = None
) -> AttemptAllowance:
    """The attempts `staff` may still make at `module` at the moment `at` (default: now)."""
    at = at or timezone.now()
    limit, period = quiz_max_attempts(), quiz_attempt_period()
    recent = list(
        Attestation.objects.filter(
            staff=staff, module=module, taken_at__gt=at - period, taken_at__lte=at
        )
        .order_by("-taken_at")
        .values_list("taken_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return AttemptAllowance(left=limit - len(recent), limit=limit, next_at=None)
    # The limit-th newest attempt leaves the window first.
    return AttemptAllowance(left=0, limit=limit, next_at=recent[-1] + period)


def quiz_attempt_check(*, staff: StaffMember, module: TrainingModule, at: dt.datetime) -> None:
    """Raise ValidationError (with the time the next attempt opens) when none is left."""
    allowance = quiz_attempts_left(staff=staff, module=module, at=at)
    if not allowance.left:
        raise ValidationError(allowance.message(staff.merchant), code="quiz_attempts")
