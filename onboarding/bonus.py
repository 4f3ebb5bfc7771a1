"""The staff bonus: one module computes it, the report page, the exports and the close
action all call it.

Definitions
-----------
* Card sale: a purchase with a client (a bonus-card holder) and a staff member who served it
  (`Purchase.cashier`); its value is the check amount `Purchase.amount`. A refund
  (`loyalty.Refund`) subtracts its `amount` (refunds are in check-amount terms, like
  `Purchase.refunded_amount`).
* Period: a calendar month by default, in the merchant's local dates
  ([first day 00:00, day after the last 00:00) in the merchant's time zone).
* Bonus per staff member and period = (card sales − refunds landing in the period) ×
  the program's `staff_bonus_percent` / 100, rounded by `onboarding.money.q`. A period where
  refunds exceed sales gives a negative line (a claw-back).
* Landing rule. An event's *natural* period is the period of the purchase's `occurred_at`
  (for a refund: of its purchase's `occurred_at`, so a refund reduces the month of the sale).
  The event counts in its natural period when that period is open, or when it was recorded
  (`created_at`) before the period was closed. Otherwise — a late purchase, or a refund of a
  sale whose period is already closed — it counts in the period containing the moment it
  was recorded, i.e. the open period in which the refund happened.
* Closing a period computes its figures by that rule and stores them as `BonusLine` rows
  with the rate, who closed it and when; a closed period is only ever read from those rows.

All figures are aggregated in the database (two grouped queries per period).
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.exporting import csv_cell, escape_cell, spreadsheet_csv_writer
from loyalty.models import Program, Purchase, Refund
from onboarding.money import ZERO, percent_of, q

from .models import BonusLine, BonusPeriod, Merchant, OnboardingEvent, StaffMember

# --- Periods ------------------------------------------------------------------------------


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the month containing `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def period_for(*, merchant: Merchant, day: dt.date) -> BonusPeriod:
    """The merchant's bonus period containing `day` (a calendar month), created if missing."""
    existing = (
        BonusPeriod.objects.filter(merchant=merchant, start__lte=day, end__gte=day)
        .order_by("-start")
        .first()
    )
    if existing is not None:
        return existing
    start, end = month_bounds(day)
    period, _created = BonusPeriod.objects.get_or_create(
        merchant=merchant, start=start, defaults={"end": end}
    )
    return period


def period_peek(*, merchant: Merchant, day: dt.date) -> BonusPeriod:
    """The stored period containing `day`, or an unsaved open month (nothing is written)."""
    existing = (
        BonusPeriod.objects.filter(merchant=merchant, start__lte=day, end__gte=day)
        .order_by("-start")
        .first()
    )
    if existing is not None:
        return existing
    start, end = month_bounds(day)
    return BonusPeriod(merchant=merchant, start=start, end=end)


def _local_midnight(merchant: Merchant, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=merchant.tzinfo)


def period_range(merchant: Merchant, period: BonusPeriod) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the period as aware datetimes in the merchant's time zone."""
    return (
        _local_midnight(merchant, period.start),
        _local_midnight(merchant, period.end + dt.timedelta(days=1)),
    )


def merchant_start(merchant: Merchant) -> dt.date:
    """The first local day the merchant's figures can cover: the earliest of its launch date,
    the day it was added and its first recorded purchase (imported history included)."""
    days = [merchant.local_today()]
    if merchant.launch_date:
        days.append(merchant.launch_date)
    if merchant.created_at:
        days.append(merchant.created_at.astimezone(merchant.tzinfo).date())
    first = Purchase.objects.filter(merchant=merchant).aggregate(first=Min("occurred_at"))["first"]
    if first is not None:
        days.append(first.astimezone(merchant.tzinfo).date())
    return min(days)


def period_choices(*, merchant: Merchant) -> list[dt.date]:
    """First days of the months to offer, newest first: every month from the merchant's start
    (`merchant_start`) to the current local month, and any stored period."""
    today = merchant.local_today()
    firsts = set(BonusPeriod.objects.filter(merchant=merchant).values_list("start", flat=True))
    month = merchant_start(merchant).replace(day=1)
    while month <= today:
        firsts.add(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return sorted(firsts, reverse=True)


def default_period_day(*, merchant: Merchant) -> dt.date:
    """The month the bonus page opens on: the last finished month while it is still open (the
    one to check, close and pay), otherwise the current month."""
    today = merchant.local_today()
    previous = today.replace(day=1) - dt.timedelta(days=1)
    period = period_peek(merchant=merchant, day=previous)
    if period.status == BonusPeriod.Status.OPEN and period.end >= merchant_start(merchant):
        return previous
    return today


# --- Computation --------------------------------------------------------------------------


@dataclass
class BonusRow:
    staff_id: int | None
    staff_name: str
    branch_name: str
    purchases_count: int
    card_sales: Decimal
    refunds: Decimal
    net_sales: Decimal
    bonus: Decimal


@dataclass
class BonusReport:
    merchant: Merchant
    period: BonusPeriod
    rate_percent: Decimal
    rows: list[BonusRow]
    frozen: bool

    @property
    def totals(self) -> BonusRow:
        return BonusRow(
            staff_id=None,
            staff_name=_("Total"),
            branch_name="",
            purchases_count=sum(r.purchases_count for r in self.rows),
            card_sales=sum((r.card_sales for r in self.rows), ZERO),
            refunds=sum((r.refunds for r in self.rows), ZERO),
            net_sales=sum((r.net_sales for r in self.rows), ZERO),
            bonus=sum((r.bonus for r in self.rows), ZERO),
        )


def staff_bonus_rate(*, merchant: Merchant) -> Decimal:
    rate = Program.objects.filter(merchant=merchant).values_list("staff_bonus_percent", flat=True)
    return Decimal(rate.first() or 0)


def _late_condition(closed: list[dict], occurred: str) -> Q:
    """Events whose natural period is closed and that were recorded after it closed."""
    condition = Q(pk__in=[])
    for c in closed:
        condition |= Q(
            **{
                f"{occurred}__gte": c["from"],
                f"{occurred}__lt": c["to"],
                "created_at__gt": c["closed_at"],
            }
        )
    return condition


def _closed_ranges(merchant: Merchant, *, exclude: int | None) -> list[dict]:
    return [
        {"from": f, "to": t, "closed_at": p.closed_at}
        for p in BonusPeriod.objects.filter(
            merchant=merchant, status=BonusPeriod.Status.CLOSED
        ).exclude(pk=exclude)
        for f, t in [period_range(merchant, p)]
    ]


def _landing_condition(
    merchant: Merchant, period: BonusPeriod, occurred: str, closed: list[dict]
) -> Q:
    start, end = period_range(merchant, period)
    natural = Q(**{f"{occurred}__gte": start, f"{occurred}__lt": end})
    recorded_here = Q(created_at__gte=start, created_at__lt=end)
    return natural | (recorded_here & _late_condition(closed, occurred))


def bonus_compute(*, merchant: Merchant, period: BonusPeriod) -> list[BonusRow]:
    """Live figures of an OPEN period by the landing rule (see the module docstring)."""
    rate = staff_bonus_rate(merchant=merchant)
    closed = _closed_ranges(merchant, exclude=period.pk)
    sales = (
        Purchase.objects.filter(
            _landing_condition(merchant, period, "occurred_at", closed),
            merchant=merchant,
            client__isnull=False,
            cashier__isnull=False,
        )
        .values("cashier_id")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    refunds = (
        Refund.objects.filter(
            _landing_condition(merchant, period, "purchase__occurred_at", closed),
            merchant=merchant,
            purchase__client__isnull=False,
            purchase__cashier__isnull=False,
        )
        .values("purchase__cashier_id")
        .annotate(total=Sum("amount"))
    )
    by_staff: dict[int, dict] = {}
    for row in sales:
        by_staff.setdefault(row["cashier_id"], {"sales": ZERO, "count": 0, "refunds": ZERO})
        by_staff[row["cashier_id"]].update(sales=row["total"] or ZERO, count=row["count"])
    for row in refunds:
        entry = by_staff.setdefault(
            row["purchase__cashier_id"], {"sales": ZERO, "count": 0, "refunds": ZERO}
        )
        entry["refunds"] = row["total"] or ZERO
    staff = StaffMember.objects.filter(pk__in=by_staff).select_related("branch")
    rows = []
    for person in staff:
        figures = by_staff[person.pk]
        net = q(figures["sales"] - figures["refunds"])
        rows.append(
            BonusRow(
                staff_id=person.pk,
                staff_name=person.full_name,
                branch_name=person.branch.name if person.branch else "",
                purchases_count=figures["count"],
                card_sales=q(figures["sales"]),
                refunds=q(figures["refunds"]),
                net_sales=net,
                bonus=percent_of(net, rate),
            )
        )
    rows.sort(key=lambda r: (r.branch_name, r.staff_name, r.staff_id))
    return rows


def bonus_report(*, merchant: Merchant, period: BonusPeriod) -> BonusReport:
    """The period's report: frozen lines if closed, live figures if open."""
    if period.merchant_id != merchant.pk:
        raise ValidationError(_("The period belongs to another merchant."))
    if period.status == BonusPeriod.Status.CLOSED:
        rows = [
            BonusRow(
                staff_id=line.staff_id,
                staff_name=line.staff_name,
                branch_name=line.branch_name,
                purchases_count=line.purchases_count,
                card_sales=line.card_sales,
                refunds=line.refunds,
                net_sales=line.net_sales,
                bonus=line.bonus,
            )
            for line in period.lines.order_by("branch_name", "staff_name", "staff_id")
        ]
        return BonusReport(merchant, period, period.rate_percent or ZERO, rows, True)
    return BonusReport(
        merchant,
        period,
        staff_bonus_rate(merchant=merchant),
        bonus_compute(merchant=merchant, period=period),
        False,
    )


@transaction.atomic
def bonus_period_close(*, merchant: Merchant, period: BonusPeriod, actor=None) -> BonusPeriod:
    """Freeze an ended period: store its lines, the rate, who closed it and when.
    Raises ValidationError if it is already closed or has not ended yet."""
    period = BonusPeriod.objects.select_for_update().get(pk=period.pk, merchant=merchant)
    if period.status == BonusPeriod.Status.CLOSED:
        raise ValidationError(_("This period is already closed."))
    if period.end >= merchant.local_today():
        raise ValidationError(_("A period can be closed only after its last day."))
    closed_at = timezone.now()
    rows = bonus_compute(merchant=merchant, period=period)
    BonusLine.objects.bulk_create(
        BonusLine(
            merchant=merchant,
            period=period,
            staff_id=row.staff_id,
            staff_name=row.staff_name,
            branch_name=row.branch_name,
            purchases_count=row.purchases_count,
            card_sales=row.card_sales,
            refunds=row.refunds,
            net_sales=row.net_sales,
            bonus=row.bonus,
        )
        for row in rows
    )
    period.status = BonusPeriod.Status.CLOSED
    period.closed_at = closed_at
    period.closed_by = actor
    period.rate_percent = staff_bonus_rate(merchant=merchant)
    period.save(update_fields=["status", "closed_at", "closed_by", "rate_percent"])
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.PERIOD_CLOSED,
        actor=actor,
        details={
            "period": f"{period.start.isoformat()}..{period.end.isoformat()}",
            "bonus_total": str(sum((r.bonus for r in rows), ZERO)),
        },
    )
    return period


# --- Exports ------------------------------------------------------------------------------


def _export_header() -> list[str]:
    return [
        _("Staff"),
        _("Branch"),
        _("Card purchases"),
        _("Card sales"),
        _("Refunds"),
        _("Net card sales"),
        _("Bonus"),
    ]


def _export_rows(report: BonusReport) -> list[list]:
    rows = []
    for r in [*report.rows, report.totals]:
        rows.append(
            [
                escape_cell(str(r.staff_name)),
                escape_cell(r.branch_name),
                r.purchases_count,
                r.card_sales,
                r.refunds,
                r.net_sales,
                r.bonus,
            ]
        )
    return rows


def bonus_export_csv(report: BonusReport) -> bytes:
    """CSV of the report that opens as a table in a spreadsheet of the UI language (`;` and a
    decimal comma in Russian, UTF-8 with BOM: see `crm.exporting.csv_dialect`), formula-looking
    text escaped."""
    buffer = io.StringIO()
    writer, decimal_mark = spreadsheet_csv_writer(buffer)
    writer.writerow([str(h) for h in _export_header()])
    for row in _export_rows(report):
        writer.writerow([csv_cell(v, decimal_mark=decimal_mark) for v in row])
    return buffer.getvalue().encode("utf-8")


def bonus_export_xlsx(report: BonusReport) -> bytes:
    """XLSX of the report: numbers as numbers, text as text (never a formula cell)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Staff bonus")[:31])
    sheet.append([escape_cell(str(h)) for h in _export_header()])
    for row in _export_rows(report):
        cells = []
        for value in row:
            if isinstance(value, str):
                cells.append(_text_cell(sheet, value))
            else:
                cells.append(value)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _text_cell(sheet, value: str):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # a string, even when it starts with "=" (already escaped anyway)
    return cell
