"""Till checks with a loyalty card: the rule the cashier adoption loop counts by.

A till check is a sale at the till — the cashier page or a POS (Evotor, Poster); imported
history is not one. Its share with a card is checks with a client ÷ all checks, per local
week (Monday to Sunday in the merchant's zone). The cashier page shows the serving cashier their
own share here; the adoption loop (`onboarding.adoption`, a floor above) builds the per-branch
and per-cashier figures, the alerts and the portfolio column on the same functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q

from onboarding.models import Merchant, StaffMember
from onboarding.money import q

from .models import Purchase

TILL_SOURCES = ("cashier", "evotor", "poster")


def share(card: int, checks: int) -> Decimal | None:
    return q(Decimal(card) * 100 / checks) if checks else None


def last_full_week(today: dt.date) -> dt.date:
    """The Monday of the last full week before `today`'s week."""
    return today - dt.timedelta(days=today.weekday() + 7)


def week_window(merchant: Merchant, start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware instants bounding the local week (Monday to Sunday) that holds `start`."""
    monday = start - dt.timedelta(days=start.weekday())
    tz = merchant.tzinfo
    since = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time.min, tzinfo=tz)
    return since, until


def till_checks(windows: dict[int, tuple[dt.datetime, dt.datetime]]):
    """The checks that count for adoption: till sales (POS and cashier page), each merchant's
    in its own window ({merchant pk: (since, until)}, until excluded)."""
    within = Q(pk__in=[])
    for merchant_id, (since, until) in windows.items():
        within |= Q(merchant_id=merchant_id, occurred_at__gte=since, occurred_at__lt=until)
    return Purchase.objects.filter(within, source__in=TILL_SOURCES)


CARD = Q(client__isnull=False)


@dataclass(frozen=True)
class CashierShare:
    """One cashier's own checks with a card: this week so far and the last full week."""

    start: dt.date  # this week's Monday
    last_start: dt.date
    checks: int
    card_checks: int
    last_checks: int
    last_card_checks: int
    target: int

    @property
    def share(self) -> Decimal | None:
        return share(self.card_checks, self.checks)

    @property
    def last_end(self) -> dt.date:
        return self.last_start + dt.timedelta(days=6)

    @property
    def last_share(self) -> Decimal | None:
        return share(self.last_card_checks, self.last_checks)

    @property
    def below_target(self) -> bool:
        return self.share is not None and self.share < self.target


def cashier_share(*, merchant: Merchant, staff: StaffMember) -> CashierShare:
    """The cashier's own share of checks with a card this local week (Monday to today) and
    last week, beside the merchant's target. One aggregate query."""
    today = merchant.local_today()
    last_start = last_full_week(today)
    since, _ = week_window(merchant, last_start)
    this_since, until = week_window(merchant, today)
    this_week, last_week = Q(occurred_at__gte=this_since), Q(occurred_at__lt=this_since)
    row = (
        till_checks({merchant.pk: (since, until)})
        .filter(cashier=staff)
        .aggregate(
            checks=Count("pk", filter=this_week),
            card=Count("pk", filter=this_week & CARD),
            last_checks=Count("pk", filter=last_week),
            last_card=Count("pk", filter=last_week & CARD),
        )
    )
    return CashierShare(
        start=this_since.date(),
        last_start=last_start,
        checks=row["checks"],
        card_checks=row["card"],
        last_checks=row["last_checks"],
        last_card_checks=row["last_card"],
        target=merchant.adoption_target_percent,
    )
