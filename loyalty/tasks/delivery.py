"""Outbox delivery tasks: one message with backoff, the periodic sweep of pending messages,
and queueing deliveries once the writing transaction commits."""

import random

from celery import shared_task
from django.db import transaction

from ..campaigns.delivery import (
    MAX_ATTEMPTS,
    DeliveryError,
    outbox_deliver,
    outbox_pending_ids,
)


def backoff_seconds(retries: int) -> int:
    """30 s, 1 min, 2 min, 4 min… capped at an hour, with jitter so retries do not bunch."""
    base = min(3600, 30 * 2**retries)
    return base + random.randint(0, max(1, base // 10))


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
