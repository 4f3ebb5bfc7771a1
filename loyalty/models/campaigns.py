"""Campaigns, the certificates they give and the issuances that record who got what."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant

from .choices import (
    MONEY,
    PERCENT,
    POINTS,
    BudgetUnit,
    CampaignAudience,
    CampaignKind,
    Channel,
    ReviewPlatform,
    RewardForm,
)
from .program import Program

# Which parameters each kind needs; the admin form shows only these (plus the common ones).
CAMPAIGN_KIND_FIELDS = {
    CampaignKind.BIRTHDAY: ["days_before"],
    CampaignKind.WINBACK: ["days_after_last_purchase"],
    CampaignKind.CHECK_GROWTH: ["min_check_amount"],
    CampaignKind.REVIEW_REWARD: ["review_platform"],
    CampaignKind.WELCOME: [],
    CampaignKind.SEGMENT_GIFT: ["burn_after_days"],
    CampaignKind.PARTNER_CERTIFICATE: ["partner_name", "certificates_count"],
}


CAMPAIGN_PARAM_FIELDS = sorted({f for fields in CAMPAIGN_KIND_FIELDS.values() for f in fields})


class Campaign(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="campaigns", verbose_name=_("merchant")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=CampaignKind)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    audience = models.CharField(
        _("audience"),
        max_length=12,
        choices=CampaignAudience,
        default=CampaignAudience.MEMBERS,
        help_text=_(
            "Members: clients who joined the program. Contacts with consent: also imported "
            "contacts who never joined but agreed to receive messages."
        ),
    )
    reward_form = models.CharField(
        _("reward form"), max_length=12, choices=RewardForm, default=RewardForm.CERTIFICATE
    )
    reward_points = models.DecimalField(
        _("reward, points"), validators=[MinValueValidator(0)], **POINTS
    )
    certificate_valid_days = models.PositiveIntegerField(
        _("certificate valid, days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    redemption_cap_percent = models.DecimalField(
        # xgettext:no-python-format
        _("certificate redemption cap, % of the check"),
        null=True,
        blank=True,
        **PERCENT,
    )
    certificate_remainder_burns = models.BooleanField(
        _("what a certificate does not pay burns"),
        default=False,
        help_text=_(
            "Off: the unpaid remainder stays on the certificate until its end date. "
            "On: the certificate is used up by its first purchase."
        ),
    )
    # Kind-specific parameters (see CAMPAIGN_KIND_FIELDS).
    days_before = models.PositiveSmallIntegerField(
        _("issue N days before the birthday"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(365)],
    )
    days_after_last_purchase = models.PositiveIntegerField(
        _("days after the last purchase"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    min_check_amount = models.DecimalField(
        _("purchase of at least"), null=True, blank=True, validators=[MinValueValidator(0)], **MONEY
    )
    review_platform = models.CharField(
        _("review platform"), max_length=8, choices=ReviewPlatform, blank=True
    )
    burn_after_days = models.PositiveSmallIntegerField(
        _("gifted points burn after, days"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
    )
    partner_name = models.CharField(_("partner company"), max_length=200, blank=True)
    certificates_count = models.PositiveIntegerField(
        _("certificates to issue"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    channel = models.CharField(
        _("channel"),
        max_length=12,
        choices=Channel,
        default=Channel.INBOX,
        help_text=_("Every message also lands in the card's inbox, whatever the channel."),
    )
    message_template = models.TextField(
        _("message template"),
        blank=True,
        help_text=_("Placeholders: {name}, {points}, {valid_until}, {merchant}."),
    )
    budget_unit = models.CharField(
        _("monthly budget in"),
        max_length=8,
        choices=BudgetUnit,
        blank=True,
        help_text=_("Empty: no budget. A point pays one unit of the merchant's currency."),
    )
    monthly_budget = models.DecimalField(
        _("monthly budget"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_(
            "Rewards stop for the rest of the merchant's calendar month once issued points "
            "(certificates at face value) would pass it; the run lists who was left out."
        ),
        **MONEY,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["merchant", "kind", "name"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        indexes = [models.Index(fields=["merchant", "kind", "is_active"])]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        if self.reward_points is not None and self.reward_points <= 0:
            errors["reward_points"] = _("The reward must be more than zero points.")
        required = CAMPAIGN_KIND_FIELDS.get(self.kind, [])
        for field in required:
            if field == "certificates_count":
                continue
            if getattr(self, field) in (None, ""):
                errors[field] = _("Required for a “%(kind)s” campaign.") % {
                    "kind": CampaignKind(self.kind).label
                }
        if (
            self.kind == CampaignKind.BIRTHDAY
            and self.days_before is not None
            and self.days_before > 365
        ):
            errors["days_before"] = _("A birthday gift cannot be issued more than a year ahead.")
        if self.reward_form == RewardForm.CERTIFICATE:
            if not self.certificate_valid_days:
                errors["certificate_valid_days"] = _(
                    "A certificate must be valid for at least 1 day."
                )
            if self.redemption_cap_percent is None:
                errors["redemption_cap_percent"] = _(
                    "Set how much of a check the certificate may pay (0–100%)."
                )
        if self.kind == CampaignKind.SEGMENT_GIFT and self.reward_form != RewardForm.POINTS:
            errors["reward_form"] = _("A segment gift is given as points that burn.")
        if (
            self.kind == CampaignKind.WELCOME
            and self.reward_form == RewardForm.POINTS
            and self.is_active
            and self.merchant_id
        ):
            welcome = (
                Program.objects.filter(merchant_id=self.merchant_id)
                .values_list("welcome_points", flat=True)
                .first()
            )
            if welcome:
                errors["reward_form"] = _(
                    "The program already credits %(points)s welcome points to every new member. "
                    "Give the welcome campaign as a certificate, or set the program's welcome "
                    "points to 0."
                ) % {"points": f"{welcome.normalize():f}"}
        if self.budget_unit and self.monthly_budget is None:
            errors["monthly_budget"] = _("Set the monthly budget, or leave “in” empty.")
        if self.monthly_budget is not None and not self.budget_unit:
            errors["budget_unit"] = _("Choose points or money for the monthly budget.")
        if errors:
            raise ValidationError(errors)


class Certificate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    # Thousands are written by one daily run (birthdays), so each index and each foreign key
    # checked at commit counts: the merchant and the client are looked up through the
    # composite indexes below, and the merchant is a copy of the client's, so it has no index
    # and no check of its own. Certificates are written only by the campaign issuance
    # (campaigns/issuance.py), which holds the client's row lock and the campaign's key lock
    # while it writes them: the client and the campaign are not checked again per row at
    # commit either (no constraint; Django still cascades a client's deletion and clears a
    # deleted campaign — tests/loyalty/test_campaign_row_keys.py).
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="certificates",
        db_index=False,
        db_constraint=False,
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="certificates",
        db_index=False,
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
        db_constraint=False,
    )
    points = models.DecimalField(_("face value, points"), **POINTS)
    used_points = models.DecimalField(
        _("used, points"),
        default=0,
        help_text=_("Paid from this certificate so far, net of refunds."),
        **POINTS,
    )
    remainder_burns = models.BooleanField(_("remainder burns"), default=False)
    redemption_cap_percent = models.DecimalField(_("redemption cap, %"), **PERCENT)
    issued_at = models.DateTimeField(_("issued"))
    valid_until = models.DateTimeField(_("valid until"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.ACTIVE)
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_purchase = models.ForeignKey(
        "Purchase",
        verbose_name=_("redeemed purchase"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates_redeemed",
        db_index=False,
    )

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        indexes = [
            models.Index(fields=["merchant", "status", "valid_until"]),
            models.Index(fields=["client", "status"]),
            models.Index(
                fields=["redeemed_purchase"],
                condition=Q(redeemed_purchase__isnull=False),
                name="certificate_redeemed_purchase",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="certificate_points_positive"),
            models.CheckConstraint(
                condition=Q(used_points__gte=0, used_points__lte=models.F("points")),
                name="certificate_used_within_face",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points} ({self.get_status_display()})"

    @property
    def remaining(self):
        return self.points - self.used_points


class CampaignIssuance(models.Model):
    """One reward of a campaign to a client for a period; the unique key makes re-runs safe."""

    # As on certificates: the merchant is the client's (no index, no check of its own), the
    # campaign is looked up through the unique key that leads with it, and the certificate
    # is written by the same chunk right after its id is drawn (no check at commit). The
    # client and the campaign are not checked at commit: issuances are written only by
    # campaigns/issuance.py under the client's row lock, by a statement that takes the
    # campaign's key lock itself (Django still cascades either's deletion).
    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="issuances",
        db_index=False,
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="issuances",
        db_index=False,
        db_constraint=False,
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="issuances",
        db_constraint=False,
    )
    period_key = models.CharField(
        _("period"),
        max_length=40,
        help_text=_("e.g. the birthday year, the lapse's last-purchase date, the purchase id."),
    )
    points = models.DecimalField(_("points"), **POINTS)
    certificate = models.OneToOneField(
        Certificate,
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="issuance",
        db_constraint=False,
    )
    issued_at = models.DateTimeField(_("issued"))

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("campaign issuance")
        verbose_name_plural = _("campaign issuances")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "client", "period_key"], name="uniq_issuance_period"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "issued_at"])]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.client_id}:{self.period_key}"


class CampaignDayMark(models.Model):
    """A merchant's local day the daily run completed, with the settings it ran under.

    `stamps` holds one fingerprint per part of the run (each campaign's settings, the expiry
    rules); a re-run of the day skips every part whose fingerprint is unchanged, so it is
    decided by this row's look-up instead of the selections. Written only after the whole
    run committed: a run killed half-way leaves no mark and the next run redoes the day."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    stamps = models.JSONField(_("settings fingerprints"), default=dict)
    ran_at = models.DateTimeField(_("ran at"))

    class Meta:
        verbose_name = _("campaign day done")
        verbose_name_plural = _("campaign days done")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "day"], name="uniq_campaign_day_mark"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.day}"
