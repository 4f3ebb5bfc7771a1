"""The one import service: admin, the Celery task and the command all call `clients_import`.

Contract: the whole file is applied in one transaction — row errors are reported and the other
rows go in; a file-level failure (unreadable file, no phone column, too big, a database error,
a crash half-way) rolls back everything. A dry run reads, validates and looks up exactly the same
way and writes nothing."""

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.access import visible_merchants

from .choice import ColumnChoice, reason_lines
from .choice import note_columns as note_columns_of
from .cleaning import RowCleaner
from .errors import ImportFileError
from .fixes import RecordingCleaner, rows_with_fixes
from .headers import PHONE
from .parallel import chunks_to_write, use_second_process
from .readers import open_table
from .undo import RecordingWriter
from .upkeep import (
    client_indexes_deferred,
    foreign_keys_checked_per_statement,
    sqlite_page_cache,
)
from .writer import ClientWriter

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5000
MAX_REPORTED_ERRORS = 100_000
PREVIEW_ROWS = 50


@dataclass
class ImportReport:
    file_name: str
    merchant: str
    dry_run: bool
    overwrite: bool
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    duplicates: int = 0
    opening_balances: int = 0
    errors: list = field(default_factory=list)
    errors_truncated: bool = False
    unknown_columns: list = field(default_factory=list)
    note_columns: list = field(default_factory=list)  # columns kept as the client's note
    columns: dict = field(default_factory=dict)
    header_row: int = 0
    has_header: bool = True
    sheet: str = ""
    preset: str = ""
    column_reasons: list = field(default_factory=list)
    rejected_rows: list = field(default_factory=list)  # a dry run's first rejected rows' cells
    fixed_rows: int = 0
    written_at: str = ""  # the run's timestamp on what it wrote (undo finds its rows by it)
    encoding: str = ""
    delimiter: str = ""
    preview: list = field(default_factory=list)

    def add_error(self, row: int, column: str, message: str) -> dict | None:
        """Append a row error; return it (None once the list is full)."""
        if len(self.errors) < MAX_REPORTED_ERRORS:
            error = {"row": row, "column": column, "message": message}
            self.errors.append(error)
            return error
        self.errors_truncated = True
        return None

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        data["delimiter"] = {"\t": "tab"}.get(self.delimiter, self.delimiter)
        return data


def check_file_size(size: int) -> None:
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size > limit:
        raise ImportFileError(
            _("The file is too big: %(size)s MB, the limit is %(limit)s MB.")
            % {"size": round(size / 1048576, 1), "limit": round(limit / 1048576, 1)}
        )


def clients_import(
    *,
    merchant,
    path: str,
    file_name: str = "",
    user=None,
    dry_run: bool = False,
    overwrite: bool = False,
    on_progress: Callable[[int, float], None] | None = None,
    before_commit: Callable[[ImportReport], None] | None = None,
    column_map: dict | None = None,
    ignore_columns: list | tuple = (),
    preset: str = "",
    fixes: dict | None = None,
    note_columns: list | tuple = (),
) -> ImportReport:
    """Import a client file into `merchant` (if `user` is given, it must see the merchant).

    Returns the report (counts, row errors, unknown columns); raises ImportFileError — with
    nothing written — when the file cannot be imported as a whole. `before_commit(report)` runs
    inside the write transaction after the last row (not for a dry run); whatever it raises rolls
    everything back and propagates. Columns are found by headers and content (`detect`);
    `column_map` ({field: column}), `ignore_columns`, `note_columns` (kept as the client's note)
    and `preset` steer that choice. `fixes`
    ({row: {field: value}}, from the preview) are laid over the file's rows."""
    file_name = file_name or os.path.basename(path)
    if user is not None and not visible_merchants(user).filter(pk=merchant.pk).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    check_file_size(os.path.getsize(path))
    report = ImportReport(
        file_name=file_name, merchant=merchant.slug, dry_run=dry_run, overwrite=overwrite
    )
    choose = ColumnChoice(
        region=merchant.country,
        today=merchant.local_today(),
        column_map=column_map,
        ignored=ignore_columns,
        preset=preset,
        notes=note_columns,
    )
    table = open_table(path, file_name=file_name, region=merchant.country, names=choose.names)
    try:
        detection = choose(table)
        mapping = detection.mapping
        report.unknown_columns = detection.unknown
        notes = note_columns_of(detection, table.headers, table.has_header)
        report.note_columns = [label for _i, label in notes]
        report.columns = {f: table.headers[i] for f, i in mapping.items()}
        report.column_reasons = reason_lines(detection, table.headers)
        report.header_row = table.header_row
        report.has_header, report.sheet, report.preset = table.has_header, table.sheet, preset
        report.encoding = table.encoding
        report.delimiter = table.delimiter
        if PHONE not in mapping:  # the header finder guarantees it; keep the contract explicit
            raise ImportFileError(_("No phone column found."))
        table.rows = rows_with_fixes(table.rows, fixes, mapping)
        report.fixed_rows = len(fixes or {})
        cleaner = (RecordingCleaner if dry_run else RowCleaner)(
            mapping=mapping,
            headers=table.headers,
            region=merchant.country,
            today=merchant.local_today(),
            note_columns=notes,
        )
        writer = (ClientWriter if dry_run else RecordingWriter)(
            merchant=merchant,
            overwrite=overwrite,
            dry_run=dry_run,
            user_id=getattr(user, "pk", None),
            reason=_("Opening balance imported from %(file)s") % {"file": file_name},
            now=timezone.now(),
        )
        if dry_run:
            _run(table, cleaner, writer, report, on_progress)
            report.rejected_rows = cleaner.rejected
        else:
            report.written_at = writer.now.isoformat()
            with sqlite_page_cache(writer.conn), transaction.atomic():
                with (
                    client_indexes_deferred(writer.conn, file_size=table.size),
                    foreign_keys_checked_per_statement(writer.conn),
                ):
                    _run(table, cleaner, writer, report, on_progress)
                report._prior = writer.prior  # for the run's undo record (batches)
                if before_commit is not None:
                    before_commit(report)
    finally:
        if table.close:
            table.close()
    return report


class _Pipeline:
    """Writes chunk N in a second thread while the main thread parses chunk N+1 — or, when a
    second process reads and cleans (`threaded=False`), in this thread: the process then only
    writes, and a thread of its own taking the GIL between the writer's rows would only slow
    the writes (SQLite's driver releases and takes back the GIL for every row).

    Parsing is Python (holds the GIL); writing mostly waits on the database (releases it), so
    the two overlap on a 2-core machine. The writer uses the caller's connection object — the
    same transaction — and at most one chunk is in flight, so memory stays at two chunks."""

    def __init__(self, writer: ClientWriter, report: ImportReport, *, threaded: bool = True):
        self.writer = writer
        self.report = report
        self.pending = None
        self.pool = None
        if threaded:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
            writer.conn.inc_thread_sharing()

    def submit(self, chunk: list) -> None:
        self.wait()
        left = PREVIEW_ROWS - len(self.report.preview)
        if self.pool is None:
            _count(self.writer.apply(chunk, preview_left=left), self.report)
            return
        self.pending = self.pool.submit(self.writer.apply, chunk, preview_left=left)

    def wait(self) -> None:
        if self.pending is not None:
            outcome, self.pending = self.pending.result(), None
            _count(outcome, self.report)

    def close(self) -> None:
        if self.pool is None:
            return
        try:
            if self.pending is not None:
                self.pending.exception()  # never leave the transaction while it writes
        finally:
            self.pool.shutdown(wait=True)
            self.writer.conn.dec_thread_sharing()


_END = object()


class _OneAhead:
    """The chunks, the next of which can be taken ahead (`fetch`) and is then yielded next.

    With a second reading process the writer only writes, and receiving a chunk (its bytes
    from the pipe, unpickled) is about a tenth of writing one: taken while the server stores
    the current chunk's clients (`ClientWriter.while_copying`), it overlaps the server's work
    instead of following it. Order, counts and messages are unchanged; a reading error raised
    while fetching fails the COPY it interrupts, and the import, as it would a moment later."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.ahead = None

    def __iter__(self):
        return self

    def __next__(self):
        if self.ahead is None:
            return next(self.chunks)
        chunk, self.ahead = self.ahead, None
        if chunk is _END:
            raise StopIteration
        return chunk

    def fetch(self) -> None:
        if self.ahead is None:
            self.ahead = next(self.chunks, _END)

    def close(self) -> None:
        self.chunks.close()


def _run(table, cleaner: RowCleaner, writer: ClientWriter, report: ImportReport, on_progress):
    # Reading and cleaning go to a second process for big files; either way
    # `sorting.write_chunks` decides every count and message.
    parallel = use_second_process(table.size)
    pipeline = _Pipeline(writer, report, threaded=not parallel)
    chunks = chunks_to_write(table, cleaner, report, CHUNK_ROWS, parallel=parallel)
    if parallel and writer.postgres:  # the next chunk taken while the server stores a COPY
        chunks = _OneAhead(chunks)
        writer.while_copying = chunks.fetch
    try:
        for records, rows_read, fraction in chunks:
            full = len(records) >= CHUNK_ROWS
            pipeline.submit(records)
            if on_progress and full:
                on_progress(rows_read, fraction)
        pipeline.wait()
    finally:
        chunks.close()
        pipeline.close()
    if on_progress:
        on_progress(report.rows_total, 1.0)


def _count(outcome, report: ImportReport) -> None:
    report.created += outcome.created
    report.updated += outcome.updated
    report.skipped += outcome.skipped
    report.opening_balances += outcome.opening_balances
    for record, action in outcome.preview[: PREVIEW_ROWS - len(report.preview)]:
        report.preview.append(
            {
                "row": record.row,
                "action": action,
                "phone": record.phone,
                "full_name": record.full_name,
                "birthday": record.birthday.isoformat() if record.birthday else "",
                "email": record.email,
                "gender": record.gender,
                "card_code": record.card_code,
                "note": record.note,
                "points": str(record.points) if record.points is not None else "",
            }
        )
