"""Outbox delivery: one backend per channel and the one-message delivery service.

The backends live in `loyalty.channels` (card inbox, web push, Telegram bot, SMS gateways)
and here (e-mail through Django's mail, console). Each takes credentials from the message's
merchant (`ChannelSettings`) and reaches its vendor through `loyalty.channels.http.TRANSPORT`.
A channel can be pointed at another class with the `LOYALTY_DELIVERY_BACKENDS` setting
({"telegram": "dotted.path.Backend"}).

A backend's `send(message)` returns on success (it may set `message.provider_message_id`) or
raises: `RecipientUnreachable` (the channel cannot reach this client — the message stays in
the card inbox only), `PermanentDeliveryError` (retrying cannot help: bad credentials, a
rejected number) or `DeliveryError` / any other exception (network, 5xx, rate limit: retried
with backoff, honouring the vendor's `retry_after`, until MAX_ATTEMPTS)."""

import logging
import sys
import threading
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..channels.consent import EXTERNAL_CHANNELS, footer, opted_out, unsubscribe_url
from ..models import Channel, OutboxMessage

logger = logging.getLogger("loyalty.outbox")

# After this many attempts a message stays failed until someone retries it in the admin.
MAX_ATTEMPTS = 5
# A failed message whose planned retry is this late lost its task: the sweep picks it up.
SWEEP_GRACE = timedelta(minutes=5)


class DeliveryError(Exception):
    """Sending failed; trying again later may succeed (after `retry_after` seconds if the
    vendor said so)."""

    def __init__(self, message: str = "", *, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Sending cannot succeed as the message stands (bad credentials, rejected recipient)."""


class RecipientUnreachable(PermanentDeliveryError):
    """The channel has no way to this client (no address, not linked, unsubscribed, bot
    blocked): not a failure — the message is in the card inbox."""


def retry_delay_seconds(*, attempts: int, retry_after: int | None = None) -> int:
    """Delay before the next attempt after `attempts` failed ones: 30 s, 1, 2, 4 min… capped
    at an hour, never sooner than the vendor's retry_after."""
    base = min(3600, 30 * 2 ** max(attempts - 1, 0))
    return max(base, int(retry_after or 0))


class DeliveryBackend:
    """Interface: `send(message)` returns on success and raises DeliveryError otherwise."""

    def send(self, message: OutboxMessage) -> None:
        raise NotImplementedError


class ConsoleBackend(DeliveryBackend):
    """Writes the message to standard output (development, demos, audits)."""

    _lock = threading.Lock()

    def __init__(self, stream=None):
        self.stream = stream

    def send(self, message: OutboxMessage) -> None:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(
                f"[{message.channel}] to {message.recipient or '—'}: {message.subject}\n"
                f"{message.body}\n"
            )
            stream.flush()


class EmailBackend(DeliveryBackend):
    """Django's mail (EMAIL_BACKEND / SMTP settings), with an unsubscribe link in the text
    and the List-Unsubscribe headers (RFC 2369, one-click RFC 8058) mail clients show."""

    def send(self, message: OutboxMessage) -> None:
        if not message.recipient:
            raise RecipientUnreachable(_("The client has no e-mail address."))
        headers = {}
        if message.client_id and message.kind == OutboxMessage.Kind.CAMPAIGN:
            url = unsubscribe_url(client_id=message.client_id, channel=Channel.EMAIL)
            headers = {
                "List-Unsubscribe": f"<{url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        body = message.body
        if message.kind == OutboxMessage.Kind.CAMPAIGN:
            body += footer(client_id=message.client_id, channel=Channel.EMAIL)
        try:
            EmailMessage(
                message.subject,
                body,
                settings.DEFAULT_FROM_EMAIL,
                [message.recipient],
                headers=headers,
            ).send(fail_silently=False)
        except (OSError, ValueError) as exc:  # smtplib errors derive from OSError
            raise DeliveryError(str(exc)) from exc


DEFAULT_BACKENDS = {
    Channel.INBOX: "loyalty.channels.inbox.InboxBackend",
    Channel.WEB_PUSH: "loyalty.channels.webpush.WebPushBackend",
    Channel.TELEGRAM: "loyalty.channels.telegram.TelegramBackend",
    Channel.SMS: "loyalty.channels.sms.SmsBackend",
    Channel.EMAIL: "loyalty.campaigns.delivery.EmailBackend",
    Channel.CONSOLE: "loyalty.campaigns.delivery.ConsoleBackend",
}


def backend_for(channel: str) -> DeliveryBackend:
    """The configured backend instance for a channel."""
    paths = {**DEFAULT_BACKENDS, **getattr(settings, "LOYALTY_DELIVERY_BACKENDS", {})}
    path = paths.get(channel)
    if path is None:
        raise PermanentDeliveryError(_("No delivery backend for channel “%s”.") % channel)
    return import_string(path)()


def outbox_deliver(*, message_id: int) -> str:
    """Send one pending or failed message through its channel's backend and record the
    attempt. Returns the message's status ("sent", "failed", "inbox_only") or "skipped" when
    it is gone, already sent or being sent by another worker. Raises DeliveryError (with the
    vendor's retry_after) after recording a failure that may succeed on retry; the message
    then keeps when that retry is due."""
    retry_error = None
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        )
        if message is None or message.status in (
            OutboxMessage.Status.SENT,
            OutboxMessage.Status.INBOX_ONLY,
        ):
            return "skipped"
        message.attempts += 1
        message.next_attempt_at = None
        try:
            if (
                message.client_id
                and message.kind == OutboxMessage.Kind.CAMPAIGN
                and message.channel in EXTERNAL_CHANNELS
                and opted_out(client_id=message.client_id, channel=message.channel)
            ):
                raise RecipientUnreachable(_("The client has unsubscribed from this channel."))
            backend_for(message.channel).send(message)
        except RecipientUnreachable as exc:
            message.status = OutboxMessage.Status.INBOX_ONLY
            message.last_error = str(exc)
        except PermanentDeliveryError as exc:
            message.status = OutboxMessage.Status.FAILED
            message.last_error = str(exc)
        except Exception as exc:  # any backend failure is recorded, then retried
            message.status = OutboxMessage.Status.FAILED
            message.last_error = (
                str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            )
            retry_error = exc
            if message.attempts < MAX_ATTEMPTS:
                delay = retry_delay_seconds(
                    attempts=message.attempts, retry_after=getattr(exc, "retry_after", None)
                )
                message.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        else:
            message.status = OutboxMessage.Status.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
        message.last_error = message.last_error[:2000]
        message.save(
            update_fields=[
                "status",
                "attempts",
                "last_error",
                "sent_at",
                "next_attempt_at",
                "provider_message_id",
            ]
        )
    if retry_error is not None and message.attempts < MAX_ATTEMPTS:
        raise DeliveryError(
            message.last_error, retry_after=getattr(retry_error, "retry_after", None)
        ) from retry_error
    return message.status


def outbox_retry(*, message_ids) -> list[int]:
    """Put failed messages back in the queue; returns the ids to deliver again."""
    ids = list(
        OutboxMessage.objects.filter(
            pk__in=list(message_ids), status=OutboxMessage.Status.FAILED
        ).values_list("pk", flat=True)
    )
    OutboxMessage.objects.filter(pk__in=ids).update(
        status=OutboxMessage.Status.PENDING, last_error="", next_attempt_at=None
    )
    return ids


def outbox_pending_ids(*, merchant_id: int | None = None, limit: int = 10000) -> list[int]:
    """Oldest pending messages first (optionally for one merchant), plus failed ones whose
    planned retry is overdue (its task was lost, or there is no broker to schedule it)."""
    overdue = timezone.now() - SWEEP_GRACE
    qs = OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.PENDING)
        | Q(
            status=OutboxMessage.Status.FAILED,
            next_attempt_at__lte=overdue,
            attempts__lt=MAX_ATTEMPTS,
        )
    )
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    return list(qs.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])
