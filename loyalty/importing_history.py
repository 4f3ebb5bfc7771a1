"""Purchase-history import for migrated merchants (CSV or XLSX: phone, date, amount, points
paid, branch).

Files are read with the client import's reader (`crm.importing.readers.open_table`: encoding
and delimiter detection, XLSX via python-calamine, title rows above the header, spreadsheet
row numbers). Each row becomes a history purchase of an existing client: recorded as it
happened (points paid as given), with no cashback, referral or ledger movement — the balance
arrives as the opening balance of the client import — while the client's spend, purchase
count, first/last purchase and tier move. A row with any error is rejected whole and listed;
identical rows are counted as skipped; re-importing a file records nothing twice (each row's
external id is a digest of its values)."""

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from crm.importing.cleaning import parse_points
from crm.importing.errors import ImportFileError
from crm.importing.headers import normalize_header
from crm.importing.readers import open_table
from crm.models import Client
from crm.phones import InvalidPhone, normalize_phone
from loyalty.limits import amount_problem
from loyalty.models import PaymentType, Purchase, PurchaseSource
from onboarding.models import Branch, Merchant
from onboarding.money import q

from .services.purchases import PurchaseInput, purchase_record_many

HEADERS = {
    "phone": ("phone", "phone number", "телефон", "номер телефона", "мобильный", "тел"),
    "date": ("date", "purchase date", "time", "дата", "дата покупки", "время", "дата и время"),
    "amount": ("amount", "sum", "check amount", "сумма", "сумма покупки", "сумма чека", "чек"),
    "points": (
        "points paid",
        "points",
        "paid with points",
        "оплачено баллами",
        "списано баллов",
        "списано",
        "баллы",
    ),
    "branch": ("branch", "store", "филиал", "точка", "магазин", "точка продаж"),
}
_LOOKUP = {normalize_header(s): name for name, spellings in HEADERS.items() for s in spellings}
_DATETIME = re.compile(
    r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@dataclass
class HistoryReport:
    rows_total: int = 0
    created: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: list = field(default_factory=list)  # [{"row": n, "message": text}]
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {
            "rows_total": self.rows_total,
            "created": self.created,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
            "errors": self.errors,
        }


def parse_moment(value, tz) -> dt.datetime:
    """A purchase time from a cell, in the merchant's zone when it has none."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(12, 0))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not 1 <= value < 2958466:
            raise ValueError(_("“%(value)s” is not a date.") % {"value": value})
        moment = EXCEL_EPOCH + dt.timedelta(days=float(value))
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError(_("The date is empty."))
        m = _DATETIME.match(text)
        try:
            if m:
                d, mo, y, hh, mm, ss = m.groups()
                moment = dt.datetime(
                    int(y), int(mo), int(d), int(hh or 12), int(mm or 0), int(ss or 0)
                )
            else:
                moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                _("“%(value)s” is not a date (expected dd.mm.yyyy [hh:mm] or yyyy-mm-dd).")
                % {"value": text}
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def _key(phone: str, moment: dt.datetime, amount: Decimal, points: Decimal) -> str:
    raw = f"{phone}|{moment.astimezone(dt.UTC).isoformat()}|{amount}|{points}"
    return "import:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324 (an id, not security)


def purchases_import(
    *,
    merchant: Merchant,
    path: str,
    file_name: str = "",
    dry_run: bool = False,
    batch_size: int = 500,
) -> HistoryReport:
    """Import purchase history from a file; returns the report (errors by spreadsheet row)."""
    report = HistoryReport(dry_run=dry_run)
    table = open_table(path, file_name=file_name)
    try:
        columns = {}
        for index, header in enumerate(table.headers):
            name = _LOOKUP.get(normalize_header(header))
            if name and name not in columns:
                columns[name] = index
        missing = [n for n in ("phone", "date", "amount") if n not in columns]
        if missing:
            raise ImportFileError(
                _("Columns missing: %(columns)s.") % {"columns": ", ".join(missing)}
            )
        clients = dict(Client.objects.filter(merchant=merchant).values_list("phone", "pk"))
        branches = {b.name.strip().lower(): b for b in Branch.objects.filter(merchant=merchant)}
        tz = merchant.tzinfo
        seen: set[str] = set()
        pending: list[PurchaseInput] = []

        def cell(cells, name):
            index = columns.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        for number, cells in table.rows:
            report.rows_total += 1
            try:
                phone = normalize_phone(cell(cells, "phone"), merchant.country)
                client_id = clients.get(phone)
                if client_id is None:
                    raise ValueError(
                        _("No client with phone %(phone)s (import the client base first).")
                        % {"phone": phone}
                    )
                moment = parse_moment(cell(cells, "date"), tz)
                amount = parse_points(cell(cells, "amount"))
                if not amount:
                    raise ValueError(_("The amount must be more than zero."))
                if problem := amount_problem(amount):
                    raise ValueError(problem)
                points = parse_points(cell(cells, "points")) or Decimal(0)
                if points > amount:
                    raise ValueError(_("Points paid cannot be more than the check."))
                branch = None
                branch_name = str(cell(cells, "branch") or "").strip()
                if branch_name:
                    branch = branches.get(branch_name.lower())
                    if branch is None:
                        raise ValueError(_("Unknown branch “%(name)s”.") % {"name": branch_name})
            except (ValueError, InvalidPhone) as exc:
                report.rejected += 1
                report.errors.append({"row": number, "message": str(exc)})
                continue
            key = _key(phone, moment, q(amount), q(points))
            if key in seen:
                report.skipped += 1
                continue
            seen.add(key)
            pending.append(
                PurchaseInput(
                    client=Client(pk=client_id, merchant_id=merchant.pk),
                    amount=amount,
                    points_to_redeem=points,
                    payment_type=PaymentType.MIXED,  # history files do not say
                    source=PurchaseSource.IMPORT,
                    occurred_at=moment,
                    branch=branch,
                    external_id=key,
                    history=True,
                )
            )
            if len(pending) >= batch_size:
                _flush(merchant, pending, report, dry_run)
                pending = []
        _flush(merchant, pending, report, dry_run)
    finally:
        if callable(table.close):
            table.close()
    return report


def _flush(merchant, items, report, dry_run) -> None:
    if not items:
        return
    if dry_run:
        known = set(
            Purchase.objects.filter(
                merchant=merchant, external_id__in=[i.external_id for i in items]
            ).values_list("external_id", flat=True)
        )
        report.skipped += len(known)
        report.created += len(items) - len(known)
        return
    for result in purchase_record_many(merchant=merchant, items=items):
        if result.created:
            report.created += 1
        else:
            report.skipped += 1
