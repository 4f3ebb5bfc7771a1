"""Telegram's webhook updates: authenticate the call, handle each update once, link a client who
shares their contact or starts the bot from their card's deep link, and answer in their language."""

import hmac

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Client
from crm.phones import phone_or_none

from ..models import Channel
from .consent import absolute_url, consent_withdraw
from .models import ChannelSettings, TelegramLink, TelegramLinkToken, TelegramUpdate
from .telegram import LINK_TOKEN_TTL, MAX_TEXT, START_PAYLOAD_MAX, telegram_link, webhook_hook


class WebhookRejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def webhook_authenticate(*, merchant_id: int, hook: str, secret_header: str | None):
    """The merchant's channel settings if the path and the secret header are right (both
    compared in constant time); WebhookRejected(404/401) otherwise."""
    channel_settings = (
        ChannelSettings.objects.select_related("merchant").filter(merchant_id=merchant_id).first()
    )
    if channel_settings is None or not channel_settings.telegram_webhook_secret:
        raise WebhookRejected(404, "unknown bot")
    if not hmac.compare_digest(hook.encode(), webhook_hook(channel_settings).encode()):
        raise WebhookRejected(404, "unknown bot")
    if not hmac.compare_digest(
        (secret_header or "").encode(), channel_settings.telegram_webhook_secret.encode()
    ):
        raise WebhookRejected(401, "bad secret token")
    return channel_settings


def telegram_update_process(*, channel_settings: ChannelSettings, update: dict) -> dict | None:
    """Handle one update once (by update_id); returns the Bot API call to answer the
    webhook with (Telegram performs it), or None. A repeated update returns None."""
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        raise WebhookRejected(400, "update_id is required")
    with transaction.atomic():
        try:
            with transaction.atomic():
                TelegramUpdate.objects.create(
                    merchant_id=channel_settings.merchant_id, update_id=update_id
                )
        except IntegrityError:
            return None
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        return _handle_message(channel_settings, message)


def _reply(chat_id: int, text: str, markup: dict | None = None) -> dict:
    answer = {"method": "sendMessage", "chat_id": chat_id, "text": text[:MAX_TEXT]}
    if markup:
        answer["reply_markup"] = markup
    return answer


def _contact_keyboard() -> dict:
    return {
        "keyboard": [[{"text": _("Share my phone number"), "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


def _language(sender: dict) -> str:
    code = str(sender.get("language_code") or "")[:2]
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _handle_message(channel_settings: ChannelSettings, message: dict) -> dict | None:
    chat = message.get("chat") or {}
    sender = message.get("from") or {}
    chat_id, user_id = chat.get("id"), sender.get("id")
    if (
        chat.get("type") != "private"
        or not isinstance(chat_id, int)
        or not isinstance(user_id, int)
    ):
        return None  # groups and channels are not clients
    with translation.override(_language(sender)):
        return _dispatch(channel_settings, message, chat_id, user_id, sender)


def _linked_reply(chat_id: int, merchant_name: str) -> dict:
    return _reply(
        chat_id,
        _(
            "Done: your %(merchant)s card is linked. Offers and gifts will come here. "
            "Send /stop to unsubscribe."
        )
        % {"merchant": merchant_name},
        {"remove_keyboard": True},
    )


def _dispatch(channel_settings, message, chat_id, user_id, sender) -> dict | None:
    merchant = channel_settings.merchant
    username = str(sender.get("username") or "")
    text = str(message.get("text") or "").strip()
    contact = message.get("contact")
    if isinstance(contact, dict):
        # Only the sender's own contact proves the number is theirs: a forwarded or picked
        # contact of someone else carries another user_id (or none).
        if contact.get("user_id") != user_id:
            return _reply(
                chat_id,
                _("Please share your own number with the button below."),
                _contact_keyboard(),
            )
        phone = phone_or_none(str(contact.get("phone_number") or ""), merchant.country)
        client = Client.objects.filter(merchant=merchant, phone=phone).first() if phone else None
        if client is None:
            return _reply(
                chat_id,
                _("There is no %(merchant)s card with this number yet. Join here: %(url)s")
                % {"merchant": merchant.name, "url": absolute_url(f"/c/{merchant.slug}/")},
                {"remove_keyboard": True},
            )
        telegram_link(client=client, chat_id=chat_id, user_id=user_id, username=username)
        return _linked_reply(chat_id, merchant.name)
    command, _sep, payload = text.partition(" ")
    command = command.split("@", 1)[0].lower()
    if command == "/start":
        payload = payload.strip()
        if payload:
            token = (
                TelegramLinkToken.objects.select_for_update()
                .select_related("client")
                .filter(
                    merchant=merchant,
                    token=payload[:START_PAYLOAD_MAX],
                    used_at__isnull=True,
                    created_at__gte=timezone.now() - LINK_TOKEN_TTL,
                )
                .first()
            )
            if token is not None:
                token.used_at = timezone.now()
                token.save(update_fields=["used_at"])
                telegram_link(
                    client=token.client, chat_id=chat_id, user_id=user_id, username=username
                )
                return _linked_reply(chat_id, merchant.name)
        existing = (
            TelegramLink.objects.filter(merchant=merchant, telegram_user_id=user_id)
            .select_related("client")
            .first()
        )
        if existing is not None:
            telegram_link(
                client=existing.client, chat_id=chat_id, user_id=user_id, username=username
            )
            return _linked_reply(chat_id, merchant.name)
        return _reply(
            chat_id,
            (_("This link has expired. ") if payload else "")
            + _("To link your %(merchant)s card, share your phone number with the button below.")
            % {"merchant": merchant.name},
            _contact_keyboard(),
        )
    if command == "/stop":
        link = TelegramLink.objects.filter(merchant=merchant, telegram_user_id=user_id).first()
        if link is not None:
            TelegramLink.objects.filter(pk=link.pk).update(
                is_active=False, deactivated_at=timezone.now(), deactivation_reason="/stop"
            )
            consent_withdraw(client=link.client, channel=Channel.TELEGRAM, source="telegram /stop")
        return _reply(
            chat_id,
            _("You will get no more messages here. Send /start to resume."),
            {"remove_keyboard": True},
        )
    return _reply(
        chat_id,
        _(
            "This bot sends your %(merchant)s card's offers and gifts. Send /start to link "
            "your card or /stop to unsubscribe."
        )
        % {"merchant": merchant.name},
    )
