"""The card site's contract (loyalty.channels.api): one-time codes over the working
channel, the inbox, unsubscribe links, dashboard figures."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from cards.models import ConsentRecord
from loyalty.campaigns.delivery import outbox_deliver
from loyalty.campaigns.run import campaigns_run_day
from loyalty.channels.api import (
    CodeNotSent,
    inbox_mark_read,
    inbox_messages,
    inbox_unread_count,
    send_one_time_code,
    unsubscribe_url,
)
from loyalty.channels.models import ChannelOptOut
from loyalty.channels.selectors import channel_figures
from loyalty.models import OutboxMessage
from tests.factories import CampaignFactory, ClientFactory, MemberFactory

from .conftest import BOT_TOKEN, issue_message, link_telegram, make_merchant
from .fakes import SMSC_AUTH, SMSC_OK, tg_ok

pytestmark = pytest.mark.django_db


def test_code_goes_by_sms_when_a_gateway_is_connected_and_is_stored_masked(transport):
    merchant = make_merchant(sms_gateway="smsc", smsc_login="l", smsc_password="p")
    transport.queue(SMSC_OK)
    result = send_one_time_code(merchant=merchant, phone="+79131234567", code="482913")
    assert result.channel == "sms"
    assert "482913" in transport.form()["mes"]
    assert "Unsubscribe" not in transport.form()["mes"]  # a code is not a campaign
    record = OutboxMessage.objects.get(pk=result.message_id)
    assert (record.kind, record.status) == ("code", "sent")
    assert "482913" not in record.body and "••••••" in record.body


def test_code_falls_back_to_telegram_when_sms_fails(transport, no_sleep):
    merchant = make_merchant(
        sms_gateway="smsc",
        smsc_login="l",
        smsc_password="wrong",
        telegram_bot_token=BOT_TOKEN,
        telegram_bot_username="shop_bot",
    )
    client = ClientFactory(merchant=merchant, phone="+79131234567")
    link_telegram(client, chat_id=321)
    transport.queue(SMSC_AUTH, tg_ok())
    result = send_one_time_code(merchant=merchant, phone="+79131234567", code="111222")
    assert result.channel == "telegram"
    assert transport.last.json()["chat_id"] == 321
    statuses = list(
        OutboxMessage.objects.order_by("pk").values_list("channel", "status", "last_error")
    )
    assert statuses == [
        ("sms", "failed", "SMSC 2: authorise error"),
        ("telegram", "sent", ""),
    ]


def test_no_channel_raises_a_clear_error_unless_console_fallback(settings, capsys):
    settings.LOYALTY_OTP_CONSOLE_FALLBACK = False
    merchant = make_merchant()
    with pytest.raises(CodeNotSent, match="connect an SMS gateway or a Telegram bot"):
        send_one_time_code(merchant=merchant, phone="+79131234567", code="1234")
    settings.LOYALTY_OTP_CONSOLE_FALLBACK = True
    assert (
        send_one_time_code(merchant=merchant, phone="+79131234567", code="1234").channel
        == "console"
    )
    assert "1234" in capsys.readouterr().out


def test_failing_only_channel_raises_with_vendor_words(transport, settings):
    settings.LOYALTY_OTP_CONSOLE_FALLBACK = False
    merchant = make_merchant(sms_gateway="smsc", smsc_login="l", smsc_password="p")
    transport.queue(SMSC_AUTH)
    with pytest.raises(CodeNotSent, match="SMSC 2: authorise error"):
        send_one_time_code(merchant=merchant, phone="+79131234567", code="1234")


def test_inbox_shows_campaign_messages_of_any_channel_but_no_codes(settings):
    settings.LOYALTY_OTP_CONSOLE_FALLBACK = True
    merchant = make_merchant()
    message = issue_message(merchant, "sms")
    send_one_time_code(merchant=merchant, phone=message.client.phone, code="9999")
    client = message.client
    assert [m.pk for m in inbox_messages(client=client)] == [message.pk]
    assert inbox_unread_count(client=client) == 1
    assert inbox_mark_read(client=client) == 1
    assert inbox_unread_count(client=client) == 0
    other = ClientFactory(merchant=merchant)
    assert list(inbox_messages(client=other)) == []


def test_inbox_channel_always_delivers():
    message = issue_message(make_merchant(), "inbox")
    assert outbox_deliver(message_id=message.pk) == "sent"


def test_unsubscribe_link_confirms_then_withdraws_only_that_channel(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    message = issue_message(make_merchant(), "email", email="anna@example.com")
    assert outbox_deliver(message_id=message.pk) == "sent"
    sent = mail.outbox[0]
    url = unsubscribe_url(client_id=message.client_id, channel="email")
    assert url in sent.body
    assert sent.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = url.split("testserver")[-1].replace(settings.PUBLIC_BASE_URL, "")
    # A link scanner's GET unsubscribes nobody.
    response = client.get(path)
    assert response.status_code == 200 and "ZOLOTOFF" in response.content.decode()
    assert not ChannelOptOut.objects.exists()
    assert client.post(path).status_code == 200
    assert list(ChannelOptOut.objects.values_list("channel", flat=True)) == ["email"]
    # The card's consent history has it too; a second click records nothing more.
    assert client.post(path).status_code == 200
    history = ConsentRecord.objects.filter(client_id=message.client_id)
    assert list(history.values_list("given", "channel", "source")) == [
        (False, "email", "unsubscribe link")
    ]
    # The next message for that channel stays in the inbox; forged tokens are refused.
    again = OutboxMessage.objects.create(
        merchant=message.merchant,
        client=message.client,
        channel="email",
        recipient="anna@example.com",
        body="x",
    )
    assert outbox_deliver(message_id=again.pk) == "inbox_only"
    assert (
        client.get(
            reverse("channels:unsubscribe", args=[f"{message.client_id}-sms.forged"])
        ).status_code
        == 404
    )


def test_campaign_for_an_unsubscribed_client_goes_to_the_inbox():
    merchant = make_merchant()
    CampaignFactory(
        merchant=merchant,
        kind="birthday",
        days_before=0,
        reward_form="points",
        reward_points=Decimal(10),
        channel="sms",
    )
    out = MemberFactory(merchant=merchant, birthday=date(1990, 3, 2))
    stay = MemberFactory(merchant=merchant, birthday=date(1990, 3, 2))
    ChannelOptOut.objects.create(
        merchant=merchant, client=out, channel="sms", source="t", created_at=out.created_at
    )
    campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))
    channels = dict(OutboxMessage.objects.values_list("client_id", "channel"))
    assert channels == {out.pk: "inbox", stay.pk: "sms"}


def test_channel_figures_count_links_and_delivery_rate(transport, no_sleep):
    merchant = make_merchant(telegram_bot_token=BOT_TOKEN, telegram_bot_username="shop_bot")
    message = issue_message(merchant, "telegram")
    link_telegram(message.client)
    transport.queue(tg_ok())
    outbox_deliver(message_id=message.pk)
    OutboxMessage.objects.create(
        merchant=merchant, client=message.client, channel="telegram", body="b", status="failed"
    )
    figures = channel_figures(merchant=merchant)
    assert figures["telegram_linked"] == 1
    [telegram] = figures["channels"]
    assert (telegram.channel, telegram.sent, telegram.failed, telegram.delivery_rate) == (
        "telegram",
        1,
        1,
        0.5,
    )
