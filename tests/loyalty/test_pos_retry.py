"""Poster events kept as failed while Poster's API was unreachable are retried with
exponential backoff and bounded attempts (a task per event, a periodic sweep for the rest);
a retry records the sale exactly once. Poster's API is replaced by a fake transport."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from loyalty import tasks
from loyalty.models import Purchase
from loyalty.pos import poster
from loyalty.pos.models import PosEvent
from loyalty.pos.retry import (
    MAX_ATTEMPTS,
    SWEEP_GRACE,
    pos_event_retry,
    pos_events_retryable_ids,
    retry_delay_seconds,
)
from tests.factories import ClientFactory, MerchantFactory
from tests.loyalty.test_pos import fake_poster, hook, post_hook, tbilisi  # noqa: F401

pytestmark = pytest.mark.django_db


def failed_event(client, fake) -> PosEvent:
    """A webhook received while Poster's API is down."""
    fake.fail = True
    response = post_hook(client, hook(action="closed"))
    assert response.status_code == 200 and response.json()["result"] == "failed"
    fake.fail = False
    return PosEvent.objects.get(status="failed")


def test_backoff_doubles_from_a_minute_and_is_capped():
    delays = [retry_delay_seconds(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:6] == [60, 120, 240, 480, 960, 1800]
    assert max(delays) == 1800  # below Redis's visibility timeout for delayed tasks


def test_outage_keeps_the_event_with_its_first_retry_due(client, tbilisi, fake_poster):  # noqa: F811
    before = timezone.now()
    event = failed_event(client, fake_poster)
    assert event.attempts == 0
    assert (
        before + timedelta(seconds=60)
        <= event.retry_after
        <= timezone.now() + timedelta(seconds=60)
    )
    assert not Purchase.objects.exists()


def test_outage_queues_a_delayed_retry_when_a_broker_is_configured(
    client,
    tbilisi,  # noqa: F811
    fake_poster,  # noqa: F811
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued = []
    monkeypatch.setattr(
        tasks.retry_pos_event, "apply_async", lambda **kw: queued.append(kw) or None
    )
    with django_capture_on_commit_callbacks(execute=True):
        event = failed_event(client, fake_poster)
    assert queued == [{"args": [event.pk], "countdown": 60}]


def test_no_inline_retry_without_a_broker(client, tbilisi, fake_poster, monkeypatch):  # noqa: F811
    queued = []
    monkeypatch.setattr(tasks.retry_pos_event, "apply_async", lambda **kw: queued.append(kw))
    failed_event(client, fake_poster)
    assert queued == []  # eager mode: the webhook answers at once; the sweep retries


def test_retry_records_the_sale_once_when_poster_is_back(client, tbilisi, fake_poster):  # noqa: F811
    buyer = ClientFactory(merchant=tbilisi, phone="+995555123456")
    event = failed_event(client, fake_poster)
    assert pos_event_retry(event_id=event.pk) == "accepted"
    event.refresh_from_db()
    purchase = Purchase.objects.get()
    assert (event.status, event.attempts, event.retry_after) == ("accepted", 1, None)
    assert event.purchase_id == purchase.pk and event.message.startswith("retry 1")
    assert (purchase.client_id, purchase.amount, purchase.points_accrued) == (
        buyer.pk,
        D("27.50"),
        D("0.55"),
    )
    # Done: a second retry (a duplicate task, the sweep) changes nothing.
    assert pos_event_retry(event_id=event.pk) == "skipped"
    # Poster's next hook about the same check is a duplicate, not a second sale.
    assert post_hook(client, hook(action="changed")).json()["result"] == "duplicate"
    assert Purchase.objects.count() == 1


def test_attempts_back_off_and_stop_at_the_bound(client, tbilisi, fake_poster):  # noqa: F811
    event = failed_event(client, fake_poster)
    fake_poster.fail = True
    now = timezone.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pytest.raises(poster.PosterApiError):
            pos_event_retry(event_id=event.pk, now=now)
        event.refresh_from_db()
        assert (event.status, event.attempts) == ("failed", attempt)
        if attempt < MAX_ATTEMPTS:
            assert event.retry_after == now + timedelta(seconds=retry_delay_seconds(attempt))
    assert event.retry_after is None and "gave up" in event.message
    calls = len(fake_poster.calls)
    assert pos_event_retry(event_id=event.pk) == "skipped"
    assert len(fake_poster.calls) == calls  # no further call to Poster
    assert event.pk not in pos_events_retryable_ids(now=now + timedelta(days=1))
    assert not Purchase.objects.exists()


def test_a_body_poster_now_answers_as_malformed_is_rejected(client, tbilisi, fake_poster):  # noqa: F811
    event = failed_event(client, fake_poster)
    fake_poster.transaction["payed_sum"] = "lots"
    assert pos_event_retry(event_id=event.pk) == "rejected"
    event.refresh_from_db()
    assert event.status == "rejected" and "not a number" in event.message
    assert pos_event_retry(event_id=event.pk) == "skipped"


def test_sweep_picks_never_retried_and_overdue_events_only(client, tbilisi, fake_poster):  # noqa: F811
    now = timezone.now()
    due_soon = failed_event(client, fake_poster)  # its task is planned in a minute
    legacy = PosEvent.objects.create(  # failed before retries existed
        merchant=tbilisi, system="poster", endpoint="/pos/poster/", status="failed",
        payload=hook(action="closed"), external_id="poster:16776",
    )  # fmt: skip
    overdue = PosEvent.objects.create(
        merchant=tbilisi, system="poster", endpoint="/pos/poster/", status="failed",
        payload=hook(action="closed"), attempts=2,
        retry_after=now - SWEEP_GRACE - timedelta(seconds=1),
    )  # fmt: skip
    old = PosEvent.objects.create(
        merchant=tbilisi, system="poster", endpoint="/pos/poster/", status="failed",
        payload=hook(action="closed"),
    )  # fmt: skip
    PosEvent.objects.filter(pk=old.pk).update(received_at=now - timedelta(days=8))
    PosEvent.objects.create(  # other systems and statuses are not this sweep's business
        merchant=tbilisi, system="evotor", endpoint="/pos/evotor/", status="failed"
    )
    PosEvent.objects.create(
        merchant=MerchantFactory(), system="poster", endpoint="/pos/poster/", status="accepted"
    )
    ids = pos_events_retryable_ids(now=now)
    assert ids == [legacy.pk, overdue.pk]
    assert due_soon.pk in pos_events_retryable_ids(
        now=due_soon.retry_after + SWEEP_GRACE + timedelta(seconds=1)
    )


def test_sweep_task_queues_and_eager_retries_apply_once(client, tbilisi, fake_poster):  # noqa: F811
    first = failed_event(client, fake_poster)
    PosEvent.objects.filter(pk=first.pk).update(retry_after=None)
    second = PosEvent.objects.create(  # another hook about the same check, also kept
        merchant=tbilisi, system="poster", endpoint="/pos/poster/", status="failed",
        payload=hook(action="changed"), external_id="poster:16776",
    )  # fmt: skip
    assert tasks.retry_failed_pos_events.delay().get() == 2
    statuses = dict(PosEvent.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[second.pk]) == ("accepted", "duplicate")
    assert Purchase.objects.count() == 1
    assert tasks.retry_failed_pos_events.delay().get() == 0


def test_task_retries_itself_with_the_stored_backoff(
    client,
    tbilisi,  # noqa: F811
    fake_poster,  # noqa: F811
    monkeypatch,
):
    event = failed_event(client, fake_poster)
    fake_poster.fail = True
    task = tasks.retry_pos_event
    queued = []
    monkeypatch.setattr(task, "apply_async", lambda *a, **kw: queued.append(kw))
    task.push_request(id="worker-run", retries=0, is_eager=False, called_directly=False)
    try:
        with pytest.raises(Retry):
            task.run(event.pk)
    finally:
        task.pop_request()
    event.refresh_from_db()
    assert event.attempts == 1
    assert len(queued) == 1 and 55 <= queued[0]["countdown"] <= 60 * 1.1 + 1
    # Out of attempts: the task stops retrying and the event stays failed in the admin.
    PosEvent.objects.filter(pk=event.pk).update(attempts=MAX_ATTEMPTS - 1)
    task.push_request(id="worker-run", retries=1, is_eager=False, called_directly=False)
    try:
        assert task.run(event.pk) == "failed"
    finally:
        task.pop_request()
    assert len(queued) == 1
    # Eager (no broker): no waiting either.
    PosEvent.objects.filter(pk=event.pk).update(attempts=0)
    monkeypatch.undo()
    assert task.delay(event.pk).get() == "failed"


def test_the_sweep_is_scheduled_every_ten_minutes():
    from django_celery_beat.models import PeriodicTask

    from loyalty.pos.schedule import SWEEP_TASK, pos_retry_sweep_sync

    task = PeriodicTask.objects.get(task=SWEEP_TASK)  # created by the migration
    assert (task.interval.every, task.interval.period, task.enabled) == (10, "minutes", True)
    task.delete()
    again = pos_retry_sweep_sync()
    assert again.task == SWEEP_TASK and pos_retry_sweep_sync().pk == again.pk
