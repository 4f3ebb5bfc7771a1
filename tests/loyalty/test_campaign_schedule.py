"""The django-celery-beat schedule: a daily run per merchant in its own time zone."""

import json

import pytest
from django_celery_beat.models import PeriodicTask

from loyalty.campaigns.schedule import RUN_TASK, SWEEP_TASK, schedules_sync_all
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def task_for(merchant):
    return PeriodicTask.objects.select_related("crontab").get(
        task=RUN_TASK, kwargs=json.dumps({"merchant_id": merchant.pk})
    )


def test_new_merchant_gets_a_daily_run_at_nine_local_time():
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    task = task_for(merchant)
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("9", "0")
    assert str(task.crontab.timezone) == "Asia/Novokuznetsk"


def test_time_zone_change_moves_the_schedule_but_keeps_a_hand_set_hour():
    merchant = MerchantFactory(time_zone="Europe/Moscow")
    task = task_for(merchant)
    crontab = task.crontab
    crontab.hour = "7"
    crontab.save()
    merchant.time_zone = "Asia/Almaty"
    merchant.save()
    task = task_for(merchant)
    assert str(task.crontab.timezone) == "Asia/Almaty"
    assert task.crontab.hour == "7"
    merchant.name = "Renamed"
    merchant.save()
    assert PeriodicTask.objects.filter(task=RUN_TASK).count() == 1


def test_sync_all_is_idempotent_and_adds_the_outbox_sweep():
    MerchantFactory()
    MerchantFactory()
    PeriodicTask.objects.filter(task=RUN_TASK).first().delete()
    assert schedules_sync_all() == 1
    assert schedules_sync_all() == 0
    assert PeriodicTask.objects.filter(task=RUN_TASK).count() == 2
    assert PeriodicTask.objects.filter(task=SWEEP_TASK).count() == 1
