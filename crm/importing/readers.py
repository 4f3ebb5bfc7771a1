"""Readers: turn a merchant's file (CSV in any usual encoding and delimiter, XLSX) into rows.

`open_table(path)` sniffs the content (never trusts the extension alone), finds the header row
(`detect.find_header`: the first row naming a phone column, or the row of text above the first
row holding a phone number, title rows above it allowed; or no header row at all), takes the
first workbook sheet that holds phone numbers, and streams the data rows as
`(row_number, cells)`, where the row number is the one a spreadsheet shows: a CSV record's ordinal
(the header line is row 1 when it is the first line; a quoted newline does not start a new row)
or the real sheet row of an XLSX. Nothing holds the whole file in memory except python-calamine,
which keeps one XLSX sheet's cells — so a workbook passes `workbooks.workbook_check` (declared and
real extents, unpacked size, the reader's memory) before python-calamine opens it. A CSV is read
line by line with a cap on the line length (IMPORT_MAX_LINE_CHARS) and on the columns
(IMPORT_MAX_COLUMNS), so one 200 MB line or a million columns are refused, not loaded."""

import codecs
import csv
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from .detect import SAMPLE_ROWS, column_label, find_header
from .errors import ImportFileError, NoPhoneColumn
from .headers import looks_like_header
from .workbooks import workbook_check

SAMPLE_BYTES = 256 * 1024
HEADER_SCAN_ROWS = 30
MAX_SHEETS = 10
DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(1024 * 1024)


@dataclass
class Table:
    kind: str  # "csv" | "xlsx"
    header_row: int
    headers: list
    rows: Iterator  # of (row_number, cells)
    encoding: str = ""
    delimiter: str = ""
    size: int = 0
    rows_hint: int | None = None  # XLSX: rows in the sheet; CSV: unknown until read
    position: object = field(default=None, repr=False)  # callable → bytes read so far
    close: object = field(default=None, repr=False)
    has_header: bool = True
    sheet: str = ""
    sample: list = field(default_factory=list, repr=False)  # first data rows' cells


def _is_blank(cells) -> bool:
    for cell in cells:
        if cell is not None and cell != "" and not (isinstance(cell, str) and not cell.strip()):
            return False
    return True


def open_table(
    path: str, *, file_name: str = "", region: str = "RU", names: frozenset = frozenset()
) -> Table:
    """Open `path` as a table or raise ImportFileError with one clear message. `region` decides
    what a phone number is; `names` are extra header spellings (a preset's, a hand mapping's)."""
    name = (file_name or os.path.basename(path)).lower()
    size = os.path.getsize(path)
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return _open_workbook(path, size, region, names)
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")):
        raise ImportFileError(
            _("The file is named %(name)s but is not an Excel workbook (damaged or truncated?).")
            % {"name": file_name or os.path.basename(path)}
        )
    return _open_csv(path, head, size, region, names)


# --- CSV -------------------------------------------------------------------------------------


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise ImportFileError(
            _("The file is not a text table (binary content). Save it as CSV or XLSX and retry.")
        )
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if control > max(4, len(head) // 200):
        raise ImportFileError(
            _("The file is not a text table (binary content). Save it as CSV or XLSX and retry.")
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1251")
    except UnicodeDecodeError:
        raise ImportFileError(
            _("The file's encoding is not recognised (expected UTF-8 or Windows-1251).")
        ) from None
    return "cp1251"


def _detect_delimiter(sample: str) -> str:
    """The delimiter that splits the first records into the most consistent multi-column rows;
    the header row (the one naming a phone column) decides when present."""
    lines = sample.splitlines()[:HEADER_SCAN_ROWS]
    best, best_score = ",", (-1, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        except csv.Error:
            continue
        header = next((r for r in records if looks_like_header(r)), None)
        widths = [len(r) for r in records if len(r) > 1]
        if not widths and header is None:
            continue
        mode = max(set(widths), key=widths.count) if widths else 1
        score = (
            1 if header is not None and len(header) > 1 else 0,
            widths.count(mode) * mode,
        )
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open_csv(path: str, head: bytes, size: int, region: str, names: frozenset) -> Table:
    encoding = _detect_encoding(head)
    sample = head.decode(encoding, errors="ignore")
    if not sample.strip().strip("\ufeff"):
        raise ImportFileError(_("The file is empty."))
    delimiter = _detect_delimiter(sample)
    handle = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the caller
    max_line = settings.IMPORT_MAX_LINE_CHARS
    max_columns = settings.IMPORT_MAX_COLUMNS

    def lines():
        # csv.reader would take a whole physical line however long it is; a bounded readline
        # keeps one hostile 200 MB line from being loaded (a quoted newline continues a record
        # on the next line, so records stay intact).
        while True:
            line = handle.readline(max_line + 1)
            if not line:
                return
            if len(line) > max_line:
                raise _LineTooLong
            yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    raw = handle.buffer

    def records():
        number = 0
        try:
            for cells in reader:
                number += 1
                if len(cells) > max_columns:
                    while cells and not cells[-1].strip():
                        cells.pop()
                    if len(cells) > max_columns:
                        raise ImportFileError(
                            _(
                                "Row %(row)s has %(count)s columns; the limit is %(limit)s. Is "
                                "the delimiter right? Delete the extra columns and upload again."
                            )
                            % {"row": number, "count": len(cells), "limit": max_columns}
                        )
                yield number, cells
        except _LineTooLong:
            raise ImportFileError(
                _(
                    "Row %(row)s is longer than %(limit)s characters: this is not a table a "
                    "spreadsheet saves (a binary file, or quotes that never close?)."
                )
                % {"row": number + 1, "limit": max_line}
            ) from None
        except csv.Error as exc:
            raise ImportFileError(
                _("The file cannot be read as CSV near row %(row)s: %(error)s")
                % {"row": number + 1, "error": exc}
            ) from None
        except UnicodeDecodeError:
            raise ImportFileError(
                _("The file's encoding breaks after row %(row)s (mixed encodings?).")
                % {"row": number + 1}
            ) from None

    try:
        table = _locate(records(), region, names)
    except BaseException:
        handle.close()
        raise
    return Table(
        kind="csv",
        header_row=table.header_row,
        headers=table.headers,
        rows=table.rows,
        has_header=table.has_header,
        sample=table.sample,
        encoding=encoding.replace("-sig", " (BOM)"),
        delimiter=delimiter,
        size=size,
        position=lambda: raw.tell(),
        close=handle.close,
    )


# --- XLSX ------------------------------------------------------------------------------------


class _LineTooLong(Exception):
    pass


def _open_workbook(path: str, size: int, region: str, names: frozenset) -> Table:
    from python_calamine import CalamineWorkbook

    workbook_check(path)  # raises ImportFileError before the reader can run out of memory
    try:
        workbook = CalamineWorkbook.from_path(path)
        visible = [
            i
            for i, m in enumerate(workbook.sheets_metadata)
            if str(m.visible).endswith("Visible") and str(m.typ).endswith("WorkSheet")
        ]
    except Exception as exc:  # calamine raises its own error types for zip/xml damage
        raise ImportFileError(
            _("The Excel file cannot be read (damaged or truncated?): %(error)s") % {"error": exc}
        ) from None
    first_error = None
    # An instruction or summary sheet may come first: take the first sheet holding phones.
    for index in (visible or [0])[:MAX_SHEETS]:
        try:
            table = _open_sheet(workbook, index, size, region, names)
        except NoPhoneColumn as exc:
            first_error = first_error or exc
            continue
        except BaseException:
            workbook.close()
            raise
        table.sheet = workbook.sheet_names[index] if len(visible) > 1 else ""
        return table
    workbook.close()
    raise first_error


def _open_sheet(workbook, index: int, size: int, region: str, names: frozenset) -> Table:
    try:
        sheet = workbook.get_sheet_by_index(index)
        height = sheet.height
        rows_iter = sheet.iter_rows()
    except Exception as exc:  # calamine raises its own error types for zip/xml damage
        raise ImportFileError(
            _("The Excel file cannot be read (damaged or truncated?): %(error)s") % {"error": exc}
        ) from None

    def records():
        number = 0
        try:
            for cells in rows_iter:
                number += 1
                yield number, cells
        except Exception as exc:
            raise ImportFileError(
                _("The Excel file cannot be read near row %(row)s: %(error)s")
                % {"row": number + 1, "error": exc}
            ) from None

    table = _locate(records(), region, names)
    start = sheet.start[0] if sheet.start else 0
    table.kind = "xlsx"
    table.size = size
    table.rows_hint = max(0, start + height - table.header_row)
    table.close = workbook.close
    return table


# --- header ----------------------------------------------------------------------------------


def _locate(records: Iterator, region: str, names: frozenset) -> Table:
    """Consume title rows up to the header (if any); keep a sample of the first data rows for
    the column detection and return the table with an iterator over every data row."""
    scanned = []
    for number, cells in records:
        if _is_blank(cells):
            continue
        scanned.append((number, cells))
        if looks_like_header(cells) or len(scanned) >= HEADER_SCAN_ROWS:
            break
    if not scanned:
        raise ImportFileError(_("The file is empty."))
    header_pos, data_pos = find_header(scanned, region=region, names=names)
    rows = itertools.chain(scanned[data_pos:], _data_rows(records))
    sample = list(itertools.islice(rows, SAMPLE_ROWS))
    rows = itertools.chain(sample, rows)
    if header_pos is not None:
        number, cells = scanned[header_pos]
        headers = ["" if c is None else str(c).strip() for c in cells]
        has_header = True
    else:
        number = 0
        width = max(len(cells) for _n, cells in sample)
        headers = [column_label(i) for i in range(width)]
        has_header = False
    return Table(
        kind="csv",
        header_row=number,
        headers=headers,
        rows=rows,
        has_header=has_header,
        sample=[cells for _n, cells in sample],
    )


def _data_rows(records: Iterator) -> Iterator:
    for number, cells in records:
        if not _is_blank(cells):
            yield number, cells
