"""Reading and cleaning in a second process, for big files on a machine with more than one core.

Reading, cleaning (phones, dates, e-mails, points) and the in-file duplicate check are pure
Python and hold the GIL, so a thread cannot overlap them with the writes; a forked process can.
The importing process opens the file and chooses the columns; the second process, forked then,
carries on reading the file from where the first stopped, cleans and de-duplicates every row
(`sorting.write_chunks`, the code the in-process import runs) and sends the write chunks back in
file order through a pipe, so duplicates, row numbers and messages are exactly those of the
in-process run. The importing process only writes. The pipe holds one chunk: the reader never
runs more than a chunk ahead of the writes, so memory stays flat.

The second process only reads and computes: it never touches the database (the transaction,
the claims and every write stay in the importing process) and leaves through `os._exit`, so
nothing of the parent's connections is closed or flushed from it. If it dies, the import fails
and its transaction rolls back like any other failure; a file-level error it meets (a broken
encoding half-way, …) is raised in the importing process as if met there. Small files, one-core
machines and processes that may not fork (daemonic workers) read and clean in-process
(`use_second_process` decides)."""

import datetime as dt
import gc
import logging
import multiprocessing
import os
import pickle
from array import array
from collections.abc import Iterator
from decimal import Decimal
from itertools import repeat

from django.conf import settings
from django.utils import translation

from .cleaning import Record
from .sorting import write_chunks

logger = logging.getLogger(__name__)

# What the second process reports back when the file ends (the rest of the report is the
# writer's).
_READ_FIELDS = ("rows_total", "rejected", "duplicates", "errors", "errors_truncated")


def use_second_process(size: int) -> bool:
    """Whether a file of `size` bytes is read and cleaned in a second process."""
    threshold = settings.IMPORT_PARALLEL_MIN_BYTES
    if threshold <= 0 or size < threshold or (os.cpu_count() or 1) < 2:
        return False
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not have children
    return "fork" in multiprocessing.get_all_start_methods()


def chunks_to_write(table, cleaner, report, size: int, *, parallel: bool) -> Iterator:
    """Yield (records, rows read so far, fraction read) in file order, as
    `sorting.write_chunks` does; with `parallel`, from a second process. When the generator is
    exhausted `report` holds the rows read, rejected and skipped as duplicates and their
    messages, and a recording cleaner (a dry run's) its rejected rows. Exceptions of the reader
    (a broken file) propagate from here as they would in-process."""
    if not parallel:
        yield from write_chunks(table, cleaner, report, size)
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    skipped_before = report.skipped
    process = context.Process(
        target=_second_process,
        args=(sender, table, cleaner, report, size, translation.get_language()),
        name="import-reader",
        daemon=True,
    )
    process.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = pickle.loads(receiver.recv_bytes())
            except EOFError:
                process.join(5)
                raise RuntimeError(
                    "The import's reading process terminated abruptly "
                    f"(exit code {process.exitcode}); nothing was written."
                ) from None
            if kind == "chunk":
                columns, rows_read, fraction = payload
                yield unpack_records(columns), rows_read, fraction
            elif kind == "error":
                raise payload
            else:
                for name in _READ_FIELDS:
                    setattr(report, name, payload[name])
                report.skipped += payload["skipped"] - skipped_before
                if payload["rejected_rows"] is not None:
                    cleaner.rejected = payload["rejected_rows"]
                return
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _second_process(sender, table, cleaner, report, size: int, language: str | None) -> None:
    # Everything inherited stays as it is: the collector leaves the parent's objects alone
    # (no copy-on-write of their pages) and nothing is closed or flushed at exit.
    gc.freeze()
    code = 0
    try:
        if language:
            translation.activate(language)
        try:
            for records, rows_read, fraction in write_chunks(table, cleaner, report, size):
                message = ("chunk", (pack_records(records), rows_read, fraction))
                sender.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
            done = {name: getattr(report, name) for name in _READ_FIELDS}
            done["skipped"] = report.skipped
            done["rejected_rows"] = getattr(cleaner, "rejected", None)
            message = ("done", done)
            sender.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ConnectionResetError):
            code = 1  # the importing process stopped reading: it failed or was stopped
        except BaseException as exc:  # sent to the importing process, raised there
            try:
                data = pickle.dumps(("error", exc), pickle.HIGHEST_PROTOCOL)
            except Exception:
                data = pickle.dumps(("error", RuntimeError(str(exc))), pickle.HIGHEST_PROTOCOL)
            sender.send_bytes(data)
    except BaseException:
        logger.exception("The import's reading process failed")
        code = 1
    finally:
        os._exit(code)


# A chunk crosses the pipe as columns, one per Record field, each in the cheapest exact form
# its values allow: pickling 5 000 records one by one rebuilt every record, date and amount
# through its constructor on the importing side (the writes' process) and memoised every text.
_SEPARATOR = "\x1f"  # joins a text column; a column holding it is sent as it is
_NONE, _TEXT, _INTS, _DATES, _AMOUNTS, _AS_IS = range(6)
_DATE, _NONE_TYPE = dt.date, type(None)


def pack_records(records: list[Record]) -> tuple:
    """The records as (count, columns) for `unpack_records`, which rebuilds them exactly."""
    return len(records), [_pack_column(values) for values in zip(*records, strict=True)]


def unpack_records(packed: tuple) -> list[Record]:
    count, columns = packed
    if not count:
        return []
    values = [_unpack_column(column, count) for column in columns]
    return list(map(Record._make, zip(*values, strict=True)))


def _pack_column(values: tuple) -> tuple:
    kinds = set(map(type, values))
    if kinds == {_NONE_TYPE}:
        return (_NONE,)
    if kinds == {str}:
        text = _SEPARATOR.join(values)
        if text.count(_SEPARATOR) == len(values) - 1:
            return _TEXT, text
    elif kinds == {int}:
        try:
            return _INTS, array("q", values).tobytes()
        except OverflowError:
            pass
    elif kinds <= {_DATE, _NONE_TYPE}:  # `date` exactly: a datetime is sent as it is
        return _DATES, array("i", [0 if v is None else v.toordinal() for v in values]).tobytes()
    elif kinds <= {Decimal, _NONE_TYPE}:
        # An amount's text gives back the same Decimal, its exponent included; "" is None.
        return _AMOUNTS, _SEPARATOR.join(["" if v is None else str(v) for v in values])
    return _AS_IS, values


def _unpack_column(column: tuple, count: int):
    kind = column[0]
    if kind == _NONE:
        return repeat(None, count)
    if kind == _TEXT:
        return column[1].split(_SEPARATOR)
    if kind == _INTS:
        return array("q", column[1])
    if kind == _DATES:
        ordinals = array("i", column[1])
        # A column's dates repeat (birthdays): each distinct one is built once.
        dates = {o: dt.date.fromordinal(o) for o in set(ordinals) if o}
        dates[0] = None
        return map(dates.__getitem__, ordinals)
    if kind == _AMOUNTS:
        texts = column[1].split(_SEPARATOR)
        amounts = {t: Decimal(t) for t in set(texts) if t}
        amounts[""] = None
        return map(amounts.__getitem__, texts)
    return column[1]
