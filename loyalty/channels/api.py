"""What the client card site calls: one-time codes, web push subscriptions and keys, the
Telegram deep link, the card inbox and consent per channel. Thin callers (views) use only
these names.

One-time codes go over the merchant's working channel, in this order:
1. the SMS gateway (SMSC or Twilio), when one is connected;
2. Telegram, when the merchant has a bot and a client with this phone has linked it;
3. the console (the server's log/stdout), only when LOYALTY_OTP_CONSOLE_FALLBACK is on
   (by default: DEBUG) — development and browser tests.
A channel that fails hands over to the next one. Every attempt is recorded as an outbox
message of kind "code" with the code masked; codes never appear in the card inbox."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Client

from ..campaigns.delivery import ConsoleBackend, DeliveryError
from ..models import Channel, OutboxMessage
from ..services.errors import LoyaltyError
from .common import channel_settings_for
from .consent import consent_restore, consent_set, consent_withdraw, unsubscribe_url
from .inbox import inbox_mark_read, inbox_messages, inbox_unread_count
from .models import TelegramLink
from .sms import sms_send
from .telegram import telegram_deep_link, telegram_send_text
from .webpush import SubscriptionError, webpush_public_key, webpush_subscribe

logger = logging.getLogger("loyalty.channels")

__all__ = [
    "CodeDelivery",
    "CodeNotSent",
    "SubscriptionError",
    "consent_restore",
    "consent_set",
    "consent_withdraw",
    "inbox_mark_read",
    "inbox_messages",
    "inbox_unread_count",
    "send_one_time_code",
    "telegram_deep_link",
    "unsubscribe_url",
    "webpush_public_key",
    "webpush_subscribe",
]

MASK = "••••••"


class CodeNotSent(LoyaltyError):
    """No channel could carry the code (none connected, or every one failed)."""


@dataclass(frozen=True)
class CodeDelivery:
    channel: str  # Channel value: "sms", "telegram" or "console"
    message_id: int  # the outbox record (code masked)


def _code_text(merchant, code: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("%(code)s is your %(merchant)s code. Do not tell it to anyone.") % {
            "code": code,
            "merchant": merchant.name,
        }


def send_one_time_code(*, merchant, phone: str, code: str) -> CodeDelivery:
    """Send `code` to `phone` (E.164) over the merchant's working channel (see the module
    docstring for the order) right now, and record the attempt. Returns the channel used.
    Raises CodeNotSent with the reason (every vendor's words) when nothing carried it; the
    caller decides about rate limits and how long the code lives."""
    text = _code_text(merchant, code)
    client = Client.objects.filter(merchant=merchant, phone=phone).first()
    channel_settings = channel_settings_for(merchant.pk)
    errors = []
    attempts = []
    if channel_settings is not None and channel_settings.sms_ready:
        attempts.append(
            (
                Channel.SMS,
                phone,
                lambda: sms_send(channel_settings=channel_settings, phone=phone, text=text),
            )
        )
    if client is not None and channel_settings is not None and channel_settings.telegram_ready:
        link = TelegramLink.objects.filter(merchant=merchant, client=client, is_active=True).first()
        if link is not None:
            attempts.append(
                (
                    Channel.TELEGRAM,
                    str(link.chat_id),
                    lambda link=link: str(
                        telegram_send_text(
                            channel_settings=channel_settings, link=link, text=text
                        ).get("message_id")
                        or ""
                    ),
                )
            )
    if getattr(settings, "LOYALTY_OTP_CONSOLE_FALLBACK", False):

        def console():
            ConsoleBackend().send(
                OutboxMessage(channel=Channel.CONSOLE, recipient=phone, subject="", body=text)
            )
            return ""

        attempts.append((Channel.CONSOLE, phone, console))
    for channel, recipient, send in attempts:
        record = OutboxMessage(
            merchant=merchant,
            client=client,
            kind=OutboxMessage.Kind.CODE,
            channel=channel,
            recipient=recipient[:200],
            body=text.replace(code, MASK),
            attempts=1,
        )
        try:
            record.provider_message_id = (send() or "")[:100]
        except DeliveryError as exc:
            record.status = OutboxMessage.Status.FAILED
            record.last_error = str(exc)[:2000]
            errors.append(str(exc))
            logger.warning("one-time code via %s failed: %s", channel, exc)
        else:
            record.status = OutboxMessage.Status.SENT
            record.sent_at = timezone.now()
        with transaction.atomic():
            record.save()
        if record.status == OutboxMessage.Status.SENT:
            return CodeDelivery(channel=channel, message_id=record.pk)
    if not attempts:
        raise CodeNotSent(
            _(
                "No channel can deliver a code yet: connect an SMS gateway or a Telegram bot in "
                "the merchant's channel settings."
            )
        )
    raise CodeNotSent(_("The code could not be sent: %(errors)s") % {"errors": "; ".join(errors)})
