"""A running import's progress and a finished run's error report.

A run's data goes in one transaction (see `service.clients_import`), so progress cannot be
written through that transaction. It goes to the cache (same process: the eager/thread path)
and, on PostgreSQL, through a second short-lived connection that commits each update — so the
admin sees it from any process."""

import io
import logging

from django.core.cache import cache
from django.db import connection, connections
from django.utils import timezone

from crm.exporting import escape_cell, spreadsheet_csv_writer
from crm.models import ImportBatch

logger = logging.getLogger(__name__)


def progress_cache_key(batch_id: int) -> str:
    return f"crm:import-progress:{batch_id}"


class ProgressWriter:
    """Writes a running batch's progress where the admin can read it (see the module doc)."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.side = None
        if connection.vendor == "postgresql":
            try:
                self.side = connections.create_connection("default")
                with self.side.cursor() as cursor:
                    # A progress update need not wait for its WAL flush (a few ms each, in the
                    # reading thread's path): one lost by a crash is only a stale percentage.
                    cursor.execute("SET lock_timeout = '2s'")
                    cursor.execute("SET synchronous_commit = off")
            except Exception:  # progress is a nicety; never fail the import for it
                logger.exception("no side connection for import progress")
                self.side = None

    def __call__(self, rows: int, fraction: float) -> None:
        now = timezone.now()
        percent = int(fraction * 100)
        cache.set(progress_cache_key(self.batch_id), (percent, rows, now.isoformat()), 24 * 3600)
        if self.side is not None:
            try:
                with self.side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportBatch._meta.db_table} SET progress = %s, "
                        "rows_processed = %s, heartbeat_at = %s WHERE id = %s",
                        [percent, rows, now, self.batch_id],
                    )
            except Exception:
                logger.exception("import progress update failed")

    def close(self):
        if self.side is not None:
            self.side.close()


def import_batch_progress(batch: ImportBatch) -> dict:
    """What the admin shows for a batch: status, percent, rows so far."""
    percent, rows = batch.progress, batch.rows_processed
    if batch.status == ImportBatch.Status.RUNNING:
        cached = cache.get(progress_cache_key(batch.pk))
        if cached:
            percent, rows = max(percent, cached[0]), max(rows, cached[1])
    return {
        "id": batch.pk,
        "status": batch.status,
        "status_label": str(batch.get_status_display()),
        "progress": percent,
        "rows_processed": rows,
        "created": batch.created,
        "updated": batch.updated,
        "skipped": batch.skipped,
        "rejected": batch.rejected,
        "message": batch.message,
        "finished": batch.status
        in (
            ImportBatch.Status.DONE,
            ImportBatch.Status.DRY_RUN,
            ImportBatch.Status.FAILED,
            ImportBatch.Status.STALE,
        ),
    }


def import_report_csv(batch: ImportBatch) -> str:
    """The row errors of a run as CSV text (row, column, message), cells escaped for Excel, in
    the spreadsheet dialect of the UI language (BOM, `;` in Russian: `crm.exporting`)."""

    out = io.StringIO()
    writer, _decimal_mark = spreadsheet_csv_writer(out)
    writer.writerow(["row", "column", "message"])
    report = batch.report or {}
    if report.get("file_error"):
        writer.writerow(["", "", escape_cell(report["file_error"])])
    for error in report.get("errors", []):
        writer.writerow([error["row"], escape_cell(error["column"]), escape_cell(error["message"])])
    return out.getvalue()
