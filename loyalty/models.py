"""Program configuration (program, tiers, campaigns) and the engine's records
(purchases, refunds, the points ledger, certificates, campaign issuances, outbox).

Over 450 lines: Django keeps an app's models in one module by default; the split into a models/
package (program, records, campaigns, outbox) is part of the layout issue and changes no table."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from onboarding.models import PERCENT_VALIDATORS, Branch, Merchant, StaffMember

from .sources import PurchaseSource

POINTS = {"max_digits": 14, "decimal_places": 2}
MONEY = {"max_digits": 14, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": PERCENT_VALIDATORS}


class ReferralTrigger(models.TextChoices):
    REGISTRATION = "registration", _("Friend's registration")
    FIRST_PURCHASE = "first_purchase", _("Friend's first purchase")


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
            campaign = (
                Campaign.objects.filter(
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


class CampaignKind(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    WINBACK = "winback", _("Win-back")
    CHECK_GROWTH = "check_growth", _("Check growth")
    REVIEW_REWARD = "review_reward", _("Review reward")
    WELCOME = "welcome", _("Welcome")
    SEGMENT_GIFT = "segment_gift", _("Short-lived segment gift")
    PARTNER_CERTIFICATE = "partner_certificate", _("Partner certificates")


class RewardForm(models.TextChoices):
    POINTS = "points", _("Points to the balance")
    CERTIFICATE = "certificate", _("Certificate")


class Channel(models.TextChoices):
    INBOX = "inbox", _("Card inbox only")
    WEB_PUSH = "web_push", _("Web push (card)")
    TELEGRAM = "telegram", _("Telegram")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    CONSOLE = "console", _("Console (log)")


class CampaignAudience(models.TextChoices):
    """Who a campaign may reward: digitised members only, or also every contact who consented
    (imported contacts included). Widening the audience never drops a member."""

    MEMBERS = "members", _("Members (joined the program)")
    CONTACTS = "contacts", _("Members and all contacts with consent")


class ReviewPlatform(models.TextChoices):
    ANY = "any", _("Any")
    TWOGIS = "2gis", _("2GIS")
    MAPS = "maps", _("Maps (Yandex/Google)")
    APP = "app", _("In-app")


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


class BudgetUnit(models.TextChoices):
    POINTS = "points", _("Points")
    MONEY = "money", _("Money")


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


class PaymentType(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    ONLINE = "online", _("Online")
    INSTALLMENT = "installment", _("Installment")
    MIXED = "mixed", _("Mixed")


class Certificate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="certificates"
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="certificates",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
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
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.ACTIVE, db_index=True
    )
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_purchase = models.ForeignKey(
        "Purchase",
        verbose_name=_("redeemed purchase"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates_redeemed",
    )

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        indexes = [
            models.Index(fields=["merchant", "status", "valid_until"]),
            models.Index(fields=["client", "status"]),
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


class LedgerKind(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    ACCRUAL = "accrual", _("Cashback accrual")
    REDEMPTION = "redemption", _("Redemption")
    REFERRAL_BONUS = "referral_bonus", _("Referral one-time bonus")
    REFERRAL = "referral", _("Referral percentage")
    CAMPAIGN = "campaign", _("Campaign gift")
    CERTIFICATE = "certificate", _("Certificate")
    EXPIRY = "expiry", _("Expiry")
    OPENING_BALANCE = "opening_balance", _("Opening balance (import)")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    REFUND = "refund", _("Refund reversal")


class LedgerEntry(models.Model):
    """An append-only point movement. A client's balance is the sum of its entries."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="ledger"
    )
    client = models.ForeignKey(
        "crm.Client", verbose_name=_("client"), on_delete=models.CASCADE, related_name="ledger"
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
    )
    refund = models.ForeignKey(
        Refund,
        verbose_name=_("refund"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
    )
    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("certificate"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
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
            models.Index(fields=["purchase"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points}"


class CampaignIssuance(models.Model):
    """One reward of a campaign to a client for a period; the unique key makes re-runs safe."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="issuances"
    )
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="issuances"
    )
    client = models.ForeignKey(
        "crm.Client", verbose_name=_("client"), on_delete=models.CASCADE, related_name="issuances"
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

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="outbox"
    )
    client = models.ForeignKey(
        "crm.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
    )
    issuance = models.ForeignKey(
        CampaignIssuance,
        verbose_name=_("issuance"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    channel = models.CharField(_("channel"), max_length=12, choices=Channel)
    recipient = models.CharField(_("recipient"), max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=Kind, default=Kind.CAMPAIGN, db_index=True
    )
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
            models.Index(fields=["merchant", "status", "created_at"]),
            models.Index(fields=["client", "kind", "created_at"]),
            models.Index(fields=["merchant", "channel", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}"


from .channels.models import (  # noqa: E402,F401  (models of the delivery channels)
    ChannelOptOut,
    ChannelSettings,
    TelegramLink,
    TelegramLinkToken,
    TelegramUpdate,
    WebPushSubscription,
)
from .forecast.models import ProgramDraft  # noqa: E402,F401  (program drafts for the forecast)
from .pos.models import PendingRefund, PosEvent  # noqa: E402,F401  (models of the POS adapters)
