from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache

from loyalty.campaigns.run import campaigns_run_day
from loyalty.channels import http
from loyalty.channels.models import ChannelSettings, TelegramLink
from loyalty.models import OutboxMessage
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

from .fakes import FakeTransport

BOT_TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def transport(monkeypatch):
    fake = FakeTransport()
    monkeypatch.setattr(http, "TRANSPORT", fake)
    return fake


@pytest.fixture
def no_sleep(monkeypatch):
    """The Telegram limiter must not really wait in tests."""
    from loyalty.channels import telegram

    monkeypatch.setattr(telegram.time, "sleep", lambda seconds: None)


def make_merchant(**settings_fields):
    merchant = MerchantFactory(name="ZOLOTOFF", slug="zolotoff-ch")
    ChannelSettings.objects.create(merchant=merchant, **settings_fields)
    return merchant


def issue_message(merchant, channel, **client_fields):
    """One birthday message over `channel` for a new client; returns the outbox message."""
    CampaignFactory(
        merchant=merchant,
        kind="birthday",
        days_before=0,
        reward_form="points",
        reward_points=Decimal(1500),
        channel=channel,
    )
    client_fields.setdefault("full_name", "Анна")
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 2), **client_fields)
    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))
    assert report.issued == 1
    return OutboxMessage.objects.get(kind="campaign")


def link_telegram(client, chat_id=111, user_id=111):
    from django.utils import timezone

    return TelegramLink.objects.create(
        merchant=client.merchant,
        client=client,
        chat_id=chat_id,
        telegram_user_id=user_id,
        linked_at=timezone.now(),
    )
