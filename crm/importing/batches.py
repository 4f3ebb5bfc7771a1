"""Import runs (ImportBatch): create, run, confirm a dry run, watch progress, detect stale runs.

A run's data goes in one transaction (see `service.clients_import`), so progress cannot be
written through that transaction. It goes to the cache (same process: the eager/thread path)
and, on PostgreSQL, through a second short-lived connection that commits each update — so the
admin sees it from any process. A worker killed mid-file leaves no data (the database rolls the
transaction back); its batch stops showing signs of life and `import_batches_mark_stale` marks it
stale (the admin calls it whenever the list of runs is opened)."""

import csv
import io
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ImportBatch
from onboarding.access import visible_merchants

from .errors import ImportFileError
from .service import check_file_size, clients_import

logger = logging.getLogger(__name__)


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "IMPORT_STALE_AFTER_SECONDS", 15 * 60))


def _cache_key(batch_id: int) -> str:
    return f"crm:import-progress:{batch_id}"


def import_batch_create(
    *,
    merchant,
    user,
    upload,
    file_name: str = "",
    dry_run: bool = False,
    overwrite: bool = False,
) -> ImportBatch:
    """Store the uploaded file and a pending run. Raises ImportFileError (nothing stored) if the
    user may not import into `merchant` or the file is over IMPORT_MAX_UPLOAD_BYTES."""
    if user is not None and not visible_merchants(user).filter(pk=merchant.pk).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    size = upload.size if hasattr(upload, "size") else os.path.getsize(upload.name)
    check_file_size(size)
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    name = os.path.basename(file_name or upload.name)
    batch = ImportBatch(
        merchant=merchant,
        created_by=user if getattr(user, "pk", None) else None,
        file_name=name[:255],
        file_size=size,
        dry_run=dry_run,
        overwrite=overwrite,
        heartbeat_at=timezone.now(),
    )
    batch.file.save(name, upload if hasattr(upload, "chunks") else File(upload), save=False)
    batch.save()
    return batch


def import_batch_confirm(*, batch: ImportBatch, user) -> ImportBatch:
    """A new run that applies a finished dry run's file for real, with the same options."""
    if user is not None and not visible_merchants(user).filter(pk=batch.merchant_id).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    if batch.status != ImportBatch.Status.DRY_RUN:
        raise ImportFileError(_("Only a finished dry run can be confirmed."))
    return ImportBatch.objects.create(
        merchant_id=batch.merchant_id,
        created_by=user if getattr(user, "pk", None) else None,
        file=batch.file.name,
        file_name=batch.file_name,
        file_size=batch.file_size,
        dry_run=False,
        overwrite=batch.overwrite,
        dry_run_of=batch,
        heartbeat_at=timezone.now(),
    )


class _Progress:
    """Writes a running batch's progress where the admin can read it (see the module doc)."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.side = None
        if connection.vendor == "postgresql":
            try:
                self.side = connections.create_connection("default")
                with self.side.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '2s'")
            except Exception:  # progress is a nicety; never fail the import for it
                logger.exception("no side connection for import progress")
                self.side = None

    def __call__(self, rows: int, fraction: float) -> None:
        now = timezone.now()
        percent = int(fraction * 100)
        cache.set(_cache_key(self.batch_id), (percent, rows, now.isoformat()), 24 * 3600)
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


def import_batch_run(*, batch_id: int) -> ImportBatch:
    """Run a pending batch to the end and record the outcome on it. Never raises for a bad file:
    the batch ends `failed` with the message. Re-running a finished batch does nothing."""
    batch = ImportBatch.objects.select_related("merchant", "created_by").get(pk=batch_id)
    if batch.status not in (ImportBatch.Status.PENDING, ImportBatch.Status.STALE):
        return batch
    if batch.status == ImportBatch.Status.STALE and not batch.dry_run:
        # A redelivered task after a killed worker: its transaction was rolled back, run again.
        logger.warning("re-running stale import batch %s", batch.pk)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING, heartbeat_at=timezone.now(), progress=0
    )
    return _execute(batch, path_of=lambda: batch.file.path)


def import_file_run(
    *, merchant, path: str, user=None, dry_run: bool = False, overwrite: bool = False
) -> tuple[ImportBatch, object]:
    """Import a file already on this machine (the command line), recorded as an ImportBatch
    that points at no stored copy. Returns (batch, report or None when the file failed)."""
    batch = ImportBatch.objects.create(
        merchant=merchant,
        created_by=user,
        file_name=os.path.basename(path)[:255],
        file_size=os.path.getsize(path) if os.path.exists(path) else 0,
        dry_run=dry_run,
        overwrite=overwrite,
        status=ImportBatch.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    batch = _execute(batch, path_of=lambda: path)
    return batch, batch._report


def _execute(batch: ImportBatch, *, path_of) -> ImportBatch:
    progress = _Progress(batch.pk)
    status, message, report = ImportBatch.Status.FAILED, "", None
    try:
        report = clients_import(
            merchant=batch.merchant,
            path=path_of(),
            file_name=batch.file_name,
            user=batch.created_by,
            dry_run=batch.dry_run,
            overwrite=batch.overwrite,
            on_progress=progress,
        )
        status = ImportBatch.Status.DRY_RUN if batch.dry_run else ImportBatch.Status.DONE
    except ImportFileError as exc:
        message = str(exc)
    except FileNotFoundError:
        message = _("The file is not there any more.")
    except Exception as exc:
        logger.exception("import batch %s failed", batch.pk)
        message = _("The import failed and nothing was written: %(error)s") % {"error": exc}
    finally:
        progress.close()
    batch.refresh_from_db()
    batch.status = status
    batch.message = message
    batch.finished_at = timezone.now()
    batch.heartbeat_at = batch.finished_at
    if report is not None:
        batch.report = report.as_dict()
        batch.rows_total = report.rows_total
        batch.rows_processed = report.rows_total
        batch.created = report.created
        batch.updated = report.updated
        batch.skipped = report.skipped
        batch.rejected = report.rejected
        batch.progress = 100
    else:
        batch.report = {"file_error": message}
    batch.save()
    cache.delete(_cache_key(batch.pk))
    batch._report = report
    return batch


def import_batch_progress(batch: ImportBatch) -> dict:
    """What the admin shows for a batch: status, percent, rows so far."""
    percent, rows = batch.progress, batch.rows_processed
    if batch.status == ImportBatch.Status.RUNNING:
        cached = cache.get(_cache_key(batch.pk))
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


def import_batches_mark_stale(*, now=None) -> int:
    """Mark queued/running batches without a sign of life for IMPORT_STALE_AFTER_SECONDS as
    stale. Their data was rolled back by the database when the worker died."""
    now = now or timezone.now()
    cutoff = now - stale_after()
    candidates = ImportBatch.objects.filter(
        status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING],
        heartbeat_at__lt=cutoff,
    ).values_list("pk", flat=True)
    stale = []
    for pk in candidates:
        cached = cache.get(_cache_key(pk))
        if cached and timezone.datetime.fromisoformat(cached[2]) >= cutoff:
            continue  # alive in this process (SQLite: progress only in the cache)
        stale.append(pk)
    if not stale:
        return 0
    return ImportBatch.objects.filter(pk__in=stale).update(
        status=ImportBatch.Status.STALE,
        message=_(
            "No sign of life since the worker started: it was stopped. Nothing was written; "
            "upload the file again."
        ),
        finished_at=now,
    )


def import_report_csv(batch: ImportBatch) -> str:
    """The row errors of a run as CSV text (row, column, message), cells escaped for Excel."""
    from crm.exporting import escape_cell

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "column", "message"])
    report = batch.report or {}
    if report.get("file_error"):
        writer.writerow(["", "", escape_cell(report["file_error"])])
    for error in report.get("errors", []):
        writer.writerow([error["row"], escape_cell(error["column"]), escape_cell(error["message"])])
    return out.getvalue()


def run_now_or_later(batch: ImportBatch) -> bool:
    """Run small files at once; queue files above IMPORT_ASYNC_THRESHOLD_BYTES as a Celery task
    after the current transaction commits. Returns True when queued."""
    if batch.file_size <= settings.IMPORT_ASYNC_THRESHOLD_BYTES:
        import_batch_run(batch_id=batch.pk)
        return False
    from crm.tasks import start_import_task

    transaction.on_commit(lambda: start_import_task(batch.pk))
    return True
