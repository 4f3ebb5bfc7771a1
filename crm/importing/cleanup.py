"""Retention of uploaded client bases: a periodic task deletes what no run needs any more.

A run deletes its own upload when it ends (`batches.import_upload_discard`); this sweep catches
the rest: a dry run's file once IMPORT_UPLOAD_RETENTION_HOURS have passed without a confirmation,
files of runs that ended without deleting theirs (a crash, a stale run), and files no batch
points at (a deleted merchant or batch) once they are older than the retention. Queued and
running batches keep their files."""

import datetime as dt
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from crm.models import ImportBatch
from crm.storage import import_upload_storage

from .batches import import_batches_mark_stale, import_upload_discard

logger = logging.getLogger(__name__)

CLEANUP_TASK = "crm.import_uploads_cleanup"
CLEANUP_NAME = "Import: delete uploaded client bases past their retention"
CLEANUP_MINUTES = 60


def import_uploads_cleanup(*, now=None) -> int:
    """Delete expired uploads (see the module doc); returns how many files were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.IMPORT_UPLOAD_RETENTION_HOURS)
    import_batches_mark_stale(now=now)
    deleted = 0
    ended = ImportBatch.objects.exclude(file="").filter(
        status__in=[ImportBatch.Status.DONE, ImportBatch.Status.FAILED, ImportBatch.Status.STALE]
    )
    expired = ImportBatch.objects.exclude(file="").filter(
        status=ImportBatch.Status.DRY_RUN, finished_at__lt=cutoff
    )
    for batch in list(ended) + list(expired):
        deleted += import_upload_discard(batch=batch)
    deleted += _orphans(cutoff)
    if deleted:
        logger.info("deleted %s uploaded client bases", deleted)
    return deleted


def _orphans(cutoff) -> int:
    storage = import_upload_storage()
    root = storage.location
    if not os.path.isdir(root):
        return 0
    known = set(ImportBatch.objects.exclude(file="").values_list("file", flat=True))
    deleted = 0
    for folder, _dirs, files in os.walk(root):
        for file_name in files:
            path = os.path.join(folder, file_name)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                modified = dt.datetime.fromtimestamp(os.path.getmtime(path), tz=dt.UTC)
            except OSError:
                continue
            if name in known or modified >= cutoff:
                continue
            try:
                os.remove(path)
                deleted += 1
            except OSError:
                logger.exception("could not delete orphan upload %s", path)
    return deleted


def import_cleanup_schedule_sync(*, interval_model=None, task_model=None):
    """Ensure the hourly clean-up is on beat (django-celery-beat, editable in the admin). The
    model arguments let a migration pass its historical models."""
    if interval_model is None or task_model is None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        interval_model, task_model = IntervalSchedule, PeriodicTask
    task = task_model.objects.filter(task=CLEANUP_TASK).first()
    if task is not None:
        return task
    interval, _created = interval_model.objects.get_or_create(
        every=CLEANUP_MINUTES, period="minutes"
    )
    return task_model.objects.create(
        name=CLEANUP_NAME,
        task=CLEANUP_TASK,
        interval=interval,
        description="Deletes uploaded client bases whose import ended or whose retention is over.",
    )
