"""The workbook guard: decide from the raw bytes whether a spreadsheet is safe to hand to the reader.

python-calamine builds the whole first sheet in memory as a dense grid spanning the used area
(about 32 bytes per grid cell, plus about 40 bytes per cell element while it is being built), and
keeps every shared string. A 2 KB XLSX with cells in A1 and XFD1048576 therefore asks for about
512 GiB, and a 1 MB zip can unpack to gigabytes. So before the reader sees a workbook,
`workbook_check(path)` walks the package itself, in bounded memory and bounded time:

- the zip directory is read first: too many members, duplicate names or a declared unpacked size
  over IMPORT_MAX_DECOMPRESSED_BYTES are refused before anything is unpacked;
- every XML part is unpacked in 1 MB chunks and never past its declared size (Python's zip reader
  stops there and checks the CRC, so a member lying about its size is refused as damaged);
- a document type declaration (entities: "billion laughs") is refused — Excel never writes one;
- every sheet's declared `dimension` and its real cell extents (every `<c>` element) are
  checked against IMPORT_MAX_ROWS and IMPORT_MAX_COLUMNS, and the reader's memory for the grid,
  the cell elements and the strings is estimated against IMPORT_WORKBOOK_MEMORY_BYTES.

Anything refused raises ImportFileError with one message (Russian and English) that says what to
do. OpenDocument (.ods), binary (.xlsb) and legacy (.xls) workbooks are refused with a hint to
save as XLSX or CSV: their readers cannot be bounded the same way.

Over 400 lines: one idea, a streaming walk of the XLSX package whose every bound must hold together."""

import re
import struct
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ImportFileError

CHUNK = 1024 * 1024
MAX_MEMBERS = 10_000
MAX_SMALL_PART = 16 * 1024 * 1024  # workbook.xml and its relationships
# What the reader spends (bytes), measured with python-calamine 0.9 on this machine.
GRID_CELL_BYTES = 32
CELL_ELEMENT_BYTES = 40
STRING_BYTES = 56

_TAG = rb"<(?:[A-Za-z_][\w.-]*:)?"
_CELL_ANY = re.compile(_TAG + rb"c[\s/>]")
_ROW_OR_CELL = re.compile(_TAG + rb"(row|c)((?:\s[^>]*)?)/?>")
_R_ATTR = re.compile(rb"\sr=\"([A-Z]{0,4})([0-9]{1,9})\"")
_TEXT = re.compile(_TAG + rb"[tv](?:\s[^>]*)?>([^<]*)")
_SHARED = re.compile(_TAG + rb"si[\s>]")
_DIMENSION = re.compile(
    _TAG + rb"dimension\s[^>]*?\bref=\"([A-Z]{1,4})?([0-9]{1,8})?:?([A-Z]{1,4})?([0-9]{1,8})?\""
)
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


def limits() -> dict:
    """The limits in force (settings, documented in docs/security.md)."""
    upload = settings.IMPORT_MAX_UPLOAD_BYTES
    return {
        "rows": settings.IMPORT_MAX_ROWS,
        "columns": settings.IMPORT_MAX_COLUMNS,
        "unpacked": getattr(settings, "IMPORT_MAX_DECOMPRESSED_BYTES", None) or 20 * upload,
        "memory": settings.IMPORT_WORKBOOK_MEMORY_BYTES,
    }


@dataclass
class WorkbookFacts:
    """What the guard learned: the first sheet's used area and the reader's expected memory."""

    unpacked: int = 0
    rows: int = 0
    columns: int = 0
    cell_elements: int = 0
    text_bytes: int = 0
    shared_strings: int = 0
    memory: int = 0


def column_number(letters: bytes | str) -> int:
    """A1-style column letters → 1-based number (A=1, XFD=16384)."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    number = 0
    for char in letters:
        number = number * 26 + (ord(char) - 64)
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters or "A"


def _mb(value: int) -> str:
    return f"{value / 1048576:.0f}" if value >= 10 * 1048576 else f"{value / 1048576:.1f}"


def _damaged(detail: str = "") -> ImportFileError:
    message = _("The Excel file cannot be read (damaged or truncated?)")
    return ImportFileError(f"{message}: {detail}" if detail else message + ".")


def _zip_member_count(path: str) -> int:
    """Members announced by the end-of-central-directory record (read before zipfile loads the
    directory, which costs ~0.5 KB of memory per member)."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 66 * 1024))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise _damaged(_("no zip directory"))
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])
    return entries


def workbook_unpacked_size(path: str) -> int | None:
    """The declared unpacked size of a zip workbook (its directory only; cheap), or None when the
    file is not a readable zip. Used to send big-when-unpacked workbooks to the worker."""
    try:
        if _zip_member_count(path) > MAX_MEMBERS:
            return None
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (ImportFileError, OSError, zipfile.BadZipFile, ValueError, EOFError):
        return None


def workbook_check(path: str) -> WorkbookFacts:
    """Refuse (ImportFileError, one clear message) a workbook the reader cannot open within the
    limits; return the facts of one that it can. Reads at most the declared unpacked size, in
    1 MB chunks."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic == b"\xd0\xcf\x11\xe0":
        raise ImportFileError(
            _(
                "Old Excel 97–2003 workbooks (.xls) and password-protected workbooks are not "
                "accepted. Open the file in Excel and save it as .xlsx (or as CSV), then upload "
                "it again."
            )
        )
    limit = limits()
    if _zip_member_count(path) > MAX_MEMBERS:
        raise _damaged(_("too many parts in the zip package"))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _damaged(str(exc)) from None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise _damaged(_("a part of the package appears twice"))
        if "xl/workbook.xml" not in names:
            if "content.xml" in names or "mimetype" in names:
                raise ImportFileError(
                    _(
                        "OpenDocument spreadsheets (.ods) are not accepted. Save the file as "
                        ".xlsx or CSV and upload it again."
                    )
                )
            if "xl/workbook.bin" in names:
                raise ImportFileError(
                    _(
                        "Binary Excel workbooks (.xlsb) are not accepted. Save the file as .xlsx "
                        "or CSV and upload it again."
                    )
                )
            raise _damaged(_("it is a zip archive but not an Excel workbook"))
        if any(info.flag_bits & 0x1 for info in infos):
            raise _damaged(_("an encrypted part"))
        facts = WorkbookFacts(unpacked=sum(info.file_size for info in infos))
        if facts.unpacked > limit["unpacked"]:
            raise _too_big_unpacked(facts.unpacked, limit["unpacked"])
        # The reader may open any sheet (the data can follow an instruction sheet): check each.
        sheets = {n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
        budget = limit["unpacked"]
        for info in infos:
            if not info.filename.endswith((".xml", ".rels")) or info.is_dir():
                continue
            if info.filename in sheets:
                budget -= _scan_sheet(archive, info, facts, limit, budget)
            elif info.filename == "xl/sharedStrings.xml":
                budget -= _scan_shared_strings(archive, info, facts, budget)
            else:
                budget -= _scan_part(archive, info, budget)
    _check_memory(facts, limit)
    return facts


def _check_memory(facts: WorkbookFacts, limit: dict, rows: int = 0, columns: int = 0) -> None:
    """Refuse as soon as the reader's memory (so far) is over the budget: a bomb is stopped after
    a few hundred MB of scanning, not after the whole unpacked size."""
    rows, columns = max(rows, facts.rows), max(columns, facts.columns)
    facts.memory = (
        rows * columns * GRID_CELL_BYTES
        + facts.cell_elements * CELL_ELEMENT_BYTES
        + facts.shared_strings * STRING_BYTES
        + facts.text_bytes
    )
    if facts.memory > limit["memory"]:
        raise ImportFileError(
            _(
                "The workbook is too large to read safely: its first sheet spans %(rows)s rows × "
                "%(columns)s columns (%(cells)s cells) and would need about %(need)s MB of memory; "
                "the limit is %(limit)s MB. Delete empty rows and columns around the data, split "
                "the file, or save it as CSV (a CSV file has no such limit)."
            )
            % {
                "rows": rows,
                "columns": columns,
                "cells": rows * columns,
                "need": _mb(facts.memory),
                "limit": _mb(limit["memory"]),
            }
        )


def _too_big_unpacked(size: int, limit: int) -> ImportFileError:
    return ImportFileError(
        _(
            "The workbook unpacks to %(size)s MB or more; the limit is %(limit)s MB (a small "
            "compressed file can hide a huge one). Save the sheet as CSV or split the file."
        )
        % {"size": _mb(size), "limit": _mb(limit)}
    )


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int):
    """The member's bytes in chunks, refusing past `budget`, DTDs and CRC/size mismatches."""
    read = 0
    tail = b""
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                read += len(chunk)
                if read > budget:
                    raise _too_big_unpacked(read, limits()["unpacked"])
                if _DTD.search(tail + chunk):
                    raise ImportFileError(
                        _(
                            "The workbook contains a document type declaration (%(part)s), which "
                            "Excel never writes; it is refused. Save the file again in Excel or "
                            "as CSV."
                        )
                        % {"part": info.filename}
                    )
                tail = chunk[-16:]
                yield chunk
    except zipfile.BadZipFile as exc:
        raise _damaged(str(exc)) from None
    except (OSError, EOFError, NotImplementedError, RuntimeError) as exc:  # zlib, methods
        raise _damaged(str(exc)) from None


def _scan_part(archive, info, budget) -> int:
    size = 0
    for chunk in _chunks(archive, info, budget):
        size += len(chunk)
    return size


def _scan_shared_strings(archive, info, facts: WorkbookFacts, budget) -> int:
    size = 0
    carry = b""
    for chunk in _chunks(archive, info, budget):
        size += len(chunk)
        data = carry + chunk
        cut = data.rfind(b">") + 1
        block, carry = data[:cut], data[cut:]
        facts.shared_strings += len(_SHARED.findall(block))
        facts.text_bytes += sum(map(len, _TEXT.findall(block)))
        _check_memory(facts, limits())
    return size


def _greater_number(value: int) -> bytes:
    """A regex for decimal numbers greater than `value` (leading zeros allowed)."""
    digits = str(value)
    options = [f"[1-9][0-9]{{{len(digits)},}}"]
    for i, digit in enumerate(digits):
        if digit != "9":
            options.append(f"{digits[:i]}[{int(digit) + 1}-9][0-9]{{{len(digits) - i - 1}}}")
    return ("0*(?:" + "|".join(options) + ")").encode()


def _greater_letters(value: int) -> bytes:
    """A regex for column letters after column number `value`."""
    letters = column_letters(value) if value else ""
    options = [f"[A-Z]{{{len(letters) + 1},}}"]
    for i, char in enumerate(letters):
        if char != "Z":
            options.append(f"{letters[:i]}[{chr(ord(char) + 1)}-Z][A-Z]{{{len(letters) - i - 1}}}")
    return ("(?:" + "|".join(options) + ")").encode()


_ROW_R = re.compile(rb"<row r=\"([0-9]{1,9})\"")
# A literal prefix lets the regex engine skip ahead quickly (a sheet can hold millions of cells).
_REF = re.compile(rb" r=\"([A-Z]{1,4})([0-9]{1,9})\"")
_INLINE_TEXT = re.compile(rb"<t[ >]([^<]*)")
_VALUE_TEXT = re.compile(rb"<v>([^<]*)")


class _Extent:
    """The used area's far corner (rows and columns counted from A1, as a conservative bound on
    the reader's grid). Kept exact with few regex matches: a block is searched for a reference
    beyond the corner known so far, and only then are its references all read."""

    def __init__(self):
        self.max_row = self.max_col = 0
        self.row = self.col = 0  # position for cells that omit their reference
        self._beyond = None

    def beyond(self) -> re.Pattern:
        if self._beyond is None:
            self._beyond = re.compile(
                rb" r=\"(?:"
                + _greater_letters(self.max_col)
                + rb"[0-9]|[A-Z]{1,4}"
                + _greater_number(self.max_row)
                + rb"\")"
            )
        return self._beyond

    def grow(self, rows, cols) -> None:
        row, col = max(rows, default=0), max(cols, default=0)
        if row > self.max_row or col > self.max_col:
            self.max_row, self.max_col = max(row, self.max_row), max(col, self.max_col)
            self._beyond = None

    @property
    def rows(self) -> int:
        return self.max_row

    @property
    def columns(self) -> int:
        return self.max_col


def _scan_sheet(archive, info, facts: WorkbookFacts, limit: dict, budget) -> int:
    """Count the sheet's cells and find their extent; check the declared dimension first."""
    size = 0
    carry = b""
    extent = _Extent()
    for chunk in _chunks(archive, info, budget):
        first = size == 0
        size += len(chunk)
        data = carry + chunk
        cut = data.rfind(b">") + 1
        block, carry = data[:cut], data[cut:]
        if first:
            _check_dimension(block, limit)
        count = block.count(b"<c ") + block.count(b"<c>") + block.count(b"<c/")
        namespaced = b":c " in block or b":c>" in block or b":c/" in block
        if namespaced:  # a namespace prefix on the elements (valid, if unusual)
            count = len(_CELL_ANY.findall(block))
        if namespaced or count != block.count(b'<c r="'):
            _walk(block, extent)
        else:
            # Rows first: in the usual file they raise the corner so no cell is beyond it.
            extent.grow([int(r) for r in _ROW_R.findall(block)[-1:]], [])
            if extent.beyond().search(block):
                refs = _REF.findall(block)
                extent.grow(
                    [int(r) for _c, r in refs], [column_number(c) for c in {c for c, _r in refs}]
                )
            last = block.rfind(b'<c r="')
            if last >= 0:
                ref = _REF.search(block, last + 2)
                if ref:
                    extent.row, extent.col = int(ref.group(2)), column_number(ref.group(1))
        facts.cell_elements += count
        if namespaced:
            facts.text_bytes += sum(map(len, _TEXT.findall(block)))
        else:
            if b"inlineStr" in block:
                facts.text_bytes += sum(map(len, _INLINE_TEXT.findall(block)))
            if b't="str"' in block:
                facts.text_bytes += sum(map(len, _VALUE_TEXT.findall(block)))
        _check_extent(extent, limit)
        _check_memory(facts, limit, extent.rows, extent.columns)
    # Several candidate sheets (first one unknown): keep the worst.
    facts.rows, facts.columns = max(facts.rows, extent.rows), max(facts.columns, extent.columns)
    return size


def _walk(block: bytes, extent: _Extent) -> None:
    """Slow path, for sheets whose cells omit `r` or carry a namespace prefix."""
    rows, cols = [], []
    for match in _ROW_OR_CELL.finditer(block):
        kind, attrs = match.group(1), match.group(2) or b""
        ref = _R_ATTR.search(attrs)
        if kind == b"row":
            extent.row = int(ref.group(2)) if ref else extent.row + 1
            extent.col = 0
            rows.append(extent.row)
            continue
        if ref and ref.group(1):
            extent.row, extent.col = int(ref.group(2)), column_number(ref.group(1))
        else:
            extent.col += 1
        rows.append(max(extent.row, 1))
        cols.append(extent.col)
    extent.grow(rows, cols)


def _check_extent(extent: _Extent, limit: dict) -> None:
    if extent.max_col > limit["columns"]:
        raise _too_wide(extent.max_col, limit["columns"])
    if extent.max_row > limit["rows"]:
        raise _too_long(extent.max_row, limit["rows"])


def _check_dimension(block: bytes, limit: dict) -> None:
    match = _DIMENSION.search(block)
    if not match:
        return
    _c1, _r1, c2, r2 = match.groups()
    if c2 and column_number(c2) > limit["columns"]:
        raise _too_wide(column_number(c2), limit["columns"])
    if r2 and int(r2) > limit["rows"]:
        raise _too_long(int(r2), limit["rows"])


def _too_wide(columns: int, limit: int) -> ImportFileError:
    return ImportFileError(
        _(
            "The first sheet reaches column %(letters)s (%(columns)s columns); the limit is "
            "%(limit)s. Delete the empty columns to the right of the data (or save the sheet as "
            "CSV) and upload it again."
        )
        % {"letters": column_letters(columns), "columns": columns, "limit": limit}
    )


def _too_long(rows: int, limit: int) -> ImportFileError:
    return ImportFileError(
        _(
            "The first sheet reaches row %(rows)s; the limit is %(limit)s rows. Delete the empty "
            "rows below the data, or split the file, and upload it again."
        )
        % {"rows": rows, "limit": limit}
    )
