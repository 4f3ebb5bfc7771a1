"""Periodic tasks (django-celery-beat) in the admin: a specialist sees and reschedules only the
daily runs of their own merchants; what a task runs and with which arguments, and the
schedules shared by many merchants, are the superuser's."""

import json

import pytest
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from loyalty.campaigns.schedule import RUN_TASK

pytestmark = pytest.mark.django_db


def daily(merchant):
    return PeriodicTask.objects.get(task=RUN_TASK, kwargs=json.dumps({"merchant_id": merchant.pk}))


def test_specialist_lists_only_own_daily_runs(client, world):
    client.force_login(world["spec_a"])
    response = client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "[alpha]" in body and "[bravo]" not in body
    other = daily(world["b"]["merchant"])
    response = client.get(reverse("admin:django_celery_beat_periodictask_change", args=[other.pk]))
    assert response.status_code in (302, 404)


def test_specialist_cannot_create_or_retarget_tasks(client, world):
    client.force_login(world["spec_a"])
    b = world["b"]["merchant"]
    response = client.post(
        reverse("admin:django_celery_beat_periodictask_add"),
        {
            "name": "sneaky",
            "regtask": RUN_TASK,
            "task": RUN_TASK,
            "kwargs": json.dumps({"merchant_id": b.pk}),
            "args": "[]",
            "enabled": "on",
            "crontab": daily(b).crontab_id,
        },
    )
    assert response.status_code == 403
    assert not PeriodicTask.objects.filter(name="sneaky").exists()
    mine = daily(world["a"]["merchant"])
    response = client.post(
        reverse("admin:django_celery_beat_periodictask_change", args=[mine.pk]),
        {
            "name": mine.name,
            "regtask": RUN_TASK,
            "task": RUN_TASK,
            "kwargs": json.dumps({"merchant_id": b.pk}),
            "args": "[]",
            "enabled": "on",
            "crontab": mine.crontab_id,
        },
    )
    mine.refresh_from_db()
    assert json.loads(mine.kwargs) == {"merchant_id": world["a"]["merchant"].pk}


def test_specialist_may_reschedule_own_run(client, world):
    client.force_login(world["spec_a"])
    mine = daily(world["a"]["merchant"])
    seven = CrontabSchedule.objects.create(hour="7", minute="30", timezone="Europe/Moscow")
    url = reverse("admin:django_celery_beat_periodictask_change", args=[mine.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"crontab": seven.pk, "enabled": ""})
    assert response.status_code == 302, response.content.decode()[-3000:]
    mine.refresh_from_db()
    assert mine.crontab_id == seven.pk and not mine.enabled
    assert mine.task == RUN_TASK


def test_shared_schedules_are_not_editable_by_specialists(client, world):
    """The 09:00 Moscow crontab drives every Moscow merchant: editing it would move merchant
    B's run too."""
    shared = daily(world["b"]["merchant"]).crontab
    client.force_login(world["spec_a"])
    url = reverse("admin:django_celery_beat_crontabschedule_change", args=[shared.pk])
    client.post(
        url,
        {
            "minute": "0",
            "hour": "3",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "Europe/Moscow",
        },
    )
    shared.refresh_from_db()
    assert shared.hour == "9"
    assert (
        client.post(
            reverse("admin:django_celery_beat_crontabschedule_delete", args=[shared.pk]),
            {"post": "yes"},
        ).status_code
        == 403
    )
    # The schedule page lists no other merchant's task.
    body = client.get(url).content.decode()
    assert "[bravo]" not in body


def test_specialist_cannot_run_other_merchants_task(client, world, monkeypatch):
    ran = []
    from loyalty import tasks

    monkeypatch.setattr(
        tasks.run_campaigns_for_merchant, "apply_async", lambda *a, **k: ran.append(k)
    )
    client.force_login(world["spec_a"])
    other = daily(world["b"]["merchant"])
    client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": [other.pk]},
    )
    assert ran == []


def test_superuser_keeps_the_full_schedule_admin(client, world):
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", "root@example.com", "pass-Word-123")
    client.force_login(root)
    body = client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert "[alpha]" in body and "[bravo]" in body
    assert client.get(reverse("admin:django_celery_beat_periodictask_add")).status_code == 200
    shared = daily(world["b"]["merchant"]).crontab
    url = reverse("admin:django_celery_beat_crontabschedule_change", args=[shared.pk])
    assert "[bravo]" in client.get(url).content.decode()
