"""Signal receivers, connected in `loyalty.apps.LoyaltyConfig.ready`."""

from django.db import transaction

from crm.models import Client, Review
from onboarding.models import Merchant

from .hooks import after_join, after_review
from .schedule import campaign_schedule_sync, schedules_sync_all


def merchant_saved(sender, instance, raw=False, **kwargs):
    """A new merchant gets its daily run; a time-zone change moves it."""
    if raw:
        return
    campaign_schedule_sync(merchant=instance)


def review_saved(sender, instance, created=False, raw=False, **kwargs):
    """A recorded review earns the review reward once the review is committed."""
    if raw or not created or instance.client_id is None:
        return
    review_id = instance.pk
    transaction.on_commit(lambda: after_review(review_id))


def client_saved(sender, instance, created=False, raw=False, **kwargs):
    """A client created already a member (admin, API — not through the joining service, which
    announces itself) gets the welcome reward once the client is committed."""
    if raw or not created or instance.joined_at is None:
        return
    client_id = instance.pk
    transaction.on_commit(lambda: after_join([client_id]))


def schedules_after_migrate(sender, app_config=None, using="default", **kwargs):
    if app_config is None or app_config.label != "loyalty":
        return
    from django.db import connections
    from django_celery_beat.models import PeriodicTask

    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return  # celery-beat not migrated (e.g. a partial migrate)

    schedules_sync_all()


def connect() -> None:
    from django.db.models.signals import post_migrate, post_save

    post_save.connect(merchant_saved, sender=Merchant, dispatch_uid="campaigns_merchant_schedule")
    post_save.connect(review_saved, sender=Review, dispatch_uid="campaigns_review_reward")
    post_save.connect(client_saved, sender=Client, dispatch_uid="campaigns_welcome_on_create")
    post_migrate.connect(schedules_after_migrate, dispatch_uid="campaigns_schedules")
