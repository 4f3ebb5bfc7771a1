"""How the card site reaches a client: the one place that calls the delivery channels
(`loyalty.channels.api`). Views call only these names; channel failures become a CardError
with a message the client can read (the vendors' words stay in the log and on the outbox
record, not on the client's screen).

- One-time codes go over the merchant's working channel (SMS gateway, then the client's
  linked Telegram, then the console when LOYALTY_OTP_CONSOLE_FALLBACK is on) and are recorded
  masked as outbox messages of kind "code", which never show in the card inbox.
- Web push: the merchant's VAPID public key for the inbox's "Turn on notifications" button and
  the browser's subscription; Telegram: a one-time deep link to the merchant's bot.
- The inbox and consent are the channels' own (one home): the card shows and marks read the
  campaign messages, and every consent change — the card page, the unsubscribe link, Telegram
  /stop — goes through the channels' consent functions, which keep the card's history."""

import logging

from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.channels import api
from loyalty.models import Channel, OutboxMessage
from loyalty.tasks import enqueue_deliveries
from onboarding.models import Merchant

from .errors import CardError

logger = logging.getLogger("cards")

# The channels' versions, re-exported so card views have one module to call.
consent_set = api.consent_set
consent_withdraw = api.consent_withdraw
consent_restore = api.consent_restore
inbox_messages = api.inbox_messages
inbox_unread_count = api.inbox_unread_count
inbox_mark_read = api.inbox_mark_read
unsubscribe_url = api.unsubscribe_url


def send_one_time_code(*, merchant: Merchant, phone: str, code: str) -> api.CodeDelivery:
    """Send the code to `phone` now over the merchant's working channel; returns which
    channel carried it. Raises CardError when no channel could."""
    try:
        return api.send_one_time_code(merchant=merchant, phone=phone, code=code)
    except api.CodeNotSent as exc:
        logger.warning("one-time code for merchant %s not sent: %s", merchant.pk, exc)
        raise CardError(
            _(
                "We could not send the code to this phone right now. Please try again in a few "
                "minutes or ask the staff at the till."
            )
        ) from exc


def send_magic_link(*, merchant: Merchant, email: str, link: str) -> OutboxMessage | None:
    """E-mail a sign-in link to a member who has an e-mail address (queued; delivered once
    the current transaction commits). Kind "code": a sign-in credential, never in the inbox."""
    if not email:
        return None
    message = OutboxMessage.objects.create(
        merchant=merchant,
        client=None,
        kind=OutboxMessage.Kind.CODE,
        channel=Channel.EMAIL,
        recipient=email,
        subject=_("%(merchant)s: sign in to your card") % {"merchant": merchant.name},
        body=_(
            "Open this link to sign in to your %(merchant)s card (valid for 10 minutes):\n%(link)s"
        )
        % {"merchant": merchant.name, "link": link},
    )
    enqueue_deliveries([message.pk])
    return message


def webpush_public_key(*, merchant: Merchant) -> str:
    """The merchant's VAPID public key for the browser's subscription (created on first
    use, so every merchant's inbox offers notifications)."""
    return api.webpush_public_key(merchant=merchant) or ""


def webpush_subscribe(*, client: Client, subscription: dict) -> None:
    """Keep the browser's push subscription for the client's card. Raises CardError."""
    try:
        api.webpush_subscribe(client=client, subscription=subscription)
    except api.SubscriptionError as exc:
        raise CardError(
            _("This browser's notification subscription could not be saved: %(reason)s")
            % {"reason": exc.message}
        ) from exc


def telegram_deep_link(*, client: Client) -> str:
    """A t.me link that binds the client's Telegram to the merchant's bot; empty when the
    merchant has no bot connected (the card then hides the button)."""
    return api.telegram_deep_link(client=client) or ""
