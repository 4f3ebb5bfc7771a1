"""POS tasks: retries of events kept as failed because the POS's API was unreachable, one at
a time on the POS's schedule, plus the periodic sweep that picks up whatever is overdue."""

import random

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..pos.models import PosEvent
from ..pos.poster import PosterApiError
from ..pos.retry import MAX_ATTEMPTS as POS_MAX_ATTEMPTS
from ..pos.retry import pos_event_retry, pos_events_retryable_ids, retry_delay_seconds


@shared_task(
    name="loyalty.tasks.retry_pos_event",
    bind=True,
    acks_late=True,
    max_retries=POS_MAX_ATTEMPTS - 1,
)
def retry_pos_event(self, event_id: int) -> str:
    """Re-process one POS event kept as failed (Poster's API was unreachable); while Poster
    stays unreachable, retry after 1, 2, 4, 8, 16, then 30 minutes, at most POS_MAX_ATTEMPTS
    times in all. Eager runs do not wait: the event stays failed for the periodic sweep."""
    try:
        return pos_event_retry(event_id=event_id)
    except PosterApiError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            return "failed"
        due = PosEvent.objects.filter(pk=event_id).values_list("retry_after", flat=True).first()
        if due is None:  # attempts used up: the event stays failed, visible in the admin
            return "failed"
        delay = max(1, int((due - timezone.now()).total_seconds()))
        raise self.retry(exc=exc, countdown=delay + random.randint(0, max(1, delay // 10))) from exc


@shared_task(name="loyalty.tasks.retry_failed_pos_events")
def retry_failed_pos_events(limit: int = 500) -> int:
    """The periodic sweep: queue a retry of every failed POS event that has attempts left and
    no retry under way (never retried, or its planned retry is overdue)."""
    ids = pos_events_retryable_ids(limit=limit)
    for event_id in ids:
        retry_pos_event.delay(event_id)
    return len(ids)


def enqueue_pos_retry(event_id: int) -> None:
    """Queue the first retry of a just-failed POS event once the current transaction
    commits. Without a broker (eager mode) nothing is run inline — the webhook must answer
    quickly — and the periodic sweep picks the event up."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return
    transaction.on_commit(
        lambda: retry_pos_event.apply_async(args=[event_id], countdown=retry_delay_seconds(1)),
        robust=True,
    )
