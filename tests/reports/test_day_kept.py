"""The day kept ahead of the owners' pages (`reports.day_kept`, the periodic task
`reports.tasks.keep_day`): after it, a dashboard view reads none of the day's purchases again
and shows the live figures; it reads only with a shared cache; one merchant's failure does not
stop the others; the migration schedules it every 10 minutes."""

import importlib
from datetime import date

from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reports import aggregates as agg
from reports import day_kept, partner_figures, partners
from reports.metrics import point_b
from reports.models import ReportSnapshot
from tests.factories import MerchantFactory, UserFactory

from .conftest import buy
from .test_intraday import Reads


def view(merchant, client):
    owner = UserFactory(username=f"owner-kept-{merchant.pk}", role="owner")
    merchant.owners.add(owner)
    client.force_login(owner)
    response = client.get(f"/dashboard/{merchant.slug}/")
    assert response.status_code == 200
    return response.context["b"]


def test_a_view_after_the_day_was_kept_reads_none_of_it_again(rolled, client, monkeypatch):
    m, c = rolled, rolled.clients_by_name
    buy(m, c["a"], 1500, day=date.today())
    buy(m, c["d"], 700, day=date.today(), points=70)
    assert day_kept.keep_day_all(shared_only=False) == 1
    reads = Reads(monkeypatch, agg, "sales_live")
    added = []
    real = partner_figures.added_per_client
    monkeypatch.setattr(partners, "added_per_client", lambda *a: added.append(a) or real(*a))
    b = view(m, client)
    assert [r for r in reads.ranges if r != (None, None)] == []  # the day read by the task
    assert added == []
    live = point_b(merchant=m, use_snapshot=False)
    assert b.data_source == "rollup" and (b.sales, b.months) == (live.sales, live.months)
    assert b.sales.card_revenue > 0


def test_only_with_a_cache_the_pages_share(rolled, monkeypatch):
    assert not day_kept.cache_is_shared()  # the tests' per-process cache
    calls = []
    monkeypatch.setattr(day_kept, "keep_day", calls.append)
    assert day_kept.keep_day_all() == 0 and calls == []
    monkeypatch.setattr(day_kept, "cache_is_shared", lambda: True)
    assert day_kept.keep_day_all() == 1 and calls == [rolled]


def test_one_merchants_failure_does_not_stop_the_others(rolled, monkeypatch, caplog):
    other = MerchantFactory(slug="kept-other")
    ReportSnapshot.objects.create(
        merchant=other, rollup_through=date.today(), purchases_total=1, refreshed_at=timezone.now()
    )
    done = []

    def keep(merchant):
        if merchant == rolled:
            raise RuntimeError("boom")
        done.append(merchant)

    monkeypatch.setattr(day_kept, "keep_day", keep)
    assert day_kept.keep_day_all(shared_only=False) == 1 and done == [other]
    assert f"keeping the day of merchant {rolled.pk} failed" in caplog.text


def test_scheduled_every_ten_minutes(db):
    migration = importlib.import_module("reports.migrations.0013_keep_day_schedule")
    PeriodicTask.objects.filter(task=migration.TASK).delete()
    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)  # once
    task = PeriodicTask.objects.get(task=migration.TASK)
    assert task.enabled and (task.interval.every, task.interval.period) == (10, "minutes")
