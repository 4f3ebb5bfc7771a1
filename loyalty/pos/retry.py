"""Retrying POS events that failed because the POS's API was unreachable.

Poster's webhook only says "transaction X changed"; the sale itself is fetched from Poster's
API. When that call fails (network, HTTP error, an `error` body) the webhook still answers
"accept" (Poster stops sending hooks while one stays unaccepted) and keeps the event as
`failed`. This module re-processes such events: each attempt re-fetches the transaction and
brings our records to its state exactly like the webhook (idempotent: a sale is recorded
once, a refund reversed once), counts the attempt and, if Poster is still unreachable, sets
when the next one is due — 1, 2, 4, 8, 16 minutes, then every 30 — up to MAX_ATTEMPTS.

`loyalty.tasks.retry_pos_event` runs one event with Celery's retries on that schedule;
`loyalty.tasks.retry_failed_pos_events` is the periodic sweep that picks up events whose
retry chain was lost (a worker or broker restart) or that failed before retries existed."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..sources import PurchaseSource
from .common import BadRequest
from .models import PosEvent
from .poster import PosterApiError, transaction_apply

MAX_ATTEMPTS = 10
RETRY_WINDOW = timedelta(days=7)  # older failed events are left to a specialist
SWEEP_GRACE = timedelta(minutes=5)  # a due retry this late means its task was lost
MAX_DELAY_SECONDS = 30 * 60  # below Redis's visibility timeout (1 h) for delayed tasks


def retry_delay_seconds(attempt: int) -> int:
    """Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed."""
    return min(MAX_DELAY_SECONDS, 60 * 2 ** max(attempt - 1, 0))


def retry_schedule(event: PosEvent, *, now: datetime | None = None) -> None:
    """Mark a just-failed event for its first retry (called when the webhook keeps it)."""
    event.retry_after = (now or timezone.now()) + timedelta(seconds=retry_delay_seconds(1))
    PosEvent.objects.filter(pk=event.pk).update(retry_after=event.retry_after)


def pos_events_retryable_ids(*, limit: int = 500, now: datetime | None = None) -> list[int]:
    """Failed Poster events that may be retried now: attempts left, received within the
    window, and no retry planned or the planned one overdue (its task was lost)."""
    now = now or timezone.now()
    return list(
        PosEvent.objects.filter(
            system=PurchaseSource.POSTER,
            status=PosEvent.Status.FAILED,
            merchant__isnull=False,
            attempts__lt=MAX_ATTEMPTS,
            received_at__gte=now - RETRY_WINDOW,
        )
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now - SWEEP_GRACE))
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def pos_event_retry(*, event_id: int, now: datetime | None = None) -> str:
    """Re-process one failed Poster event; return its new status.

    Returns "skipped" if the event is not failed any more (another worker did it), is being
    retried right now, or has no attempts left. Raises PosterApiError when Poster is still
    unreachable — the attempt is counted and the next one's due time stored first, so the
    caller may retry later. A body Poster now answers as malformed marks the event
    rejected. Nothing is written for a failed attempt but the attempt itself."""
    now = now or timezone.now()
    error = None
    with transaction.atomic():
        event = (
            PosEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("merchant")
            .filter(pk=event_id, system=PurchaseSource.POSTER, status=PosEvent.Status.FAILED)
            .first()
        )
        if event is None or event.merchant is None or event.attempts >= MAX_ATTEMPTS:
            return "skipped"
        event.attempts += 1
        fields = ["attempts", "status", "message", "retry_after", "purchase", "refund"]
        try:
            with transaction.atomic():  # a failed attempt leaves nothing half-written
                outcome = transaction_apply(merchant=event.merchant, payload=event.payload)
        except PosterApiError as exc:
            error = exc
            last = event.attempts >= MAX_ATTEMPTS
            event.message = (
                f"attempt {event.attempts} of {MAX_ATTEMPTS} failed: {exc}"
                + (" — gave up" if last else "")
            )[:2000]
            event.retry_after = (
                None if last else now + timedelta(seconds=retry_delay_seconds(event.attempts))
            )
        except BadRequest as exc:
            event.status = PosEvent.Status.REJECTED
            event.message = f"retry {event.attempts}: {exc}"[:2000]
            event.retry_after = None
        else:
            event.status = outcome.status
            event.message = (f"retry {event.attempts}: " + (outcome.message or outcome.status))[
                :2000
            ]
            event.external_id = (outcome.external_id or event.external_id)[:120]
            event.purchase = outcome.purchase
            event.refund = outcome.refund
            event.retry_after = None
            fields.append("external_id")
        event.save(update_fields=fields)
    if error is not None:
        raise error
    return event.status
