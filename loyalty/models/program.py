"""The program and its tier ladder: what a merchant configures."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboarding.models import PERCENT_VALIDATORS, Merchant

from .choices import MONEY, PERCENT, POINTS, CampaignKind, ReferralTrigger, RewardForm


class Program(models.Model):
    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="program", verbose_name=_("merchant")
    )
    welcome_points = models.DecimalField(
        _("welcome points"), default=0, validators=[MinValueValidator(0)], **POINTS
    )
    points_expiry_months = models.PositiveSmallIntegerField(
        _("points expire after, months"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=_(
            "The whole balance expires this many months after the last purchase. Empty: never."
        ),
    )
    promo_earns_points = models.BooleanField(
        _("promo/discounted items earn points"),
        default=True,
    )
    promo_redeemable = models.BooleanField(
        _("promo/discounted items can be paid with points"),
        default=False,
    )
    installment_accrual_only = models.BooleanField(
        _("installment payments: accrual only"),
        default=True,
        help_text=_("Purchases paid in installments earn points but cannot be paid with points."),
    )
    tiers_can_fall = models.BooleanField(
        _("tiers can fall"),
        default=False,
        help_text=_("If off, a client's tier never goes down once reached."),
    )
    referral_bonus_points = models.DecimalField(
        _("referral one-time bonus, points"), default=0, validators=[MinValueValidator(0)], **POINTS
    )
    referral_bonus_trigger = models.CharField(
        _("one-time bonus is paid on"),
        max_length=20,
        choices=ReferralTrigger,
        default=ReferralTrigger.FIRST_PURCHASE,
    )
    referral_base = models.CharField(
        _("referral percentage is taken of"),
        max_length=8,
        choices=[
            ("check", _("the check amount")),
            ("paid", _("the money paid")),
        ],
        default="check",
        help_text=_("The check amount (as the reference programs say) or the money paid."),
    )
    pos_enrols_buyers = models.BooleanField(
        _("a phone at the till enrols the buyer"),
        default=True,
        help_text=_(
            "A POS sale with a phone the merchant has not seen creates the client (source: "
            "POS), credits the welcome points and accrues on the sale."
        ),
    )
    referral_level1_percent = models.DecimalField(
        # xgettext:no-python-format
        _("referral level 1, % of the friend's check"),
        default=0,
        **PERCENT,
    )
    referral_level2_percent = models.DecimalField(_("referral level 2, %"), default=0, **PERCENT)
    referral_level3_percent = models.DecimalField(_("referral level 3, %"), default=0, **PERCENT)
    staff_bonus_percent = models.DecimalField(
        # xgettext:no-python-format
        _("staff bonus, % of card sales"),
        default=0,
        max_digits=6,
        decimal_places=3,
        validators=PERCENT_VALIDATORS,
    )
    staff_bonus_note = models.CharField(
        _("staff bonus: other scheme"),
        max_length=300,
        blank=True,
        help_text=_("e.g. the merchant's internal motivation system"),
    )
    feedback_every_purchases = models.PositiveSmallIntegerField(
        _("ask for feedback every N purchases"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_(
            "The client card asks for a 1–5 rating and a comment after every N-th purchase. "
            "Empty: never."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("loyalty program")
        verbose_name_plural = _("loyalty programs")

    def __str__(self) -> str:
        return str(self.merchant)

    @property
    def referral_percents(self) -> list:
        """Recurring referral % by level (1..3), trailing zero levels dropped."""
        levels = [
            self.referral_level1_percent,
            self.referral_level2_percent,
            self.referral_level3_percent,
        ]
        while levels and not levels[-1]:
            levels.pop()
        return levels

    def clean(self):
        errors = {}
        if not self.referral_level1_percent and (
            self.referral_level2_percent or self.referral_level3_percent
        ):
            errors["referral_level2_percent"] = _(
                "Set level 1 before levels 2 and 3: a deeper level cannot earn without the first."
            )
        elif not self.referral_level2_percent and self.referral_level3_percent:
            errors["referral_level3_percent"] = _("Set level 2 before level 3.")
        if self.welcome_points and self.merchant_id:
            # By name: campaigns.py imports this module (a campaign checks the welcome points).
            campaigns = self._meta.apps.get_model("loyalty", "Campaign")
            campaign = (
                campaigns.objects.filter(
                    merchant_id=self.merchant_id,
                    kind=CampaignKind.WELCOME,
                    reward_form=RewardForm.POINTS,
                    is_active=True,
                )
                .order_by("pk")
                .first()
            )
            if campaign is not None:
                errors["welcome_points"] = _(
                    "The active welcome campaign “%(campaign)s” already gives points on joining. "
                    "Set the welcome points to 0 or give that campaign as a certificate."
                ) % {"campaign": campaign.name}
        if errors:
            raise ValidationError(errors)


class Tier(models.Model):
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("program")
    )
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("order"), help_text=_("1 is the entry tier."))
    cashback_percent = models.DecimalField(_("cashback, %"), **PERCENT)
    # xgettext:no-python-format
    max_redemption_percent = models.DecimalField(_("max redemption, % of the check"), **PERCENT)
    spend_threshold = models.DecimalField(
        _("spend threshold"),
        default=0,
        validators=[MinValueValidator(0)],
        help_text=_("Cumulative spend that reaches this tier."),
        **MONEY,
    )

    class Meta:
        ordering = ["program", "position"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.UniqueConstraint(fields=["program", "position"], name="uniq_tier_position"),
            models.CheckConstraint(
                condition=Q(cashback_percent__gte=0, cashback_percent__lte=100),
                name="tier_cashback_0_100",
            ),
            models.CheckConstraint(
                condition=Q(max_redemption_percent__gte=0, max_redemption_percent__lte=100),
                name="tier_redemption_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.cashback_percent}%)"
