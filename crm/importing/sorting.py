"""From a file's rows to the write chunks: each row cleaned, counted, its errors reported, and
in-file duplicates of a phone skipped (the first occurrence wins). This runs in the importing
process or, for big files, all of it in a second process (`parallel`) while the first writes:
either way the same code decides every count, message and chunk."""

from array import array
from collections.abc import Iterator

from django.utils.translation import gettext as _

from .headers import PHONE

# The first chunk is smaller: the writes (the database's share, the larger one) start after a
# thousand rows are cleaned rather than after a full chunk.
FIRST_CHUNK_ROWS = 1000


class FirstRows:
    """The phones seen so far in the file, for in-file duplicates, with the row each was first
    seen on: an open-addressing hash table of the phones' digits in one `array("q")` and their
    first rows in an `array("i")` beside it (12 bytes a slot, at most half the slots used: ≈ 24
    MB at 1 000 000 phones, against ≈ 76 MB for a set of ints plus the two arrays, or ≈ 110 MB
    for a {digits: first row} dict). A duplicate's message names the first row; it is written
    when the file ends (`name_first_rows`)."""

    _MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads phones that share their last digits

    def __init__(self, expected: int = 0):
        bits = 12
        while (1 << bits) < 2 * expected:
            bits += 1
        self._allot(bits)
        self.used = 0
        self.repeats: list[tuple[int, str, dict]] = []  # (digits, phone, its error)

    def _allot(self, bits: int) -> None:
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.digits = array("q", bytes(8 << bits))  # 0: a free slot (no E.164 number is 0)
        self.rows = array("i", bytes(4 << bits))

    def _slot(self, digits: int) -> int:
        """The slot holding `digits`, or the free slot where it would go."""
        table, mask = self.digits, self.mask
        slot = (digits * self._MIX >> 24) & mask
        while True:
            held = table[slot]
            if held == digits or held == 0:
                return slot
            slot = (slot + 1) & mask

    def first(self, digits: int, row: int) -> bool:
        """Record the phone; False if it was seen before. (`_slot` inlined: once a row.)"""
        table, mask = self.digits, self.mask
        slot = (digits * self._MIX >> 24) & mask
        while held := table[slot]:
            if held == digits:
                return False
            slot = (slot + 1) & mask
        table[slot] = digits
        self.rows[slot] = row
        self.used += 1
        if 2 * self.used > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        digits, rows = self.digits, self.rows
        self._allot(self.bits + 1)
        for held, row in zip(digits, rows, strict=True):
            if held:
                slot = self._slot(held)
                self.digits[slot] = held
                self.rows[slot] = row

    def repeat(self, digits: int, phone: str, error: dict | None) -> None:
        if error is not None:
            self.repeats.append((digits, phone, error))

    def name_first_rows(self) -> None:
        """Write each duplicate's message, now that the file has ended."""
        for digits, phone, error in self.repeats:
            error["message"] = _(
                "Duplicate of row %(row)s (%(phone)s): the first occurrence was imported."
            ) % {"row": self.rows[self._slot(digits)], "phone": phone}
        self.repeats = []


def write_chunks(table, cleaner, report, size: int) -> Iterator[tuple[list, int, float]]:
    """Yield (records to write, rows read so far, fraction of the file read) for every
    `size` new phones (the first chunk: at most `FIRST_CHUNK_ROWS`), in file order; `report`
    gets the rows, rejections, duplicates and their messages (a duplicate's names its first
    row once the file has ended)."""
    phones = FirstRows(expected=table.rows_hint or table.size // 100)  # CSV: ~100 B a row
    chunk = []
    limit = min(size, FIRST_CHUNK_ROWS)
    phone_label = cleaner.label(PHONE)
    clean = cleaner.clean
    for number, cells in table.rows:
        record, errors = clean(number, cells)
        report.rows_total += 1
        if record is None:
            report.rejected += 1
            for column, message in errors:
                report.add_error(number, column, message)
            continue
        digits = int(record.phone[1:])
        if not phones.first(digits, number):
            report.skipped += 1
            report.duplicates += 1
            error = report.add_error(number, phone_label, "")
            phones.repeat(digits, record.phone, error)
            continue
        chunk.append(record)
        if len(chunk) >= limit:
            yield chunk, report.rows_total, fraction_read(table, report.rows_total)
            chunk, limit = [], size
    phones.name_first_rows()
    if chunk:
        yield chunk, report.rows_total, fraction_read(table, report.rows_total)


def fraction_read(table, done: int) -> float:
    if table.rows_hint:
        return min(0.99, done / table.rows_hint)
    try:
        if table.position is not None and table.size:
            return min(0.99, table.position() / table.size)
    except (OSError, ValueError):
        return 0.0
    return 0.0
