"""Telegram bot: sendMessage's request, errors (bad token, blocked bot, 429 retry_after,
5xx, network → retried then failed with Telegram's words), the send limits, deep links and
the webhook (secret header, idempotent by update_id, own contact only, /stop)."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cards.models import ConsentRecord
from loyalty.campaigns.delivery import MAX_ATTEMPTS, DeliveryError, outbox_deliver
from loyalty.channels import http
from loyalty.channels.models import ChannelOptOut, TelegramLink, TelegramLinkToken
from loyalty.channels.telegram import (
    SendLimiter,
    telegram_deep_link,
    telegram_webhook_connect,
    webhook_hook,
)
from loyalty.models import OutboxMessage
from tests.factories import ClientFactory

from .conftest import BOT_TOKEN, issue_message, link_telegram, make_merchant
from .fakes import (
    TG_BAD_GATEWAY,
    TG_BLOCKED,
    TG_GET_ME,
    TG_TOO_MANY,
    TG_TRUE,
    TG_UNAUTHORIZED,
    tg_ok,
)

pytestmark = pytest.mark.django_db


def bot_merchant():
    return make_merchant(telegram_bot_token=BOT_TOKEN, telegram_bot_username="zolotoff_bot")


def linked_message():
    merchant = bot_merchant()
    message = issue_message(merchant, "telegram")
    link_telegram(message.client)
    return message


def test_send_message_request_format(transport, no_sleep):
    message = linked_message()
    transport.queue(tg_ok(message_id=42))
    assert outbox_deliver(message_id=message.pk) == "sent"
    request = transport.last
    assert request.method == "POST"
    assert request.url == f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    assert request.headers["Content-Type"] == "application/json"
    payload = request.json()
    assert payload["chat_id"] == 111
    assert payload["text"].startswith("Анна, ")
    assert "/stop" in payload["text"]  # the unsubscribe command in every message
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "42")


def test_bad_token_fails_at_once_with_telegrams_words(transport, no_sleep):
    message = linked_message()
    transport.queue(TG_UNAUTHORIZED)
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.last_error == "Telegram 401: Unauthorized"
    assert message.next_attempt_at is None  # not retried: a token does not heal itself


def test_rate_limit_network_and_5xx_are_retried_then_fail_with_vendor_message(
    transport, no_sleep, monkeypatch
):
    message = linked_message()
    transport.queue(TG_TOO_MANY)
    with pytest.raises(DeliveryError) as info:
        outbox_deliver(message_id=message.pk)
    assert info.value.retry_after == 7
    message.refresh_from_db()
    assert message.status == "failed"
    assert message.last_error == "Telegram 429: Too Many Requests: retry after 7"
    assert message.next_attempt_at > timezone.now()
    # The bot stays silent for retry_after: the next try does not even call Telegram.
    with pytest.raises(DeliveryError):
        outbox_deliver(message_id=message.pk)
    assert len(transport.requests) == 1
    from django.core.cache import cache

    cache.clear()  # the pause is over
    transport.queue(http.NetworkError("timed out"), TG_BAD_GATEWAY)
    with pytest.raises(DeliveryError):
        outbox_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.last_error == "Telegram: network error: timed out"
    with pytest.raises(DeliveryError):
        outbox_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.attempts == MAX_ATTEMPTS - 1
    assert message.last_error.startswith("Telegram 502: <html>")
    # The last attempt records the vendor's answer and stops asking for retries.
    transport.queue(TG_BAD_GATEWAY)
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.attempts == MAX_ATTEMPTS
    assert "502 Bad Gateway" in message.last_error
    assert message.next_attempt_at is None


def test_blocked_bot_deactivates_the_link_and_keeps_the_message_in_the_inbox(transport, no_sleep):
    message = linked_message()
    transport.queue(TG_BLOCKED)
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    message.refresh_from_db()
    assert "bot was blocked by the user" in message.last_error
    link = TelegramLink.objects.get()
    assert link.is_active is False and "403" in link.deactivation_reason


def test_unlinked_client_and_unconnected_bot(transport, no_sleep):
    merchant = bot_merchant()
    message = issue_message(merchant, "telegram")
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    assert transport.requests == []
    message.merchant.channel_settings.delete()
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending")
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert "No Telegram bot is connected" in message.last_error


class Clock:
    def __init__(self, start=1_000_000.0):
        self.now = start
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_limiter_one_message_a_second_per_chat():
    clock = Clock()
    limiter = SendLimiter(1, clock=clock, sleep=clock.sleep)
    limiter.acquire(111)
    limiter.acquire(222)  # another chat: no wait
    assert clock.slept == []
    clock.now += 0.25
    limiter.acquire(111)
    assert clock.slept == [0.75]


def test_limiter_thirty_a_second_in_all_then_waits_for_the_next_second():
    clock = Clock(start=2_000_000.5)
    limiter = SendLimiter(1, clock=clock, sleep=clock.sleep)
    for chat in range(30):
        limiter.acquire(chat)
    assert clock.slept == []
    limiter.acquire(30)
    assert clock.slept == [0.5]


def test_limiter_after_429_refuses_without_waiting():
    clock = Clock()
    limiter = SendLimiter(1, clock=clock, sleep=clock.sleep)
    limiter.pause(35)
    with pytest.raises(DeliveryError) as info:
        limiter.acquire(111)
    assert info.value.retry_after == 35
    assert clock.slept == []


def test_deep_link_payload_fits_telegrams_rules():
    merchant = bot_merchant()
    client = ClientFactory(merchant=merchant)
    link = telegram_deep_link(client=client)
    match = re.fullmatch(r"https://t\.me/zolotoff_bot\?start=([A-Za-z0-9_-]+)", link)
    assert match and len(match.group(1)) <= 64
    assert TelegramLinkToken.objects.get().token == match.group(1)
    # Without a bot there is no link to offer.
    other = ClientFactory()
    assert telegram_deep_link(client=other) is None


def test_deep_link_is_reused_while_fresh_and_unused():
    merchant = bot_merchant()
    client = ClientFactory(merchant=merchant)
    first = telegram_deep_link(client=client)
    assert telegram_deep_link(client=client) == first  # viewing the card again adds nothing
    assert TelegramLinkToken.objects.filter(client=client).count() == 1
    # Once used, or past half its life, the next view gets a new payload.
    TelegramLinkToken.objects.filter(client=client).update(used_at=timezone.now())
    second = telegram_deep_link(client=client)
    assert second != first
    TelegramLinkToken.objects.filter(token=second.split("start=")[1]).update(
        created_at=timezone.now() - timedelta(days=4)
    )
    third = telegram_deep_link(client=client)
    assert third not in (first, second)
    assert TelegramLinkToken.objects.filter(client=client).count() == 3


def test_connect_webhook_calls_get_me_and_set_webhook(transport, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    merchant = make_merchant(telegram_bot_token=BOT_TOKEN)
    transport.queue(TG_GET_ME, TG_TRUE)
    url = telegram_webhook_connect(channel_settings=merchant.channel_settings)
    cs = merchant.channel_settings
    cs.refresh_from_db()
    assert cs.telegram_bot_username == "shop_bot"
    assert url == f"https://portal.example.com/tg/{merchant.pk}/{webhook_hook(cs)}/"
    body = transport.last.json()
    assert transport.last.url.endswith("/setWebhook")
    assert body == {
        "url": url,
        "secret_token": cs.telegram_webhook_secret,
        "allowed_updates": ["message"],
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", cs.telegram_webhook_secret)


def test_connect_webhook_with_a_bad_token_keeps_telegrams_words(transport):
    merchant = make_merchant(telegram_bot_token="bad", telegram_bot_username="x_bot")
    transport.queue(TG_UNAUTHORIZED)
    with pytest.raises(DeliveryError, match="Telegram 401: Unauthorized"):
        telegram_webhook_connect(channel_settings=merchant.channel_settings)


# --- webhook -----------------------------------------------------------------------------


def hooked_merchant():
    merchant = bot_merchant()
    cs = merchant.channel_settings
    cs.telegram_webhook_secret = "s3cret-Token_1"
    cs.save()
    return merchant


def post_update(client, merchant, update, secret="s3cret-Token_1", hook=None):
    cs = merchant.channel_settings
    url = reverse("channels:telegram_webhook", args=[merchant.pk, hook or webhook_hook(cs)])
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    body = update if isinstance(update, (str, bytes)) else json.dumps(update)
    return client.post(url, data=body, content_type="application/json", **headers)


def text_update(update_id, text, user_id=555, first_name="Anna"):
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": "en",
            },
            "chat": {"id": user_id, "first_name": first_name, "type": "private"},
            "date": 1732881600,
            "text": text,
        },
    }


def test_webhook_checks_path_and_secret_header(client):
    merchant = hooked_merchant()
    assert (
        post_update(client, merchant, text_update(1, "/start"), secret="wrong").status_code == 401
    )
    assert post_update(client, merchant, text_update(1, "/start"), secret=None).status_code == 401
    assert post_update(client, merchant, text_update(1, "/start"), hook="0" * 24).status_code == 404
    assert post_update(client, merchant, "{not json").status_code == 400
    assert post_update(client, merchant, {"message": {}}).status_code == 400
    assert post_update(client, merchant, text_update(1, "/start")).status_code == 200


def test_start_with_payload_links_the_card_once_and_updates_are_idempotent(client):
    merchant = hooked_merchant()
    card = ClientFactory(merchant=merchant)
    token = telegram_deep_link(client=card).split("start=")[1]
    response = post_update(client, merchant, text_update(10, f"/start {token}"))
    answer = response.json()
    assert answer["method"] == "sendMessage" and answer["chat_id"] == 555
    assert "ZOLOTOFF" in answer["text"]
    link = TelegramLink.objects.get()
    assert (link.client_id, link.chat_id, link.is_active) == (card.pk, 555, True)
    # Telegram re-sends the same update: nothing happens twice.
    assert post_update(client, merchant, text_update(10, f"/start {token}")).json() == {}
    # The payload is one-time: another Telegram user cannot reuse it.
    answer = post_update(client, merchant, text_update(11, f"/start {token}", user_id=777)).json()
    assert answer["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    assert TelegramLink.objects.count() == 1


def contact_update(update_id, phone, contact_user_id, user_id=555):
    update = text_update(update_id, "", user_id=user_id)
    del update["message"]["text"]
    update["message"]["contact"] = {
        "phone_number": phone,
        "first_name": "Anna",
        **({"user_id": contact_user_id} if contact_user_id is not None else {}),
    }
    return update


def test_shared_contact_counts_only_when_it_is_the_senders_own(client):
    merchant = hooked_merchant()
    card = ClientFactory(merchant=merchant, phone="+79131112233")
    # Someone else's contact (or one without user_id) links nothing.
    post_update(client, merchant, contact_update(20, "79131112233", contact_user_id=999))
    post_update(client, merchant, contact_update(21, "79131112233", contact_user_id=None))
    assert not TelegramLink.objects.exists()
    # The sender's own contact (Telegram sends the number without "+") links the card.
    answer = post_update(client, merchant, contact_update(22, "79131112233", 555)).json()
    assert answer["reply_markup"] == {"remove_keyboard": True}
    assert TelegramLink.objects.get().client_id == card.pk
    # An unknown number is told where to join.
    answer = post_update(client, merchant, contact_update(23, "+79990000000", 556, user_id=556))
    assert "/c/zolotoff-ch/" in answer.json()["text"]


def test_stop_unlinks_and_withdraws_consent_then_start_resumes(client, transport, no_sleep):
    merchant = hooked_merchant()
    message = issue_message(merchant, "telegram")
    link_telegram(message.client, chat_id=555, user_id=555)
    post_update(client, merchant, text_update(30, "/stop"))
    assert TelegramLink.objects.get().is_active is False
    assert ChannelOptOut.objects.filter(client=message.client, channel="telegram").exists()
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    post_update(client, merchant, text_update(31, "/start"))
    assert TelegramLink.objects.get().is_active is True
    assert not ChannelOptOut.objects.exists()
    # Both changes are in the card's consent history, newest first.
    history = ConsentRecord.objects.filter(client=message.client, channel="telegram")
    assert list(history.values_list("given", "source")) == [
        (True, "telegram linked"),
        (False, "telegram /stop"),
    ]


def test_groups_are_ignored(client):
    merchant = hooked_merchant()
    update = text_update(40, "/start")
    update["message"]["chat"] = {"id": -100123, "type": "supergroup", "title": "Chat"}
    assert post_update(client, merchant, update).json() == {}
