"""Messages to clients, queued by campaigns and delivered by the channels."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant

from .campaigns import CampaignIssuance
from .choices import Channel


class OutboxMessage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # The channel cannot reach this client (no address, not linked, unsubscribed): the
        # message is on the card's inbox only. Not a failure; nothing to retry.
        INBOX_ONLY = "inbox_only", _("In the card inbox only")

    class Kind(models.TextChoices):
        CAMPAIGN = "campaign", _("Campaign")
        CODE = "code", _("One-time code")

    # One message per campaign reward (thousands a daily run): the merchant and the client
    # are looked up through the composite indexes below; the merchant is a copy (no index,
    # no check at commit) and the issuance is written by the same chunk just before its
    # message (no check at commit).
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="outbox",
        db_index=False,
        db_constraint=False,
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    issuance = models.ForeignKey(
        CampaignIssuance,
        verbose_name=_("issuance"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_constraint=False,
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel)
    recipient = models.CharField(_("recipient"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.CAMPAIGN)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(
        _("next attempt"),
        null=True,
        blank=True,
        help_text=_("When a temporary failure is retried (network, 5xx, rate limit)."),
    )
    provider_message_id = models.CharField(_("provider's message id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    read_at = models.DateTimeField(_("read on the card"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        indexes = [
            # The delivery sweep's look-up of pending and overdue messages of every merchant.
            models.Index(fields=["status"], name="outbox_status"),
            models.Index(fields=["merchant", "status", "created_at"]),
            models.Index(fields=["client", "kind", "created_at"]),
            models.Index(fields=["merchant", "channel", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}"
