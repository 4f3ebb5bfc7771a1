"""Telegram bot: Bot API `sendMessage` over the shared HTTP transport, the per-chat and
bulk send limits, deep links with one-time payloads and `setWebhook`. The webhook's update
handling (/start <payload>, a shared own contact, /stop) is in telegram_updates.py.

Bot API facts this relies on: every answer is JSON {"ok": true, "result": …} or
{"ok": false, "error_code": N, "description": "…", "parameters": {"retry_after": S}};
429 carries retry_after; 403 means the user blocked the bot (or deleted the account);
a /start payload is at most 64 characters of A–Z, a–z, 0–9, _ and -; a webhook request
carries the secret given to setWebhook in X-Telegram-Bot-Api-Secret-Token, and Telegram
re-sends an update until it gets a 2xx — so updates are processed once by update_id."""

import hashlib
import json
import math
import secrets
import time
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..campaigns.delivery import (
    DeliveryBackend,
    DeliveryError,
    PermanentDeliveryError,
    RecipientUnreachable,
)
from ..models import Channel, OutboxMessage
from . import http
from .common import channel_settings_for, vendor_text
from .consent import absolute_url, consent_restore, footer
from .models import ChannelSettings, TelegramLink, TelegramLinkToken

API_BASE = "https://api.telegram.org"
MAX_TEXT = 4096
LINK_TOKEN_TTL = timedelta(days=7)
START_PAYLOAD_MAX = 64


class TelegramBlocked(RecipientUnreachable):
    """403: the user blocked the bot or deleted the account."""


class TelegramRateLimited(DeliveryError):
    """429: too many requests; `retry_after` says for how long."""


class TelegramApi:
    """The Bot API methods the product uses, over `http.TRANSPORT`."""

    def __init__(self, token: str):
        self.token = token

    def call(self, method: str, payload: dict) -> object:
        request = http.HttpRequest(
            "POST",
            f"{API_BASE}/bot{self.token}/{method}",
            headers={"Content-Type": "application/json"},
            body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        )
        try:
            response = http.send(request)
        except http.NetworkError as exc:
            raise DeliveryError(vendor_text("Telegram", None, f"network error: {exc}")) from exc
        data = response.json()
        if isinstance(data, dict) and data.get("ok") is True:
            return data.get("result")
        if not isinstance(data, dict):
            data = {}
        code = data.get("error_code") or response.status
        text = vendor_text("Telegram", code, data.get("description") or response.text[:200])
        if code == 429:
            retry_after = (data.get("parameters") or {}).get("retry_after")
            if not isinstance(retry_after, int):
                retry_after = http.retry_after_seconds(response, 1)
            raise TelegramRateLimited(text, retry_after=retry_after)
        if not isinstance(code, int) or code >= 500:
            raise DeliveryError(text)
        if code == 403:
            raise TelegramBlocked(text)
        # 400 (chat not found, bad request), 401 (bad token), 404 (malformed token)…
        raise PermanentDeliveryError(text)

    def send_message(self, chat_id: int, text: str, reply_markup: dict | None = None) -> dict:
        payload = {"chat_id": chat_id, "text": text[:MAX_TEXT]}
        if reply_markup:
            payload["reply_markup"] = reply_markup
        result = self.call("sendMessage", payload)
        return result if isinstance(result, dict) else {}

    def set_webhook(self, url: str, secret_token: str) -> None:
        self.call(
            "setWebhook",
            {"url": url, "secret_token": secret_token, "allowed_updates": ["message"]},
        )

    def get_me(self) -> dict:
        result = self.call("getMe", {})
        return result if isinstance(result, dict) else {}


class SendLimiter:
    """Keeps a bot under Telegram's limits: one message a second per chat and about 30 a
    second in all, and silent after a 429 for its retry_after. Counters live in the cache
    (set CACHE_URL to Redis so several workers share them). Waits up to `max_wait` seconds;
    longer waits become a retryable DeliveryError."""

    PER_CHAT_INTERVAL = 1.0
    PER_BOT_PER_SECOND = 30

    def __init__(self, merchant_id: int, *, clock=time.time, sleep=time.sleep, max_wait=3.0):
        self.prefix = f"tg-limit:{merchant_id}"
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait

    def pause(self, seconds: int) -> None:
        """Telegram said 429: nothing goes out from this bot for `seconds`."""
        until = self.clock() + seconds
        cache.set(f"{self.prefix}:pause", until, timeout=max(1, math.ceil(seconds)) + 1)

    def acquire(self, chat_id: int) -> None:
        waited = 0.0
        while True:
            now = self.clock()
            paused_until = cache.get(f"{self.prefix}:pause")
            if paused_until and paused_until > now:
                remaining = paused_until - now
                raise DeliveryError(
                    _("Telegram asked to wait %(seconds)s s before sending more.")
                    % {"seconds": math.ceil(remaining)},
                    retry_after=math.ceil(remaining),
                )
            chat_key = f"{self.prefix}:chat:{chat_id}"
            last = cache.get(chat_key)
            wait = (last + self.PER_CHAT_INTERVAL - now) if last else 0.0
            if wait <= 0:
                window = int(now)
                window_key = f"{self.prefix}:s:{window}"
                cache.add(window_key, 0, timeout=5)
                try:
                    count = cache.incr(window_key)
                except ValueError:  # expired between add and incr
                    cache.set(window_key, 1, timeout=5)
                    count = 1
                if count <= self.PER_BOT_PER_SECOND:
                    cache.set(chat_key, now, timeout=5)
                    return
                wait = window + 1 - now
            if waited + wait > self.max_wait:
                raise DeliveryError(
                    _("Telegram send limit reached; retrying shortly."),
                    retry_after=max(1, math.ceil(wait)),
                )
            self.sleep(wait)
            waited += wait


def _limiter(merchant_id: int) -> SendLimiter:
    return SendLimiter(merchant_id)


def telegram_send_text(*, channel_settings: ChannelSettings, link: TelegramLink, text: str) -> dict:
    """Send `text` to a linked chat within the limits. A 403 deactivates the link and raises
    TelegramBlocked; a 429 silences the bot for retry_after and raises DeliveryError."""
    limiter = _limiter(channel_settings.merchant_id)
    limiter.acquire(link.chat_id)
    api = TelegramApi(channel_settings.telegram_bot_token)
    try:
        return api.send_message(link.chat_id, text)
    except TelegramBlocked as exc:
        TelegramLink.objects.filter(pk=link.pk).update(
            is_active=False, deactivated_at=timezone.now(), deactivation_reason=str(exc)[:200]
        )
        raise
    except TelegramRateLimited as exc:
        limiter.pause(exc.retry_after or 1)
        raise


def _not_connected() -> PermanentDeliveryError:
    return PermanentDeliveryError(
        _(
            "No Telegram bot is connected for this merchant: set the bot's token and username "
            "in its channel settings."
        )
    )


class TelegramBackend(DeliveryBackend):
    """Campaign messages to the client's linked chat, with the /stop hint."""

    def send(self, message: OutboxMessage) -> None:
        channel_settings = channel_settings_for(message.merchant_id)
        if channel_settings is None or not channel_settings.telegram_bot_token:
            raise _not_connected()
        link = TelegramLink.objects.filter(
            merchant_id=message.merchant_id, client_id=message.client_id, is_active=True
        ).first()
        if link is None:
            raise RecipientUnreachable(_("The client has not linked the Telegram bot."))
        text = message.body
        if message.kind == OutboxMessage.Kind.CAMPAIGN:
            text += footer(client_id=message.client_id, channel=Channel.TELEGRAM)
        result = telegram_send_text(channel_settings=channel_settings, link=link, text=text)
        message.provider_message_id = str(result.get("message_id") or "")[:100]


# --- deep links and linking -------------------------------------------------------------


def telegram_deep_link(*, client) -> str | None:
    """A t.me link that links this client's card to the merchant's bot when opened (a
    one-time payload valid for LINK_TOKEN_TTL); None when the merchant has no bot connected.
    An unused payload with more than half its life left is shown again, so viewing the card
    does not add a row each time."""
    channel_settings = channel_settings_for(client.merchant_id)
    if channel_settings is None or not channel_settings.telegram_ready:
        return None
    now = timezone.now()
    token = (
        TelegramLinkToken.objects.filter(
            client=client, used_at__isnull=True, created_at__gte=now - LINK_TOKEN_TTL / 2
        )
        .order_by("-created_at")
        .values_list("token", flat=True)
        .first()
    )
    if token is None:
        token = secrets.token_urlsafe(32)  # 43 characters of A–Z a–z 0–9 _ -
        assert len(token) <= START_PAYLOAD_MAX
        TelegramLinkToken.objects.create(
            merchant_id=client.merchant_id, client=client, token=token, created_at=now
        )
    return f"https://t.me/{channel_settings.telegram_bot_username.lstrip('@')}?start={token}"


def telegram_link(*, client, chat_id: int, user_id: int, username: str = "") -> TelegramLink:
    """Link the client's card to a Telegram account (one card per account and merchant: a
    previous card of the same account is unlinked) and restore consent for the channel."""
    now = timezone.now()
    with transaction.atomic():
        TelegramLink.objects.filter(
            merchant_id=client.merchant_id, telegram_user_id=user_id
        ).exclude(client=client).delete()
        link, _created = TelegramLink.objects.update_or_create(
            merchant_id=client.merchant_id,
            client=client,
            defaults={
                "chat_id": chat_id,
                "telegram_user_id": user_id,
                "username": (username or "")[:64],
                "is_active": True,
                "linked_at": now,
                "deactivated_at": None,
                "deactivation_reason": "",
            },
        )
        consent_restore(client=client, channel=Channel.TELEGRAM, source="telegram linked")
    return link


# --- webhook -----------------------------------------------------------------------------


def webhook_hook(channel_settings: ChannelSettings) -> str:
    """The unguessable last path segment of the merchant's webhook URL (follows the secret,
    so rotating the secret also moves the URL)."""
    digest = hashlib.sha256(f"hook:{channel_settings.telegram_webhook_secret}".encode())
    return digest.hexdigest()[:24]


def webhook_url(channel_settings: ChannelSettings) -> str:
    return absolute_url(
        reverse(
            "channels:telegram_webhook",
            args=[channel_settings.merchant_id, webhook_hook(channel_settings)],
        )
    )


def telegram_webhook_connect(*, channel_settings: ChannelSettings, rotate: bool = False) -> str:
    """Point the bot at our webhook (setWebhook with a fresh or kept secret token), filling
    the bot's username from getMe when it is empty. Returns the webhook URL. Raises
    DeliveryError with Telegram's words when Telegram refuses (e.g. a bad token)."""
    if not channel_settings.telegram_bot_token:
        raise _not_connected()
    if rotate or not channel_settings.telegram_webhook_secret:
        channel_settings.telegram_webhook_secret = secrets.token_urlsafe(32)
    api = TelegramApi(channel_settings.telegram_bot_token)
    if not channel_settings.telegram_bot_username:
        channel_settings.telegram_bot_username = str(api.get_me().get("username") or "")[:64]
    url = webhook_url(channel_settings)
    api.set_webhook(url, channel_settings.telegram_webhook_secret)
    channel_settings.telegram_webhook_set_at = timezone.now()
    channel_settings.save(
        update_fields=[
            "telegram_webhook_secret",
            "telegram_bot_username",
            "telegram_webhook_set_at",
        ]
    )
    return url
