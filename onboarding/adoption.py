"""The cashier adoption loop: per cashier and branch, the week's share of checks with a
loyalty card (POS and cashier page alike), beside the cashier's attestation and staff bonus;
a branch below the merchant's target share raises an alert (hub and portfolio).

A week is Monday to Sunday in the merchant's local dates; by default the last full one.
One aggregate query for the checks, one for the staff, three for attestation and the bonus
period's figures — never a query per cashier or per check. What counts as a till check, its
local week and its share are `loyalty.till_share`'s (the cashier page shows a cashier's own
share from there)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count

from loyalty.till_share import CARD, last_full_week, share, till_checks, week_window

from .bonus import bonus_report, period_peek
from .facts import staff_attestation
from .models import Branch, Merchant, StaffMember


@dataclass
class CashierAdoption:
    staff_id: int | None
    name: str
    branch_id: int | None
    checks: int
    card_checks: int
    attested: bool | None  # None: no training modules yet
    bonus: Decimal | None  # the bonus period containing the week; None: no bonus line

    @property
    def share(self) -> Decimal | None:
        return share(self.card_checks, self.checks)


@dataclass
class BranchAdoption:
    branch_id: int | None
    name: str
    checks: int = 0
    card_checks: int = 0
    target: int = 0
    cashiers: list[CashierAdoption] = field(default_factory=list)

    @property
    def share(self) -> Decimal | None:
        return share(self.card_checks, self.checks)

    @property
    def below_target(self) -> bool:
        return self.share is not None and self.share < self.target


@dataclass
class WeekAdoption:
    merchant: Merchant
    start: dt.date  # Monday
    end: dt.date  # Sunday
    target: int
    branches: list[BranchAdoption]

    @property
    def alerts(self) -> list[BranchAdoption]:
        return [b for b in self.branches if b.branch_id is not None and b.below_target]

    @property
    def checks(self) -> int:
        return sum(b.checks for b in self.branches)

    @property
    def card_checks(self) -> int:
        return sum(b.card_checks for b in self.branches)


def _week_start(merchant: Merchant, week_start: dt.date | None) -> dt.date:
    start = week_start or last_full_week(merchant.local_today())
    return start - dt.timedelta(days=start.weekday())


def _counted(windows: dict, *by: str) -> list[dict]:
    """Checks and checks with a card per merchant and `by`, one query for all the windows."""
    return list(
        till_checks(windows)
        .values("merchant_id", *by)
        .annotate(checks=Count("pk"), card=Count("pk", filter=CARD))
        .order_by()
    )


def _week(merchant: Merchant, start: dt.date, names: dict, rows: list[dict]) -> WeekAdoption:
    """The week's branches (the active ones, and any other the checks name) with their totals."""
    target = merchant.adoption_target_percent
    branches: dict[int | None, BranchAdoption] = {
        pk: BranchAdoption(pk, name, target=target) for pk, name in names.items()
    }
    for row in rows:
        branch = branches.setdefault(
            row["branch_id"], BranchAdoption(row["branch_id"], "", target=target)
        )
        branch.checks += row["checks"]
        branch.card_checks += row["card"]
    ordered = sorted(branches.values(), key=lambda b: (b.branch_id is None, b.name))
    end = start + dt.timedelta(days=6)
    return WeekAdoption(merchant=merchant, start=start, end=end, target=target, branches=ordered)


def _active_branches(merchant_ids) -> dict[int, dict[int, str]]:
    names: dict[int, dict[int, str]] = {pk: {} for pk in merchant_ids}
    active = Branch.objects.filter(merchant_id__in=merchant_ids, is_active=True)
    for merchant_id, pk, name in active.values_list("merchant_id", "pk", "name"):
        names[merchant_id][pk] = name
    return names


def adoption_week(*, merchant: Merchant, week_start: dt.date | None = None) -> WeekAdoption:
    """Checks and checks with a card per branch and cashier over one local week (default:
    the last full week), with each cashier's attestation and staff bonus."""
    start = _week_start(merchant, week_start)
    rows = _counted({merchant.pk: week_window(merchant, start)}, "branch_id", "cashier_id")
    staff = {s.pk: s for s in StaffMember.objects.filter(pk__in={r["cashier_id"] for r in rows})}
    week = _week(merchant, start, _active_branches([merchant.pk])[merchant.pk], rows)
    modules, attested, _staff = staff_attestation([merchant.pk])
    has_modules = bool(modules[merchant.pk])
    period = period_peek(merchant=merchant, day=week.end)
    bonuses = {r.staff_id: r.bonus for r in bonus_report(merchant=merchant, period=period).rows}
    branches = {b.branch_id: b for b in week.branches}
    for row in rows:
        person = staff.get(row["cashier_id"])
        branches[row["branch_id"]].cashiers.append(
            CashierAdoption(
                staff_id=row["cashier_id"],
                name=person.full_name if person else "",
                branch_id=row["branch_id"],
                checks=row["checks"],
                card_checks=row["card"],
                attested=(row["cashier_id"] in attested[merchant.pk]) if has_modules else None,
                bonus=bonuses.get(row["cashier_id"]),
            )
        )
    for branch in week.branches:
        branch.cashiers.sort(key=lambda c: (c.staff_id is None, c.name, c.staff_id or 0))
    return week


def adoption_weeks(*, merchants: list[Merchant]) -> dict[int, WeekAdoption]:
    """Each merchant's last full local week by branch (no cashier detail), for a portfolio:
    two queries whatever the number of merchants."""
    starts = {m.pk: _week_start(m, None) for m in merchants}
    windows = {m.pk: week_window(m, starts[m.pk]) for m in merchants}
    rows: dict[int, list[dict]] = {m.pk: [] for m in merchants}
    for row in _counted(windows, "branch_id") if merchants else []:
        rows[row["merchant_id"]].append(row)
    names = _active_branches([m.pk for m in merchants]) if merchants else {}
    return {m.pk: _week(m, starts[m.pk], names[m.pk], rows[m.pk]) for m in merchants}
