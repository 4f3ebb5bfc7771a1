"""Outbox delivery: pluggable backends per channel and the one-message delivery service.

Console and e-mail (Django mail) are real. App push, Telegram and SMS sit behind the same
interface with no provider connected: their messages fail with a clear reason (visible and
retryable in admin) until a channel is pointed at a real class with the
`LOYALTY_DELIVERY_BACKENDS` setting ({"telegram": "dotted.path.Backend"})."""

import logging
import sys
import threading

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..models import Channel, OutboxMessage

logger = logging.getLogger("loyalty.outbox")

# After this many attempts a message stays failed until someone retries it in the admin.
MAX_ATTEMPTS = 5


class DeliveryError(Exception):
    """Sending failed; trying again later may succeed."""


class PermanentDeliveryError(DeliveryError):
    """Sending cannot succeed as the message stands (no address, rejected recipient)."""


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
    """Django's mail (EMAIL_BACKEND / SMTP settings)."""

    def send(self, message: OutboxMessage) -> None:
        if not message.recipient:
            raise PermanentDeliveryError(_("The client has no e-mail address."))
        try:
            send_mail(
                message.subject,
                message.body,
                settings.DEFAULT_FROM_EMAIL,
                [message.recipient],
                fail_silently=False,
            )
        except (OSError, ValueError) as exc:  # smtplib errors derive from OSError
            raise DeliveryError(str(exc)) from exc


class ProviderStubBackend(DeliveryBackend):
    """A channel whose provider is not connected: nothing is sent, so the message fails
    with that reason instead of pretending to be delivered."""

    channel = ""

    def send(self, message: OutboxMessage) -> None:
        if not message.recipient:
            raise PermanentDeliveryError(_("The client has no phone number."))
        raise PermanentDeliveryError(
            _(
                "No provider is connected for the “%(channel)s” channel: set "
                "LOYALTY_DELIVERY_BACKENDS and retry."
            )
            % {"channel": self.channel}
        )


class AppPushBackend(ProviderStubBackend):
    channel = Channel.APP_PUSH


class TelegramBackend(ProviderStubBackend):
    channel = Channel.TELEGRAM


class SmsBackend(ProviderStubBackend):
    channel = Channel.SMS


DEFAULT_BACKENDS = {
    Channel.CONSOLE: "loyalty.campaigns.delivery.ConsoleBackend",
    Channel.EMAIL: "loyalty.campaigns.delivery.EmailBackend",
    Channel.APP_PUSH: "loyalty.campaigns.delivery.AppPushBackend",
    Channel.TELEGRAM: "loyalty.campaigns.delivery.TelegramBackend",
    Channel.SMS: "loyalty.campaigns.delivery.SmsBackend",
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
    attempt. Returns the message's status ("sent", "failed") or "skipped" when it is gone,
    already sent or being sent by another worker. Raises DeliveryError after recording a
    failure that may succeed on retry."""
    retry_error = None
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        )
        if message is None or message.status == OutboxMessage.Status.SENT:
            return "skipped"
        message.attempts += 1
        try:
            backend_for(message.channel).send(message)
        except PermanentDeliveryError as exc:
            message.status = OutboxMessage.Status.FAILED
            message.last_error = str(exc)
        except Exception as exc:  # any backend failure is recorded, then retried
            message.status = OutboxMessage.Status.FAILED
            message.last_error = f"{type(exc).__name__}: {exc}"
            retry_error = exc
        else:
            message.status = OutboxMessage.Status.SENT
            message.sent_at = timezone.now()
            message.last_error = ""
        message.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    if retry_error is not None and message.attempts < MAX_ATTEMPTS:
        raise DeliveryError(message.last_error) from retry_error
    return message.status


def outbox_retry(*, message_ids) -> list[int]:
    """Put failed messages back in the queue; returns the ids to deliver again."""
    ids = list(
        OutboxMessage.objects.filter(
            pk__in=list(message_ids), status=OutboxMessage.Status.FAILED
        ).values_list("pk", flat=True)
    )
    OutboxMessage.objects.filter(pk__in=ids).update(
        status=OutboxMessage.Status.PENDING, last_error=""
    )
    return ids


def outbox_pending_ids(*, merchant_id: int | None = None, limit: int = 10000) -> list[int]:
    """Oldest pending messages first (optionally for one merchant)."""
    qs = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING)
    if merchant_id is not None:
        qs = qs.filter(merchant_id=merchant_id)
    return list(qs.order_by("created_at", "pk").values_list("pk", flat=True)[:limit])
