"""How the card site reaches a client: the one place that calls the delivery channels.

The contract with the channels: `send_one_time_code(merchant, phone, code)` over the merchant's
working channel, `webpush_public_key(merchant)`, `webpush_subscribe(client, subscription)` and
`telegram_deep_link(client)`. Until a real phone channel is connected here, one-time codes go
through the outbox on the console channel (visible in the admin's outbox and the worker log);
push and Telegram report "not available" and the card page hides their buttons."""

from django.utils.translation import gettext as _

from loyalty.models import Channel, OutboxMessage
from onboarding.models import Merchant

from .errors import CardError


def send_one_time_code(*, merchant: Merchant, phone: str, code: str) -> OutboxMessage:
    """Queue the code for `phone` (delivered once the current transaction commits).
    The message carries no client, so it never shows in a card's inbox."""
    from loyalty.tasks import enqueue_deliveries

    message = OutboxMessage.objects.create(
        merchant=merchant,
        client=None,
        channel=Channel.CONSOLE,
        recipient=phone,
        subject=_("%(merchant)s: your code") % {"merchant": merchant.name},
        body=_("%(code)s is your code for the %(merchant)s card. It is valid for 10 minutes.")
        % {"code": code, "merchant": merchant.name},
    )
    enqueue_deliveries([message.pk])
    return message


def send_magic_link(*, merchant: Merchant, email: str, link: str) -> OutboxMessage | None:
    """E-mail a sign-in link to a member who has an e-mail address."""
    from loyalty.tasks import enqueue_deliveries

    if not email:
        return None
    message = OutboxMessage.objects.create(
        merchant=merchant,
        client=None,
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
    """The VAPID public key the browser subscribes with; empty while web push is not
    connected (the card then hides the subscribe button)."""
    return ""


def webpush_subscribe(*, client, subscription: dict) -> None:
    raise CardError(_("Notifications are not available yet."))


def telegram_deep_link(*, client) -> str:
    """A t.me link that binds the client's Telegram; empty while the bot is not connected."""
    return ""
