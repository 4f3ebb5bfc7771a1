"""The client's consent history, kept from the one signal every consent change sends.

A module of its own, with only the models: `CardsConfig.ready` connects the receiver in every
process, and `cards.services` would bring the delivery channels (web push, `cryptography`) into
processes that never send a message, such as the client import's command."""

from .models import ConsentRecord


def consent_history_record(*, client, given: bool, channel: str, source: str, ip, at, **_kw):
    """Keep one entry of the client's consent history. Connected to
    `loyalty.channels.consent.consent_changed`, the one path every consent change takes
    (card page, joining, unsubscribe link, Telegram /stop, SMS STOP, re-subscribing)."""
    ConsentRecord.objects.create(
        client=client, given=given, channel=channel or "", source=source[:120], ip=ip, created_at=at
    )
