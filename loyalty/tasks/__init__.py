"""Celery tasks by concern — thin callers of loyalty services, all with bounded retries:

- `campaigns`: the daily campaign run per merchant and the run of every merchant;
- `delivery`: outbox delivery (one message, the periodic sweep, queueing after commit);
- `pos`: retries of POS events that failed because the POS's API was down.

Registered names stay `loyalty.tasks.<function>` whatever module holds the function: beat
schedules stored in the database (django-celery-beat PeriodicTask rows, created by migrations
and by the schedule sync) name tasks by them. The package imports its modules so Celery's
autodiscovery (which imports `loyalty.tasks`) registers every task."""

from . import campaigns, delivery, pos
from .campaigns import run_campaigns_all, run_campaigns_for_merchant
from .delivery import (
    backoff_seconds,
    deliver_outbox_message,
    deliver_pending_outbox,
    enqueue_deliveries,
)
from .pos import enqueue_pos_retry, retry_failed_pos_events, retry_pos_event

__all__ = [
    "backoff_seconds",
    "campaigns",
    "deliver_outbox_message",
    "deliver_pending_outbox",
    "delivery",
    "enqueue_deliveries",
    "enqueue_pos_retry",
    "pos",
    "retry_failed_pos_events",
    "retry_pos_event",
    "run_campaigns_all",
    "run_campaigns_for_merchant",
]
