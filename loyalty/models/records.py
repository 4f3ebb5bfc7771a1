"""The engine's records: purchases and their lines, refunds, and the points ledger."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboarding.models import Branch, Merchant, StaffMember

from ..sources import PurchaseSource
from .campaigns import Campaign, Certificate
from .choices import MONEY, POINTS, LedgerKind, PaymentType
from .program import Tier


class Purchase(models.Model):
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="purchases"
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchases",
    )
    cashier = models.ForeignKey(
        StaffMember,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchases",
        verbose_name=_("served by"),
    )
    external_id = models.CharField(
        _("external id"),
        max_length=120,
        null=True,
        blank=True,
        help_text=_("Idempotency key: the POS document id or the cashier page's request id."),
    )
    content_key = models.CharField(
        _("content fingerprint"),
        max_length=64,
        blank=True,
        help_text=_("A repeat of the external id must carry the same content (client, lines)."),
    )
    source = models.CharField(_("source"), max_length=12, choices=PurchaseSource)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    amount = models.DecimalField(_("check amount"), **MONEY)
    excluded_amount = models.DecimalField(_("promo/discounted items"), default=0, **MONEY)
    points_redeemed = models.DecimalField(_("paid with points"), default=0, **POINTS)
    certificate_redeemed = models.DecimalField(_("paid with certificate"), default=0, **POINTS)
    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("certificate used"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchases",
    )
    review_reason = models.CharField(
        _("for review"),
        max_length=300,
        blank=True,
        help_text=_(
            "Why the till's payment in points broke the program's rules (it is booked as the "
            "till took it)."
        ),
    )
    paid_money = models.DecimalField(_("paid in money"), **MONEY)
    payment_type = models.CharField(
        _("payment type"), max_length=12, choices=PaymentType, default=PaymentType.CARD
    )
    by_phone = models.BooleanField(
        _("identified by phone number"),
        default=False,
        help_text=_("The client was found by phone number instead of a card/app."),
    )
    points_accrued = models.DecimalField(_("points accrued"), default=0, **POINTS)
    tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("tier at purchase"),
    )
    refunded_amount = models.DecimalField(_("refunded"), default=0, **MONEY)
    raw_payload = models.JSONField(_("raw payload"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                name="uniq_purchase_external_id",
                condition=Q(external_id__isnull=False),
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("amount")),
                name="purchase_refund_le_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "occurred_at"]),
            models.Index(fields=["client", "occurred_at"]),
            models.Index(fields=["merchant", "branch", "occurred_at"]),
            models.Index(fields=["merchant", "cashier", "occurred_at"]),
            models.Index(
                fields=["merchant", "occurred_at"],
                name="purchase_for_review_idx",
                condition=~Q(review_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount}"


class PurchaseLine(models.Model):
    """One item of a check, with what it earned and what paid for it (set at the sale), so a
    refund of the item reverses exactly that."""

    purchase = models.ForeignKey(
        Purchase, verbose_name=_("purchase"), on_delete=models.CASCADE, related_name="lines"
    )
    position = models.PositiveSmallIntegerField(_("line"))
    external_id = models.CharField(_("external line id"), max_length=120, blank=True)
    name = models.CharField(_("item"), max_length=200, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3, default=1)
    amount = models.DecimalField(_("amount after discounts"), **MONEY)
    promo = models.BooleanField(_("promo/discounted"), default=False)
    points_paid = models.DecimalField(_("paid with points"), default=0, **POINTS)
    certificate_paid = models.DecimalField(_("paid with certificate"), default=0, **POINTS)
    cashback = models.DecimalField(_("cashback"), default=0, **POINTS)
    referral_base = models.DecimalField(_("referral base"), default=0, **MONEY)
    refunded_quantity = models.DecimalField(
        _("refunded quantity"), max_digits=14, decimal_places=3, default=0
    )
    refunded_amount = models.DecimalField(_("refunded"), default=0, **MONEY)

    class Meta:
        ordering = ["purchase", "position"]
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")
        constraints = [
            models.UniqueConstraint(fields=["purchase", "position"], name="uniq_purchase_line"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_line_amount_nonneg"),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("amount")),
                name="purchase_line_refund_le_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.external_id or self.position}: {self.amount}"


class Refund(models.Model):
    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="refunds"
    )
    purchase = models.ForeignKey(
        Purchase, verbose_name=_("purchase"), on_delete=models.PROTECT, related_name="refunds"
    )
    external_id = models.CharField(_("external id"), max_length=120, null=True, blank=True)
    amount = models.DecimalField(_("refunded amount"), **MONEY)
    promo_amount = models.DecimalField(_("of it promo items"), default=0, **MONEY)
    lines = models.JSONField(
        _("returned lines"),
        default=list,
        blank=True,
        help_text=_("[line position, amount] of each returned line."),
    )
    occurred_at = models.DateTimeField(_("time"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    raw_payload = models.JSONField(_("raw payload"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                name="uniq_refund_external_id",
                condition=Q(external_id__isnull=False),
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} ({self.purchase_id})"


class LedgerEntry(models.Model):
    """An append-only point movement. A client's balance is the sum of its entries."""

    # Every look-up of the ledger leads with the merchant or the client (the composite indexes
    # below), so neither key has an index of its own; the optional keys are indexed only where
    # set. An append-only table this hot pays for each index on every entry.
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="ledger",
        db_index=False,
        # The client's merchant, copied: checked through the client's key, not at each commit.
        db_constraint=False,
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="ledger",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=20, choices=LedgerKind)
    points = models.DecimalField(_("points"), **POINTS)
    uncovered = models.DecimalField(
        _("not covered by the balance"),
        default=0,
        help_text=_(
            "The part of a debit the balance could not cover (a refund of points already "
            "spent, a till payment beyond the balance): booked as a discrepancy, never dropped."
        ),
        **POINTS,
    )
    purchase = models.ForeignKey(
        Purchase,
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
    )
    refund = models.ForeignKey(
        Refund,
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        db_index=False,
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
        db_index=False,
    )
    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
        db_index=False,
    )
    referral_level = models.PositiveSmallIntegerField(_("referral level"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("burns at"),
        null=True,
        blank=True,
        help_text=_("For short-lived gifts: the unspent part burns at this time."),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("points ledger")
        constraints = [
            # An imported opening balance is credited once per client, whatever re-imports do.
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(kind="opening_balance"),
                name="uniq_opening_balance_per_client",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "created_at"]),
            models.Index(fields=["merchant", "kind", "created_at"]),
            *(
                models.Index(
                    fields=[key], condition=Q(**{f"{key}__isnull": False}), name=f"ledger_{key}"
                )
                for key in ("purchase", "refund", "campaign", "certificate", "created_by")
            ),
            # Short-lived gifts by the time they burn: the daily burn is a range look-up.
            models.Index(
                fields=["merchant", "expires_at"],
                condition=Q(kind="campaign", expires_at__isnull=False, points__gt=0),
                name="ledger_gift_burn_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points}"
