"""Celery tasks: thin callers of loyalty.campaigns services (the daily run per merchant and
outbox delivery with retries and exponential backoff)."""

import random
from datetime import date

from celery import shared_task
from django.db import transaction

from onboarding.models import Merchant

from .campaigns.delivery import (
    MAX_ATTEMPTS,
    DeliveryError,
    outbox_deliver,
    outbox_pending_ids,
)
from .campaigns.run import campaigns_run_day


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
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc


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
