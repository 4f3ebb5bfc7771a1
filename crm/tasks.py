"""Celery tasks of the client base: big imports run here, off the web request."""

import threading

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections

from crm.importing import import_batch_run


@shared_task(name="crm.import_batch", acks_late=True, reject_on_worker_lost=True)
def import_batch_task(batch_id: int) -> dict:
    """Run one ImportBatch. Redelivered after a lost worker, it re-runs a stale batch (the lost
    run's transaction was rolled back) and does nothing for a finished one."""
    batch = import_batch_run(batch_id=batch_id)
    return {"id": batch.pk, "status": batch.status}


def _run_in_thread(batch_id: int) -> None:
    try:
        import_batch_task.apply(args=[batch_id])
    finally:
        close_old_connections()


def start_import_task(batch_id: int) -> None:
    """Queue the import. Without a broker (Celery eager, the embedded default) the task runs in
    a background thread so the page returns at once and shows progress; set
    IMPORT_EAGER_IN_THREAD=False to run it inline (tests)."""
    if settings.CELERY_TASK_ALWAYS_EAGER and getattr(settings, "IMPORT_EAGER_IN_THREAD", True):
        threading.Thread(target=_run_in_thread, args=[batch_id], daemon=True).start()
        return
    import_batch_task.delay(batch_id)
