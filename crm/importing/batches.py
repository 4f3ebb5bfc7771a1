"""Import runs (ImportBatch): create, claim and run, confirm a dry run, watch progress, detect
stale runs.

Who may write: a worker claims a batch (status → running with a fresh claim token) and the
batch's final status is written by a conditional UPDATE (still running, same claim) inside the
transaction that writes the clients. So the clients and "done" commit together or not at all, and
a run that lost its claim — marked stale, or taken over by a redelivered task — rolls back and
writes nothing. Stale is final: a stale batch never runs again (its message says "upload again").
A task delivered again after a killed worker finds its batch still running (the dead run's
transaction was rolled back, since a finished run would have committed "done"), takes the claim
over and runs the file again from the start.

Where a run's progress is written and read, and its error report as CSV: `crm.importing.progress`."""

import logging
import os
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ImportBatch
from onboarding.access import visible_merchants

from .errors import ImportFileError
from .mapping import run_options
from .progress import ProgressWriter, progress_cache_key
from .service import check_file_size, clients_import
from .undo import prior_values_save
from .workbooks import workbook_unpacked_size

logger = logging.getLogger(__name__)


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "IMPORT_STALE_AFTER_SECONDS", 15 * 60))


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
    if not batch.file or not batch.file.storage.exists(batch.file.name):
        raise ImportFileError(
            _(
                "The dry run's file is no longer kept (uploads are deleted %(hours)s hours after "
                "the dry run, or when it has been imported); upload the file again."
            )
            % {"hours": settings.IMPORT_UPLOAD_RETENTION_HOURS}
        )
    return ImportBatch.objects.create(
        merchant_id=batch.merchant_id,
        created_by=user if getattr(user, "pk", None) else None,
        file=batch.file.name,
        file_name=batch.file_name,
        file_size=batch.file_size,
        dry_run=False,
        overwrite=batch.overwrite,
        mapping=batch.mapping,
        fixes=batch.fixes,
        dry_run_of=batch,
        heartbeat_at=timezone.now(),
    )


class _ClaimLost(Exception):
    """The batch is no longer this run's (marked stale, or taken over): write nothing."""


def _claim(batch_id: int, *, status: str, claim: str | None = None) -> str | None:
    """Take the batch for this run (status → running, a fresh token). None if someone else
    changed it first (the conditional UPDATE decides, whatever the database)."""
    token = uuid.uuid4().hex
    batches = ImportBatch.objects.filter(pk=batch_id, status=status)
    if claim is not None:
        batches = batches.filter(claim=claim)
    taken = batches.update(
        status=ImportBatch.Status.RUNNING,
        claim=token,
        heartbeat_at=timezone.now(),
        progress=0,
        rows_processed=0,
    )
    return token if taken else None


def import_batch_run(*, batch_id: int) -> ImportBatch:
    """Run a queued batch to the end and record the outcome on it. Never raises for a bad file:
    the batch ends `failed` with the message. A batch found running was lost with its worker
    (its data was rolled back): it is taken over and run again from the start. A finished,
    failed or stale batch is left alone."""
    batch = ImportBatch.objects.select_related("merchant", "created_by").get(pk=batch_id)
    if batch.status == ImportBatch.Status.PENDING:
        token = _claim(batch.pk, status=ImportBatch.Status.PENDING)
    elif batch.status == ImportBatch.Status.RUNNING:
        logger.warning("import batch %s delivered again while running: re-running it", batch.pk)
        token = _claim(batch.pk, status=ImportBatch.Status.RUNNING, claim=batch.claim)
    else:
        return batch
    if token is None:
        batch.refresh_from_db()
        return batch
    return _execute(batch, token=token, path_of=lambda: batch.file.path)


def import_file_run(
    *,
    merchant,
    path: str,
    user=None,
    dry_run: bool = False,
    overwrite: bool = False,
    mapping: dict | None = None,
) -> tuple[ImportBatch, object]:
    """Import a file already on this machine (the command line), recorded as an ImportBatch
    that points at no stored copy. `mapping` is the run's column choice (`ImportBatch.mapping`).
    Returns (batch, report or None when the file failed)."""
    token = uuid.uuid4().hex
    batch = ImportBatch.objects.create(
        merchant=merchant,
        created_by=user,
        file_name=os.path.basename(path)[:255],
        file_size=os.path.getsize(path) if os.path.exists(path) else 0,
        dry_run=dry_run,
        overwrite=overwrite,
        mapping=mapping or {},
        status=ImportBatch.Status.RUNNING,
        claim=token,
        heartbeat_at=timezone.now(),
    )
    batch = _execute(batch, token=token, path_of=lambda: path)
    return batch, batch._report


def _finish(batch_id: int, token: str, *, status: str, message: str, report) -> bool:
    """Record the outcome if the batch is still this run's (one conditional UPDATE: on
    PostgreSQL it waits for a concurrent writer of the row and re-checks). True if recorded."""
    now = timezone.now()
    fields = {
        "status": status,
        "message": message,
        "finished_at": now,
        "heartbeat_at": now,
        "claim": "",
    }
    if report is not None:
        fields.update(
            report=report.as_dict(),
            rows_total=report.rows_total,
            rows_processed=report.rows_total,
            created=report.created,
            updated=report.updated,
            skipped=report.skipped,
            rejected=report.rejected,
            progress=100,
        )
    else:
        fields["report"] = {"file_error": message}
    return (
        ImportBatch.objects.filter(
            pk=batch_id, status=ImportBatch.Status.RUNNING, claim=token
        ).update(**fields)
        == 1
    )


def _execute(batch: ImportBatch, *, token: str, path_of) -> ImportBatch:
    progress = ProgressWriter(batch.pk)
    status, message, report, recorded = ImportBatch.Status.FAILED, "", None, False

    def commit_with_status(done_report) -> None:
        # Inside the transaction that writes the clients: they and "done" commit together.
        prior_values_save(batch_id=batch.pk, prior=getattr(done_report, "_prior", {}))
        if not _finish(
            batch.pk, token, status=ImportBatch.Status.DONE, message="", report=done_report
        ):
            raise _ClaimLost

    try:
        report = clients_import(
            merchant=batch.merchant,
            path=path_of(),
            file_name=batch.file_name,
            user=batch.created_by,
            dry_run=batch.dry_run,
            overwrite=batch.overwrite,
            on_progress=progress,
            before_commit=None if batch.dry_run else commit_with_status,
            **run_options(batch),
        )
        status = ImportBatch.Status.DRY_RUN if batch.dry_run else ImportBatch.Status.DONE
        recorded = not batch.dry_run
    except _ClaimLost:
        logger.warning("import batch %s lost its claim: rolled back, nothing written", batch.pk)
        recorded, report = True, None
    except ImportFileError as exc:
        message = str(exc)
    except FileNotFoundError:
        message = _("The file is not there any more.")
    except Exception as exc:
        logger.exception("import batch %s failed", batch.pk)
        message = _("The import failed and nothing was written: %(error)s") % {"error": exc}
    finally:
        progress.close()
    if not recorded and not _finish(batch.pk, token, status=status, message=message, report=report):
        logger.warning("import batch %s changed hands; its outcome was not recorded", batch.pk)
    cache.delete(progress_cache_key(batch.pk))
    batch.refresh_from_db()
    if batch.status in (
        ImportBatch.Status.DONE,
        ImportBatch.Status.FAILED,
        ImportBatch.Status.STALE,
    ):  # a dry run keeps its file for the confirmation; a run taken over keeps it for the new one
        import_upload_discard(batch=batch)
    finished = (ImportBatch.Status.DONE, ImportBatch.Status.DRY_RUN)
    batch._report = report if batch.status in finished else None
    return batch


def import_upload_discard(*, batch: ImportBatch) -> bool:
    """Delete a finished run's stored upload (unless another run of the same file is queued or
    running) and forget it on every batch that pointed at it. True if a file was deleted."""
    name = batch.file.name if batch.file else ""
    if not name:
        return False
    active = (
        ImportBatch.objects.filter(
            file=name, status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING]
        )
        .exclude(pk=batch.pk)
        .exists()
    )
    if active:
        return False
    storage = batch.file.storage
    try:
        storage.delete(name)
    except OSError:
        logger.exception("could not delete import upload %s", name)
        return False
    ImportBatch.objects.filter(file=name).update(file="")
    return True


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
        cached = cache.get(progress_cache_key(pk))
        if cached and timezone.datetime.fromisoformat(cached[2]) >= cutoff:
            continue  # alive in this process (SQLite: progress only in the cache)
        stale.append(pk)
    if not stale:
        return 0
    # The UPDATE re-checks status and heartbeat: a run that finished (or showed life) since the
    # read above keeps its outcome. A stale batch never runs again, and a run that was still
    # alive loses its claim and writes nothing (see the module doc).
    marked = ImportBatch.objects.filter(
        pk__in=stale,
        status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING],
        heartbeat_at__lt=cutoff,
    ).update(
        status=ImportBatch.Status.STALE,
        claim="",
        message=_(
            "No sign of life since the worker started: it was stopped. Nothing was written; "
            "upload the file again."
        ),
        finished_at=now,
    )
    for batch in ImportBatch.objects.filter(pk__in=stale, status=ImportBatch.Status.STALE):
        import_upload_discard(batch=batch)
    return marked


def import_runs_in_worker(batch: ImportBatch) -> bool:
    """Whether the batch is too big for the web request: an upload over
    IMPORT_ASYNC_THRESHOLD_BYTES, or a workbook whose parts unpack to more than
    IMPORT_ASYNC_THRESHOLD_UNPACKED_BYTES (a small zip can hide a big sheet)."""
    if batch.file_size > settings.IMPORT_ASYNC_THRESHOLD_BYTES:
        return True
    if not batch.file:
        return False
    try:
        path = batch.file.path
        with open(path, "rb") as handle:
            is_zip = handle.read(4) == b"PK\x03\x04"
    except OSError:
        return False
    if not is_zip:
        return False
    unpacked = workbook_unpacked_size(path)
    # An unreadable directory: let the worker's guard refuse it, off the web process.
    return unpacked is None or unpacked > settings.IMPORT_ASYNC_THRESHOLD_UNPACKED_BYTES


def import_batch_queue_failed(*, batch_id: int, error: Exception) -> bool:
    """The task queue refused the batch (broker down): fail it with a message and delete its
    upload, so nothing is left queued for ever. True if the batch was still queued."""
    logger.error("could not queue import batch %s: %s", batch_id, error)
    now = timezone.now()
    message = _(
        "The background task queue is not reachable, so the import was not started and nothing "
        "was written. Try again in a few minutes; if it happens again, tell the administrator "
        "(the Celery broker is down)."
    )
    failed = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.PENDING).update(
        status=ImportBatch.Status.FAILED,
        message=message,
        report={"file_error": message},
        finished_at=now,
        heartbeat_at=now,
    )
    batch = ImportBatch.objects.filter(pk=batch_id).first()
    if batch is not None and failed:
        import_upload_discard(batch=batch)
    return bool(failed)


def run_now_or_later(batch: ImportBatch) -> bool:
    """Run small files at once; queue big ones (`import_runs_in_worker`) as a Celery task after
    the current transaction commits. Returns True when handed to the queue — the batch may then
    already be failed, if the queue was not reachable (reload it)."""
    if not import_runs_in_worker(batch):
        import_batch_run(batch_id=batch.pk)
        return False
    # Here, not at the top: crm.tasks imports this module to run the batch, a cycle.
    from crm.tasks import start_import_task

    transaction.on_commit(lambda: start_import_task(batch.pk))
    return True
