"""Celery tasks: thin callers of loyalty services (the daily campaign run per merchant,
outbox delivery, and retries of POS events that failed because the POS's API was down —
all with exponential backoff and bounded attempts)."""

import random
from datetime import date

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from onboarding.models import Merchant

from .campaigns.delivery import (
    MAX_ATTEMPTS,
    DeliveryError,
    outbox_deliver,
    outbox_pending_ids,
)
from .campaigns.run import campaigns_run_day
from .pos.models import PosEvent
from .pos.poster import PosterApiError
from .pos.retry import MAX_ATTEMPTS as POS_MAX_ATTEMPTS
from .pos.retry import pos_event_retry, pos_events_retryable_ids, retry_delay_seconds


def backoff_seconds(retries: int) -> int:
    """30 s, 1 min, 2 min, 4 min… capped at an hour, with jitter so retries do not bunch."""
    base = min(3600, 30 * 2**retries)
    return base + random.randint(0, max(1, base // 10))


@shared_task(name="loyalty.tasks.run_campaigns_for_merchant", bind=True, acks_late=True)
def run_campaigns_for_merchant(self, merchant_id: int, day: str | None = None) -> dict | None:
    """One merchant's campaign day (today in its time zone unless `day` is given), then queue
    delivery of what it wrote on the same queue. Safe to re-deliver: the run is idempotent."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        return None
    report = campaigns_run_day(merchant=merchant, day=date.fromisoformat(day) if day else None)
    if report.message_ids:
        queue = (self.request.delivery_info or {}).get("routing_key")
        deliver_pending_outbox.apply_async(
            kwargs={"merchant_id": merchant_id, "queue": queue}, queue=queue
        )
    return report.as_dict()


@shared_task(name="loyalty.tasks.run_campaigns_all")
def run_campaigns_all(day: str | None = None) -> int:
    """Queue the daily run of every merchant (manual catch-up of everything)."""
    ids = list(Merchant.objects.order_by("pk").values_list("pk", flat=True))
    for merchant_id in ids:
        run_campaigns_for_merchant.delay(merchant_id, day)
    return len(ids)


@shared_task(
    name="loyalty.tasks.deliver_outbox_message",
    bind=True,
    acks_late=True,
    max_retries=MAX_ATTEMPTS - 1,
)
def deliver_outbox_message(self, message_id: int) -> str:
    """Deliver one message; a temporary failure is retried with backoff. Eager runs do not
    wait: the message stays failed (visible in the admin) and can be retried from there."""
    try:
        return outbox_deliver(message_id=message_id)
    except DeliveryError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            return "failed"
        # A vendor's retry_after (Telegram 429, Retry-After header) wins over our backoff.
        countdown = max(backoff_seconds(self.request.retries), int(exc.retry_after or 0))
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="loyalty.tasks.deliver_pending_outbox")
def deliver_pending_outbox(
    merchant_id: int | None = None, limit: int = 10000, queue: str | None = None
) -> int:
    """Queue delivery of pending messages, oldest first (the periodic sweep)."""
    ids = outbox_pending_ids(merchant_id=merchant_id, limit=limit)
    for message_id in ids:
        deliver_outbox_message.apply_async(args=[message_id], queue=queue)
    return len(ids)


def enqueue_deliveries(message_ids) -> None:
    """Queue delivery of these messages once the current transaction commits."""
    ids = list(message_ids)
    if ids:
        transaction.on_commit(lambda: [deliver_outbox_message.delay(i) for i in ids])


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
    from django.conf import settings

    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        return
    transaction.on_commit(
        lambda: retry_pos_event.apply_async(args=[event_id], countdown=retry_delay_seconds(1)),
        robust=True,
    )
