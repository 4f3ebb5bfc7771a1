"""The periodic task that keeps the day's purchases of large merchants' dashboards
(`reports.tasks.keep_day`, every 10 minutes), written out so the migration does not depend on
code that may change. It reads nothing unless the cache is shared (`reports.day_kept`)."""

from django.db import migrations

TASK = "reports.tasks.keep_day"


def create_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    if task_model.objects.filter(task=TASK).exists():
        return
    interval, _created = interval_model.objects.get_or_create(every=10, period="minutes")
    task_model.objects.create(
        name="Reports: keep the day's dashboard figures",
        task=TASK,
        interval=interval,
        description=(
            "Reads each large merchant's dashboard blocks so that an owner's first view of the "
            "day finds the day's purchases kept in the shared cache (CACHE_URL on Redis)."
        ),
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0012_merchant_key_in_composite_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
