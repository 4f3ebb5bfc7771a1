"""The django-celery-beat schedule: one daily campaign run per merchant at RUN_HOUR of the
merchant's own time zone, plus a sweep that queues pending outbox messages. Specialists edit
the schedule in the admin (Periodic tasks); syncing only creates what is missing and follows a
merchant's time-zone change, keeping any hour set by hand."""

import json

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from crm.importing.cleanup import import_cleanup_schedule_sync
from loyalty.pos.schedule import pos_retry_sweep_sync
from onboarding.models import Merchant

from .dates import RUN_HOUR

RUN_TASK = "loyalty.tasks.run_campaigns_for_merchant"
SWEEP_TASK = "loyalty.tasks.deliver_pending_outbox"
SWEEP_NAME = "Outbox: deliver pending messages"
SWEEP_MINUTES = 10


def _kwargs(merchant: Merchant) -> str:
    return json.dumps({"merchant_id": merchant.pk})


def _crontab(*, minute="0", hour=str(RUN_HOUR), time_zone: str, template=None) -> CrontabSchedule:
    fields = {
        "minute": minute,
        "hour": hour,
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    }
    if template is not None:
        fields = {name: getattr(template, name) for name in fields}
    crontab = CrontabSchedule.objects.filter(timezone=time_zone, **fields).first()
    return crontab or CrontabSchedule.objects.create(timezone=time_zone, **fields)


@transaction.atomic
def campaign_schedule_sync(*, merchant: Merchant) -> PeriodicTask:
    """Ensure the merchant's daily run exists and runs in the merchant's time zone."""
    task = (
        PeriodicTask.objects.select_related("crontab")
        .filter(task=RUN_TASK, kwargs=_kwargs(merchant))
        .first()
    )
    if task is None:
        return PeriodicTask.objects.create(
            name=f"Daily campaigns: {merchant.name} [{merchant.slug}]"[:200],
            task=RUN_TASK,
            kwargs=_kwargs(merchant),
            crontab=_crontab(time_zone=merchant.time_zone),
            description="Birthday, win-back; check-growth, review and welcome catch-up; expiry.",
        )
    if task.crontab is None or str(task.crontab.timezone) != merchant.time_zone:
        task.crontab = _crontab(time_zone=merchant.time_zone, template=task.crontab)
        task.interval = None
        task.save()
    return task


def outbox_sweep_sync() -> PeriodicTask:
    """Ensure the periodic sweep that queues pending outbox messages exists."""
    task = PeriodicTask.objects.filter(task=SWEEP_TASK, name=SWEEP_NAME).first()
    if task:
        return task
    interval, _created = IntervalSchedule.objects.get_or_create(
        every=SWEEP_MINUTES, period=IntervalSchedule.MINUTES
    )
    return PeriodicTask.objects.create(name=SWEEP_NAME, task=SWEEP_TASK, interval=interval)


def schedules_sync_all() -> int:
    """Create missing schedules for every merchant (after migrate). Returns how many."""
    have = set(PeriodicTask.objects.filter(task=RUN_TASK).values_list("kwargs", flat=True))
    created = 0
    for merchant in Merchant.objects.order_by("pk"):
        if _kwargs(merchant) not in have:
            campaign_schedule_sync(merchant=merchant)
            created += 1
    outbox_sweep_sync()
    pos_retry_sweep_sync()
    import_cleanup_schedule_sync()
    return created
