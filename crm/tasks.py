"""Celery tasks of the client base: big imports run here, off the web request; a periodic
clean-up deletes uploads whose time is up."""

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections

from crm.importing import import_batch_queue_failed, import_batch_run
from crm.importing.cleanup import import_uploads_cleanup

logger = logging.getLogger(__name__)

# Publishing to a broker that is down must not hang the web request: a few quick retries.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


@shared_task(name="crm.import_batch", acks_late=True, reject_on_worker_lost=True)
def import_batch_task(batch_id: int) -> dict:
    """Run one ImportBatch. Delivered again after a lost worker, it finds the batch still running
    (the lost run's transaction was rolled back), takes it over and runs the file again; a
    finished, failed or stale batch is left alone."""
    batch = import_batch_run(batch_id=batch_id)
    return {"id": batch.pk, "status": batch.status}


@shared_task(name="crm.import_uploads_cleanup")
def import_uploads_cleanup_task() -> int:
    """Delete stored uploads whose run has ended or whose retention is over (on beat, hourly)."""
    return import_uploads_cleanup()


def _run_in_thread(batch_id: int) -> None:
    try:
        import_batch_task.apply(args=[batch_id])
    finally:
        close_old_connections()


def start_import_task(batch_id: int) -> bool:
    """Queue the import. Without a broker (Celery eager, the embedded default) the task runs in
    a background thread so the page returns at once and shows progress; set
    IMPORT_EAGER_IN_THREAD=False to run it inline (tests). If the broker cannot be reached the
    batch is failed with a message (nothing is left queued) and False is returned."""
    if settings.CELERY_TASK_ALWAYS_EAGER and getattr(settings, "IMPORT_EAGER_IN_THREAD", True):
        threading.Thread(target=_run_in_thread, args=[batch_id], daemon=True).start()
        return True
    try:
        import_batch_task.apply_async(args=[batch_id], retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # kombu OperationalError, redis/amqp connection errors, OSError
        import_batch_queue_failed(batch_id=batch_id, error=exc)
        return False
    return True
