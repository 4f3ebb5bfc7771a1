"""Consent to messages, the one home for every change of it: the client's consent to all
messages (`consent_set`, `Client.consent`), opt-outs per channel (`consent_withdraw`,
`consent_restore`), signed unsubscribe links, and the unsubscribe line every external message
carries (a link in e-mail, SMS and web push; the /stop command in Telegram).

Every change that takes effect sends `consent_changed`; the card site keeps the client's
consent history from it (time, source, channel, IP), so the card page, the unsubscribe link,
Telegram /stop and an SMS STOP all land in one history."""

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Client

from ..models import Channel
from .models import ChannelOptOut

_SALT = "loyalty.channels.unsubscribe"
# A short signature value so the link fits in an SMS: "<client id>-<channel>.<signature>".
_signer = signing.Signer(salt=_SALT, sep=".")
EXTERNAL_CHANNELS = (Channel.WEB_PUSH, Channel.TELEGRAM, Channel.SMS, Channel.EMAIL)

# Sent inside the change's transaction with client, given (bool), channel ("" = all
# messages), source, ip and at (the time of the change).
consent_changed = Signal()


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


def _changed(*, client, given: bool, channel: str, source: str, ip: str | None, at) -> None:
    consent_changed.send(
        sender=Client,
        client=client,
        given=given,
        channel=channel,
        source=source,
        ip=ip,
        at=at,
    )


def consent_set(*, client, given: bool, source: str, ip: str | None = None):
    """Record a grant or withdrawal of consent to all messages (time, source, IP) and make
    it the client's current value. Campaigns send a client without consent nothing but the
    card inbox. Returns the client with `consent` updated."""
    now = timezone.now()
    with transaction.atomic():
        Client.objects.filter(pk=client.pk).update(consent=given, updated_at=now)
        _changed(client=client, given=given, channel="", source=source, ip=ip, at=now)
    client.consent = given
    return client


def consent_withdraw(*, client, channel: str, source: str, ip: str | None = None) -> bool:
    """Record that the client wants no more messages over `channel`; True if this call
    recorded it (False when it already was, and the history is left as it is). Messages
    still land in the card inbox."""
    now = timezone.now()
    try:
        with transaction.atomic():
            ChannelOptOut.objects.create(
                merchant_id=client.merchant_id,
                client=client,
                channel=channel,
                source=source[:40],
                created_at=now,
            )
            _changed(client=client, given=False, channel=channel, source=source, ip=ip, at=now)
    except IntegrityError:
        return False
    return True


def consent_restore(*, client, channel: str, source: str = "", ip: str | None = None) -> bool:
    """Undo an opt-out (the client subscribed again on the card or linked Telegram); True
    if one was removed (then the history records it)."""
    with transaction.atomic():
        deleted, _rows = ChannelOptOut.objects.filter(client=client, channel=channel).delete()
        if deleted:
            _changed(
                client=client,
                given=True,
                channel=channel,
                source=source or "subscribed again",
                ip=ip,
                at=timezone.now(),
            )
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
