"""Outbox: template rendering, delivery backends, failures recorded and retried."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from loyalty.campaigns.delivery import (
    MAX_ATTEMPTS,
    DeliveryBackend,
    DeliveryError,
    outbox_deliver,
    outbox_pending_ids,
    outbox_retry,
)
from loyalty.campaigns.outbox import default_template, render_template
from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import OutboxMessage
from loyalty.tasks import backoff_seconds, deliver_outbox_message, deliver_pending_outbox
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

FLAKY_CALLS = []


class FlakyBackend(DeliveryBackend):
    """Fails while FLAKY_CALLS is shorter than 2, then succeeds."""

    def send(self, message):
        FLAKY_CALLS.append(message.pk)
        if len(FLAKY_CALLS) <= 2:
            raise ConnectionError("provider timeout")


class BrokenBackend(DeliveryBackend):
    def send(self, message):
        raise ConnectionError("provider down")


def test_render_template_keeps_unknown_and_broken_placeholders():
    values = {"name": "Анна", "points": "1500", "valid_until": "22.03.2025", "merchant": "Z"}
    assert render_template("{name}: {points} ({valid_until}) {merchant}", values) == (
        "Анна: 1500 (22.03.2025) Z"
    )
    assert render_template("{name} {bonus} {name.__class__}", values) == (
        "Анна {bonus} {name.__class__}"
    )
    assert render_template("{name", values) == "{name"
    assert render_template("{{literal}} {name}", values) == "{literal} Анна"


def test_default_templates_exist_for_every_kind_and_form():
    for kind in ("birthday", "winback", "check_growth", "review_reward", "segment_gift", "welcome"):
        for form in ("points", "certificate"):
            text = default_template(kind, form)
            assert "{name}" in text and "{points}" in text and "{merchant}" in text


def issue_one(channel="console", **client_fields):
    merchant = MerchantFactory(name="ZOLOTOFF")
    CampaignFactory(
        merchant=merchant,
        kind="birthday",
        days_before=0,
        reward_points=Decimal(1500),
        channel=channel,
    )
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 2), full_name="Анна", **client_fields)
    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))
    assert report.issued == 1
    return OutboxMessage.objects.get()


def test_console_backend_delivers(capsys):
    message = issue_one("console")
    assert outbox_deliver(message_id=message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")
    assert message.sent_at is not None
    out = capsys.readouterr().out
    assert "[console] to +7913" in out and "Анна" in out
    # Delivering again sends nothing twice.
    assert outbox_deliver(message_id=message.pk) == "skipped"


def test_email_backend_uses_django_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = issue_one("email", email="anna@example.com")
    assert deliver_outbox_message.delay(message.pk).get() == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert "ZOLOTOFF" in mail.outbox[0].subject
    assert "1500" in mail.outbox[0].body


def test_email_without_address_stays_in_the_inbox_only(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = issue_one("email", email="")
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    message.refresh_from_db()
    assert message.status == "inbox_only"
    assert message.attempts == 1
    assert "no e-mail" in message.last_error.lower()
    assert mail.outbox == []


def test_unconnected_channel_fails_visibly_until_a_provider_is_set(settings):
    message = issue_one("telegram")
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert "No Telegram bot is connected" in message.last_error
    # Connecting a provider for the channel and retrying delivers the same message.
    settings.LOYALTY_DELIVERY_BACKENDS = {"telegram": "loyalty.campaigns.delivery.ConsoleBackend"}
    assert outbox_retry(message_ids=[message.pk]) == [message.pk]
    assert outbox_deliver(message_id=message.pk) == "sent"


def test_temporary_failure_is_recorded_and_raised_for_retry(settings):
    settings.LOYALTY_DELIVERY_BACKENDS = {"console": "tests.loyalty.test_outbox.BrokenBackend"}
    message = issue_one("console")
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(DeliveryError):
            outbox_deliver(message_id=message.pk)
        message.refresh_from_db()
        assert (message.status, message.attempts) == ("failed", attempt)
        assert "provider down" in message.last_error
    # The last allowed attempt records the failure and stops asking for retries.
    assert outbox_deliver(message_id=message.pk) == "failed"


def test_eager_task_leaves_failed_message_for_the_admin(settings):
    settings.LOYALTY_DELIVERY_BACKENDS = {"console": "tests.loyalty.test_outbox.BrokenBackend"}
    message = issue_one("console")
    assert deliver_outbox_message.delay(message.pk).get() == "failed"
    assert OutboxMessage.objects.get().status == "failed"
    assert outbox_pending_ids() == []


def test_backoff_grows_and_is_capped():
    assert 30 <= backoff_seconds(0) <= 33
    assert 240 <= backoff_seconds(3) <= 264
    assert backoff_seconds(20) <= 3600 + 360


def test_failed_messages_visible_and_retryable_in_admin(
    client, settings, django_capture_on_commit_callbacks
):
    settings.LOYALTY_DELIVERY_BACKENDS = {"console": "tests.loyalty.test_outbox.FlakyBackend"}
    FLAKY_CALLS.clear()
    message = issue_one("console")
    deliver_pending_outbox.delay().get()  # eager: fails once, stays failed
    other = MerchantFactory()
    user = UserFactory(username="spec-outbox", role="specialist")
    message.merchant.specialists.add(user)
    client.force_login(user)
    url = reverse("admin:loyalty_outboxmessage_changelist")

    page = client.get(url, {"delivery": "failed"})
    assert page.status_code == 200
    assert "provider timeout" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "retry_delivery", "_selected_action": [message.pk]})
    # The retry failed again (second flaky call); once more and it is sent.
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "retry_delivery", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 3, "")
    # Another merchant's specialist sees nothing.
    stranger = UserFactory(username="spec-other", role="specialist")
    other.specialists.add(stranger)
    client.force_login(stranger)
    assert "provider timeout" not in client.get(url).content.decode()
