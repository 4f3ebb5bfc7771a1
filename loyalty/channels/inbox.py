"""The card inbox: every campaign message is visible on the client's card whatever its
channel, so the inbox channel always delivers and a campaign never depends on a provider."""

from django.db.models import QuerySet
from django.utils import timezone

from ..campaigns.delivery import DeliveryBackend
from ..models import OutboxMessage


class InboxBackend(DeliveryBackend):
    """Nothing to send: the message is already on the card once it exists."""

    def send(self, message: OutboxMessage) -> None:
        return None


def inbox_messages(*, client, limit: int | None = 50) -> QuerySet:
    """The client's card inbox, newest first: campaign messages on any channel (one-time
    codes never appear). `read_at` is None for unread ones. `limit=None` gives the whole
    inbox for a paginator."""
    messages = (
        OutboxMessage.objects.filter(
            merchant_id=client.merchant_id, client=client, kind=OutboxMessage.Kind.CAMPAIGN
        )
        .only("id", "subject", "body", "channel", "created_at", "read_at")
        .order_by("-created_at", "-pk")
    )
    return messages if limit is None else messages[:limit]


def inbox_unread_count(*, client) -> int:
    return OutboxMessage.objects.filter(
        merchant_id=client.merchant_id,
        client=client,
        kind=OutboxMessage.Kind.CAMPAIGN,
        read_at__isnull=True,
    ).count()


def inbox_mark_read(*, client) -> int:
    """Mark every unread message of the client's inbox read; returns how many."""
    return OutboxMessage.objects.filter(
        merchant_id=client.merchant_id,
        client=client,
        kind=OutboxMessage.Kind.CAMPAIGN,
        read_at__isnull=True,
    ).update(read_at=timezone.now())
