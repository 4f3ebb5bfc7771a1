"""Consent per channel: signed unsubscribe links, opt-outs, and the unsubscribe line every
external message carries (a link in e-mail, SMS and web push; the /stop command in Telegram)."""

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import Channel
from .models import ChannelOptOut

_SALT = "loyalty.channels.unsubscribe"
# A short signature value so the link fits in an SMS: "<client id>-<channel>.<signature>".
_signer = signing.Signer(salt=_SALT, sep=".")
EXTERNAL_CHANNELS = (Channel.WEB_PUSH, Channel.TELEGRAM, Channel.SMS, Channel.EMAIL)


def absolute_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def unsubscribe_token(*, client_id: int, channel: str) -> str:
    return _signer.sign(f"{client_id}-{channel}")


def unsubscribe_token_read(token: str) -> tuple[int, str] | None:
    """(client id, channel) of a genuine token, else None."""
    try:
        value = _signer.unsign(token)
    except signing.BadSignature:
        return None
    client_id, _sep, channel = value.partition("-")
    if not client_id.isdigit() or channel not in Channel.values:
        return None
    return int(client_id), channel


def unsubscribe_url(*, client_id: int, channel: str) -> str:
    """The absolute signed link that withdraws the client's consent for this channel."""
    token = unsubscribe_token(client_id=client_id, channel=channel)
    return absolute_url(reverse("channels:unsubscribe", args=[token]))


def consent_withdraw(*, client, channel: str, source: str) -> bool:
    """Record that the client wants no more messages over `channel`; True if this call
    recorded it (False when it already was). Messages still land in the card inbox."""
    try:
        with transaction.atomic():
            ChannelOptOut.objects.create(
                merchant_id=client.merchant_id,
                client=client,
                channel=channel,
                source=source[:40],
                created_at=timezone.now(),
            )
    except IntegrityError:
        return False
    return True


def consent_restore(*, client, channel: str) -> bool:
    """Undo an opt-out (the client subscribed again on the card); True if one was removed."""
    deleted, _rows = ChannelOptOut.objects.filter(client=client, channel=channel).delete()
    return bool(deleted)


def opted_out(*, client_id: int, channel: str) -> bool:
    return ChannelOptOut.objects.filter(client_id=client_id, channel=channel).exists()


def opted_out_ids(*, client_ids, channel: str) -> set[int]:
    """Which of these clients withdrew consent for `channel` (one query)."""
    return set(
        ChannelOptOut.objects.filter(client_id__in=list(client_ids), channel=channel).values_list(
            "client_id", flat=True
        )
    )


def footer(*, client_id: int | None, channel: str) -> str:
    """The unsubscribe line appended to an external message's text (empty without a client)."""
    if client_id is None:
        return ""
    with translation.override(settings.LANGUAGE_CODE):
        if channel == Channel.TELEGRAM:
            return "\n\n" + _("/stop — unsubscribe from these messages")
        url = unsubscribe_url(client_id=client_id, channel=channel)
        if channel == Channel.SMS:
            return " " + _("Unsubscribe: %(url)s") % {"url": url}
        return "\n\n—\n" + _("Unsubscribe from these messages: %(url)s") % {"url": url}
