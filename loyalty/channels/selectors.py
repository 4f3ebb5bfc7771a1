"""Figures for the owner dashboard and the admin: linked Telegram clients, web push
subscribers and delivery rate per channel."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from ..models import OutboxMessage
from .models import TelegramLink, WebPushSubscription


@dataclass(frozen=True)
class ChannelFigures:
    channel: str
    sent: int
    failed: int
    inbox_only: int
    pending: int

    @property
    def attempted(self) -> int:
        """Messages whose delivery over the channel is settled (pending ones are not)."""
        return self.sent + self.failed + self.inbox_only

    @property
    def delivery_rate(self) -> float | None:
        """Share of settled messages the channel itself delivered (0–1); None if none."""
        return self.sent / self.attempted if self.attempted else None


def channel_figures(
    *, merchant, since: datetime | None = None, until: datetime | None = None
) -> dict:
    """{"telegram_linked": n, "webpush_clients": n, "channels": [ChannelFigures…]} for
    campaign messages created in [since, until) — one grouped query for the rates."""
    messages = OutboxMessage.objects.filter(merchant=merchant, kind=OutboxMessage.Kind.CAMPAIGN)
    if since is not None:
        messages = messages.filter(created_at__gte=since)
    if until is not None:
        messages = messages.filter(created_at__lt=until)
    rows = (
        messages.values("channel")
        .annotate(
            sent=Count("pk", filter=Q(status=OutboxMessage.Status.SENT)),
            failed=Count("pk", filter=Q(status=OutboxMessage.Status.FAILED)),
            inbox_only=Count("pk", filter=Q(status=OutboxMessage.Status.INBOX_ONLY)),
            pending=Count("pk", filter=Q(status=OutboxMessage.Status.PENDING)),
        )
        .order_by("channel")
    )
    return {
        "telegram_linked": TelegramLink.objects.filter(merchant=merchant, is_active=True).count(),
        "webpush_clients": WebPushSubscription.objects.filter(merchant=merchant)
        .values("client_id")
        .distinct()
        .count(),
        "channels": [ChannelFigures(**row) for row in rows],
    }
