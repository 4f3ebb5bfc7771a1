"""Client-base export (CSV, XLSX, JSON), streamed so a million clients fit in little memory.

Every text cell that a spreadsheet would read as a formula is written with a leading `'`, in
every format: one starting with `=`, `+`, `-`, `@`, `|`, a tab or a carriage return — also after
leading whitespace, line breaks or invisible characters, and in their fullwidth or small forms
(`＝`, `＋`, `－`, `＠`, `｜`, `﹦`…), which some spreadsheets and input methods treat as the
ASCII sign. An exported XLSX
holds only string, number and date cells, never a formula. The phone column is E.164 (`+` and
digits only), which no spreadsheet evaluates to anything but the number, so it is written as is.
Import stores such text unchanged; escaping happens here, on the way out."""

import csv
import datetime as dt
import io
import json
import re
import unicodedata
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from crm.models import Client
from onboarding.access import visible_merchants

FORMATS = ("csv", "xlsx", "json")
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r")
_FORMULA_SIGNS = frozenset("=+-@|")
# Skipped before looking for a sign: whitespace of any kind (str.isspace) and invisible format
# characters (zero-width space/joiners, word joiner, byte-order mark).
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_E164 = re.compile(r"\+\d{6,15}")

# (column name in the file, Client field). Column names are import synonyms: re-importable.
COLUMNS = [
    ("phone", "phone"),
    ("full_name", "full_name"),
    ("birthday", "birthday"),
    ("email", "email"),
    ("gender", "gender"),
    ("card_code", "card_code"),
    ("source_kind", "source"),
    ("source_detail", "source_detail"),
    ("balance", "balance"),
    ("imported", "imported"),
    ("joined_at", "joined_at"),
    ("created_at", "created_at"),
]
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


# --- CSV a person opens in a spreadsheet ----------------------------------------------------
# Excel reads a CSV with the list separator and decimal mark of the computer's regional
# settings: in Russian (decimal comma) that is `;` and `,`, so a comma-separated file opens as
# one column and "12.50" as a date or text. Our CSVs follow the UI language the same way:
# where the language's decimal mark is a comma, cells are separated by `;` and decimals written
# with a comma; otherwise `,` and `.`. Every CSV starts with a UTF-8 BOM (Excel needs it to read
# Cyrillic), times are the merchant's local time, text that looks like a formula is escaped.
# The importer detects either separator, so an exported file re-imports as it is.


def csv_dialect() -> tuple[str, str]:
    """(delimiter, decimal mark) for CSVs in the active language: (";", ",") in Russian."""
    from django.utils.formats import get_format

    decimal_mark = get_format("DECIMAL_SEPARATOR")
    return (";", ",") if decimal_mark == "," else (",", ".")


def csv_cell(value, *, decimal_mark: str = ".", tz=None) -> str:
    """One value as CSV text: decimals with `decimal_mark`, times local to `tz`, booleans 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal | float):
        return str(value).replace(".", decimal_mark)
    if isinstance(value, dt.datetime):
        if tz is not None:
            value = value.astimezone(tz)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def spreadsheet_csv_writer(text_out):
    """A csv.writer on `text_out` in the active language's dialect, after a UTF-8 BOM; returns
    (writer, decimal mark)."""
    delimiter, decimal_mark = csv_dialect()
    text_out.write("\ufeff")
    return csv.writer(text_out, delimiter=delimiter), decimal_mark


def escape_cell(value):
    """`'`-prefix text a spreadsheet would evaluate (see the module doc); other values unchanged.
    The one escaping rule of every export."""
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in FORMULA_START:
        return "'" + value
    if first.isascii() and not first.isspace():
        return value  # the common case: plain text, digits, letters
    rest = value.lstrip()
    while rest and (rest[0] in _INVISIBLE or rest[0].isspace()):
        rest = rest[1:].lstrip()
    if rest and unicodedata.normalize("NFKC", rest[0])[:1] in _FORMULA_SIGNS:
        return "'" + value
    return value


def _escape_row(row: tuple) -> list:
    out = list(row)
    for i, value in enumerate(out):
        if i == 0 and isinstance(value, str) and _E164.fullmatch(value):
            continue
        out[i] = escape_cell(value)
    return out


def client_export_rows(*, merchant, chunk_size: int = 2000):
    """The merchant's clients as escaped rows in COLUMNS order, streamed from the database."""
    fields = [f for _c, f in COLUMNS]
    queryset = Client.objects.filter(merchant=merchant).order_by("pk").values_list(*fields)
    for row in queryset.iterator(chunk_size=chunk_size):
        yield _escape_row(row)


def clients_export(*, merchant, fmt: str, out, user=None) -> int:
    """Write the merchant's clients to the binary stream `out` in `fmt`; return the row count.
    With `user`, the merchant must be one the user may see (PermissionDenied otherwise)."""
    if fmt not in FORMATS:
        raise ValueError(_("Unknown format %(fmt)s: use csv, xlsx or json.") % {"fmt": fmt})
    if user is not None and not visible_merchants(user).filter(pk=merchant.pk).exists():
        raise PermissionDenied(_("You cannot export this merchant's clients."))
    rows = client_export_rows(merchant=merchant)
    if fmt == "xlsx":
        return _write_xlsx(rows, out, tz=merchant.tzinfo)
    if fmt == "csv":
        return _write_csv(rows, out, tz=merchant.tzinfo)
    return _write_json(rows, out)


def _write_csv(rows, out, *, tz=None) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer, decimal_mark = spreadsheet_csv_writer(text)
    writer.writerow([c for c, _f in COLUMNS])
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v, decimal_mark=decimal_mark, tz=tz) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def _write_json(rows, out) -> int:
    names = [c for c, _f in COLUMNS]
    out.write(b"[")
    count = 0
    for row in rows:
        obj = {}
        for name, value in zip(names, row, strict=True):
            if isinstance(value, dt.datetime | dt.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            obj[name] = value
        out.write((b",\n" if count else b"\n") + json.dumps(obj, ensure_ascii=False).encode())
        count += 1
    out.write(b"\n]\n")
    return count


def _write_xlsx(rows, out, *, tz) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "remove_timezone": True,
        },
    )
    sheet = workbook.add_worksheet("clients")
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    time_format = workbook.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    bold = workbook.add_format({"bold": True})
    for col, (name, _f) in enumerate(COLUMNS):
        sheet.write_string(0, col, name, bold)
    count = 0
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value.astimezone(tz).replace(tzinfo=None), time_format)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, Decimal | int | float):
                sheet.write_number(r, c, float(value))
            else:
                sheet.write_string(r, c, str(value))
        count += 1
    workbook.close()
    return count
