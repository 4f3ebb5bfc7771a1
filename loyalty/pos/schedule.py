"""The periodic sweep that retries failed POS events, as a django-celery-beat task (editable
in the admin under Periodic tasks). Created by migration 0004; `pos_retry_sweep_sync` puts
it back if it was deleted."""

SWEEP_TASK = "loyalty.tasks.retry_failed_pos_events"
SWEEP_NAME = "POS: retry events that failed while the POS API was down"
SWEEP_MINUTES = 10


def pos_retry_sweep_sync(*, interval_model=None, task_model=None):
    """Ensure the sweep exists (every SWEEP_MINUTES minutes). The model arguments let a
    migration pass its historical models."""
    if interval_model is None or task_model is None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        interval_model, task_model = IntervalSchedule, PeriodicTask
    task = task_model.objects.filter(task=SWEEP_TASK).first()
    if task is not None:
        return task
    interval, _created = interval_model.objects.get_or_create(every=SWEEP_MINUTES, period="minutes")
    return task_model.objects.create(
        name=SWEEP_NAME,
        task=SWEEP_TASK,
        interval=interval,
        description="Re-fetches Poster transactions whose webhook failed on an API outage.",
    )
