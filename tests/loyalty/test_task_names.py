"""Celery task names are a stored contract: django-celery-beat rows (created by migrations and
the schedule sync) name tasks by them, so splitting loyalty/tasks by concern keeps every
registered name."""

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app
from loyalty.campaigns.schedule import RUN_TASK, SWEEP_TASK, schedules_sync_all
from loyalty.pos.schedule import SWEEP_TASK as POS_SWEEP_TASK
from tests.factories import MerchantFactory

NAMES = {
    "loyalty.tasks.run_campaigns_for_merchant": "loyalty.tasks.campaigns",
    "loyalty.tasks.run_campaigns_all": "loyalty.tasks.campaigns",
    "loyalty.tasks.deliver_outbox_message": "loyalty.tasks.delivery",
    "loyalty.tasks.deliver_pending_outbox": "loyalty.tasks.delivery",
    "loyalty.tasks.retry_pos_event": "loyalty.tasks.pos",
    "loyalty.tasks.retry_failed_pos_events": "loyalty.tasks.pos",
}


def registered() -> dict:
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    return app.tasks


def test_every_task_keeps_its_registered_name_in_its_concern_module():
    tasks = registered()
    for name, module in NAMES.items():
        assert name in tasks, name
        assert tasks[name].run.__module__ == module


@pytest.mark.django_db
def test_every_stored_schedule_names_a_registered_task():
    MerchantFactory()
    schedules_sync_all()
    stored = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {RUN_TASK, SWEEP_TASK, POS_SWEEP_TASK} <= stored
    assert stored <= set(registered())
