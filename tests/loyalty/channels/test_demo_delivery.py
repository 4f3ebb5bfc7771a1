"""`manage.py demo` then `manage.py run_campaigns --date <a day with birthdays>`: every
outbox message is delivered or kept in the card inbox — none fails for lack of a provider."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from crm.models import Client
from loyalty.models import Campaign, OutboxMessage
from onboarding.models import Merchant

pytestmark = pytest.mark.django_db(transaction=False)


def _birthday_run_day(merchant: Merchant):
    """The latest past local day on which the merchant's birthday campaign picks someone."""
    campaign = Campaign.objects.filter(merchant=merchant, kind="birthday", is_active=True).first()
    assert campaign is not None, "the demo merchant has a birthday campaign"
    today = merchant.local_today()
    birthdays = {
        (b.month, b.day)
        for b in Client.objects.filter(merchant=merchant, birthday__isnull=False).values_list(
            "birthday", flat=True
        )
    }
    for back in range(0, 366):
        day = today - timedelta(days=back)
        target = day + timedelta(days=campaign.days_before or 0)
        if (target.month, target.day) in birthdays:
            return day
    raise AssertionError("no birthday in a year")


def test_demo_campaign_day_has_no_failed_message(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("demo", "--force", stdout=StringIO())
    merchant = Merchant.objects.get(slug="zolotoff")
    assert merchant.channel_settings.vapid_public_key  # web push ready on the card
    day = _birthday_run_day(merchant)
    OutboxMessage.objects.all().delete()
    out = StringIO()
    call_command("run_campaigns", "--date", day.isoformat(), "--merchant", "zolotoff", stdout=out)
    messages = OutboxMessage.objects.filter(merchant=merchant)
    assert messages.filter(issuance__campaign__kind="birthday").exists(), out.getvalue()
    statuses = dict(
        (status, messages.filter(status=status).count())
        for status in ("pending", "sent", "failed", "inbox_only")
    )
    assert statuses["failed"] == 0, list(
        messages.filter(status="failed").values_list("last_error", flat=True)[:5]
    )
    assert statuses["pending"] == 0
    # Every message is in the card inbox; those the channel could not reach say why.
    assert statuses["sent"] + statuses["inbox_only"] == messages.count() > 0
    assert not messages.filter(last_error__icontains="provider").exists()
