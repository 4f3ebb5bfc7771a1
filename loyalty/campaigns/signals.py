"""Signal receivers and event reactions, connected in `loyalty.apps.LoyaltyConfig.ready`.

This module is imported by every process at start-up, so it imports only models: each receiver
imports its work (`hooks`, `schedule`) when it is called. `hooks` brings the campaign runners,
the POS retries and the Celery tasks with their delivery channels; `schedule` brings the
periodic schedules' sync of every area. A process that records no purchase and saves
no merchant — a management command such as the client import — never loads them. The Celery
worker registers the tasks through its own autodiscovery (`config.celery`), not through these
imports."""

from django.db import transaction

from crm.models import Client, Review
from onboarding.models import Merchant

from ..events import CLIENTS_JOINED, PURCHASES_RECORDED, event_subscribe


def merchant_saved(sender, instance, raw=False, **kwargs):
    """A new merchant gets its daily run; a time-zone change moves it."""
    if raw:
        return
    # At call time: see the module docstring (start-up without the schedules' sync).
    from .schedule import campaign_schedule_sync

    campaign_schedule_sync(merchant=instance)


def review_saved(sender, instance, created=False, raw=False, **kwargs):
    """A recorded review earns the review reward once the review is committed."""
    if raw or not created or instance.client_id is None:
        return
    review_id = instance.pk
    transaction.on_commit(lambda: _hooks().after_review(review_id))


def client_saved(sender, instance, created=False, raw=False, **kwargs):
    """A client created already a member (admin, API — not through the joining service, which
    announces itself) gets the welcome reward once the client is committed."""
    if raw or not created or instance.joined_at is None:
        return
    client_id = instance.pk
    transaction.on_commit(lambda: clients_joined([client_id]))


def _hooks():
    # At call time: see the module docstring (start-up without the campaign runners and tasks).
    from . import hooks

    return hooks


def purchases_recorded(purchase_ids):
    """The engine's PURCHASES_RECORDED reaction: `hooks.after_purchases`."""
    return _hooks().after_purchases(purchase_ids)


def clients_joined(client_ids):
    """The joining service's CLIENTS_JOINED reaction: `hooks.after_join`."""
    return _hooks().after_join(client_ids)


def schedules_after_migrate(sender, app_config=None, using="default", **kwargs):
    if app_config is None or app_config.label != "loyalty":
        return
    from django.db import connections
    from django_celery_beat.models import PeriodicTask

    # At call time: see the module docstring (start-up without the schedules' sync).
    from .schedule import schedules_sync_all

    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return  # celery-beat not migrated (e.g. a partial migrate)

    schedules_sync_all()


def connect() -> None:
    from django.db.models.signals import post_migrate, post_save

    post_save.connect(merchant_saved, sender=Merchant, dispatch_uid="campaigns_merchant_schedule")
    post_save.connect(review_saved, sender=Review, dispatch_uid="campaigns_review_reward")
    post_save.connect(client_saved, sender=Client, dispatch_uid="campaigns_welcome_on_create")
    post_migrate.connect(schedules_after_migrate, dispatch_uid="campaigns_schedules")
    event_subscribe(PURCHASES_RECORDED, purchases_recorded)
    event_subscribe(CLIENTS_JOINED, clients_joined)
