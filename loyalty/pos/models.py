"""Records the POS integrations keep: every received notification (with its raw payload)
and refunds that arrived before their sale."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant

from ..sources import PurchaseSource


class PosEvent(models.Model):
    """One notification as received: who sent it, what we did with it, the raw body."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        DUPLICATE = "duplicate", _("Duplicate")
        IGNORED = "ignored", _("Ignored")
        PENDING = "pending", _("Kept pending")
        CONFLICT = "conflict", _("Conflict (same id, other content)")
        REJECTED = "rejected", _("Rejected (bad request)")
        UNAUTHORIZED = "unauthorized", _("Rejected (authentication)")
        FAILED = "failed", _("Failed")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="pos_events",
    )
    system = models.CharField(_("system"), max_length=10, choices=PurchaseSource)
    endpoint = models.CharField(_("endpoint"), max_length=200)
    external_id = models.CharField(_("external id"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status, db_index=True)
    message = models.TextField(_("message"), blank=True)
    payload = models.JSONField(_("raw payload"), null=True, blank=True)
    purchase = models.ForeignKey(
        "loyalty.Purchase",
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    refund = models.ForeignKey(
        "loyalty.Refund",
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    # Retries of events that failed because the POS's API was unreachable (Poster).
    attempts = models.PositiveSmallIntegerField(
        _("retries"), default=0, help_text=_("How many times processing was retried.")
    )
    retry_after = models.DateTimeField(
        _("next retry"),
        null=True,
        blank=True,
        help_text=_("When the next retry of a failed event is due."),
    )

    class Meta:
        app_label = "loyalty"
        ordering = ["-received_at", "-id"]
        verbose_name = _("POS event")
        verbose_name_plural = _("POS events")
        indexes = [models.Index(fields=["merchant", "system", "received_at"])]

    def __str__(self) -> str:
        return f"{self.system} {self.endpoint} {self.status}"


class PendingRefund(models.Model):
    """A refund whose sale we have not seen yet; applied when the sale arrives."""

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="pending_refunds",
    )
    base_external_id = models.CharField(_("sale external id"), max_length=120)
    external_id = models.CharField(_("refund external id"), max_length=120)
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Empty: the whole sale."),
    )
    promo_amount = models.DecimalField(
        _("of it promo items"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    lines = models.JSONField(
        _("returned lines"),
        default=list,
        blank=True,
        help_text=_("[external line id, quantity, amount] of each returned line."),
    )
    occurred_at = models.DateTimeField(_("time"))
    raw_payload = models.JSONField(_("raw payload"), null=True, blank=True)
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    refund = models.ForeignKey(
        "loyalty.Refund",
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        app_label = "loyalty"
        ordering = ["-created_at"]
        verbose_name = _("pending refund")
        verbose_name_plural = _("pending refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="uniq_pending_refund_external_id"
            ),
        ]
        indexes = [
            models.Index(
                fields=["merchant", "base_external_id"],
                name="pending_refund_open_idx",
                condition=Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.base_external_id} ← {self.external_id}"
