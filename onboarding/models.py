"""Merchants (the tenants), their branches, Point A and the people tied to them.

Over 450 lines: merchants (the tenants) and everything tied to them — checklists, training, bonus,
owner links. The split into a models/ package is part of the layout issue and changes no table."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .tokens import HashedToken

PERCENT_VALIDATORS = [MinValueValidator(0), MaxValueValidator(100)]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone “%(tz)s”."), params={"tz": value})


HEX_COLOR = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", _("Enter a colour as # and six hex digits, e.g. #1f6feb.")
)
LOGO_MAX_BYTES = 512 * 1024
_LOGO_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")


def validate_logo(file) -> None:
    """A small PNG, JPEG or WebP (checked by its first bytes, not its name): the card page
    serves it as an image, so nothing that a browser could run is accepted."""
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(_("The logo must be at most 512 KB."))
    file.seek(0)
    head = file.read(12)
    file.seek(0)
    is_webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not (is_webp or any(head.startswith(sig) for sig in _LOGO_SIGNATURES)):
        raise ValidationError(_("The logo must be a PNG, JPEG or WebP image."))


class BusinessType(models.TextChoices):
    JEWELLERY = "jewellery", _("Jewellery")
    RESTAURANT = "restaurant", _("Restaurant / café")
    ELECTRONICS = "electronics", _("Electronics")
    FOOD_DELIVERY = "food_delivery", _("Food delivery")
    RETAIL = "retail", _("Retail")
    BEAUTY = "beauty", _("Beauty and health")
    SERVICES = "services", _("Services")
    OTHER = "other", _("Other")


class Country(models.TextChoices):
    RU = "RU", _("Russia")
    KZ = "KZ", _("Kazakhstan")
    GE = "GE", _("Georgia")
    BY = "BY", _("Belarus")
    UZ = "UZ", _("Uzbekistan")
    KG = "KG", _("Kyrgyzstan")
    AM = "AM", _("Armenia")
    AZ = "AZ", _("Azerbaijan")
    UA = "UA", _("Ukraine")
    TR = "TR", _("Turkey")
    AE = "AE", _("United Arab Emirates")


class Currency(models.TextChoices):
    RUB = "RUB", _("Russian rouble (₽)")
    KZT = "KZT", _("Kazakh tenge (₸)")
    GEL = "GEL", _("Georgian lari (₾)")
    BYN = "BYN", _("Belarusian rouble")
    UZS = "UZS", _("Uzbek som")
    KGS = "KGS", _("Kyrgyz som")
    AMD = "AMD", _("Armenian dram")
    AZN = "AZN", _("Azerbaijani manat")
    UAH = "UAH", _("Ukrainian hryvnia")
    TRY = "TRY", _("Turkish lira")
    AED = "AED", _("UAE dirham")
    USD = "USD", _("US dollar")
    EUR = "EUR", _("Euro")


class PosIntegration(models.TextChoices):
    NONE = "none", _("None — cashier page")
    EVOTOR = "evotor", _("Evotor")
    POSTER = "poster", _("Poster")


class OnboardingStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CONFIGURING = "configuring", _("Configuring")
    TRAINING = "training", _("Training")
    LAUNCHED = "launched", _("Launched")


class Merchant(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    business_type = models.CharField(
        _("business type"), max_length=32, choices=BusinessType, default=BusinessType.RETAIL
    )
    description = models.TextField(_("description"), blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        choices=Country,
        default=Country.RU,
        help_text=_("ISO 3166 code; also the default region for phone numbers."),
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency, default="RUB")
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="Europe/Moscow",
        validators=[validate_time_zone],
        help_text=_("IANA name, e.g. Asia/Novokuznetsk. “Today” for the merchant is in this zone."),
    )
    launch_date = models.DateField(_("launch date"), null=True, blank=True)
    onboarding_started_on = models.DateField(
        _("onboarding started"),
        null=True,
        blank=True,
        help_text=_("The day the first checklist was applied; time to value counts from it."),
    )
    pos_integration = models.CharField(
        _("POS integration"), max_length=16, choices=PosIntegration, default=PosIntegration.NONE
    )
    adoption_target_percent = models.PositiveSmallIntegerField(
        _("target share of checks with a card, %"),
        default=80,
        validators=PERCENT_VALIDATORS,
        help_text=_(
            "A branch whose weekly share of checks with a loyalty card is below this raises "
            "an alert on the hub and in the portfolio."
        ),
    )
    carrier_app = models.BooleanField(_("card in the mobile app"), default=True)
    carrier_telegram = models.BooleanField(_("card in the Telegram bot"), default=False)
    carrier_phone = models.BooleanField(_("accrual by phone number"), default=True)
    online_orders = models.BooleanField(_("online orders"), default=False)
    online_orders_note = models.CharField(
        _("online orders: conditions"),
        max_length=300,
        blank=True,
        help_text=_("e.g. in-app orders 24/7, pickup at any branch, no online payment"),
    )
    owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="owned_merchants",
        verbose_name=_("owners"),
    )
    specialists = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="specialist_merchants",
        verbose_name=_("assigned specialists"),
    )
    partner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner_merchants",
        verbose_name=_("partner"),
    )
    onboarding_status = models.CharField(
        _("onboarding status"),
        max_length=16,
        choices=OnboardingStatus,
        default=OnboardingStatus.DRAFT,
        db_index=True,
    )
    previous_discount_percent = models.DecimalField(
        _("previous direct discount, %"),
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=PERCENT_VALIDATORS,
        help_text=_(
            "The direct discount the merchant gave before the program (for the saving metric)."
        ),
    )
    # Point A in figures: what the forecast sizes a synthetic history from when the merchant
    # has no purchase history to replay.
    point_a_clients = models.PositiveIntegerField(
        _("Point A: buying clients"),
        null=True,
        blank=True,
        help_text=_("Clients who buy in a typical year before the program."),
    )
    point_a_average_check = models.DecimalField(
        _("Point A: average check"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    point_a_visits_per_year = models.DecimalField(
        _("Point A: purchases per client a year"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    platform_traffic_share_percent = models.DecimalField(
        _("platform traffic attribution, %"),
        max_digits=5,
        decimal_places=2,
        default=20,
        validators=PERCENT_VALIDATORS,
        help_text=_("Share of new platform clients' revenue credited to the program."),
    )
    # POS credentials. Evotor: the user token we issue is stored only as a hash.
    evotor_user_id = models.CharField(_("Evotor user id"), max_length=64, blank=True, db_index=True)
    evotor_token_hash = models.CharField(_("Evotor token hash"), max_length=128, blank=True)
    poster_account = models.CharField(
        _("Poster account"), max_length=120, blank=True, db_index=True
    )
    poster_client_secret = models.CharField(
        _("Poster application secret"), max_length=128, blank=True
    )
    poster_api_token = models.CharField(_("Poster API token"), max_length=200, blank=True)
    # Branding of the client card page (/c/<slug>/).
    brand_color = models.CharField(
        _("brand colour"),
        max_length=7,
        default="#1f6feb",
        blank=True,
        validators=[HEX_COLOR],
        help_text=_("Buttons and the card's background, e.g. #1f6feb; empty: the default blue."),
    )
    brand_accent_color = models.CharField(
        _("accent colour"),
        max_length=7,
        default="#f5a623",
        blank=True,
        validators=[HEX_COLOR],
        help_text=_("Progress bars and highlights, e.g. #f5a623; empty: the default amber."),
    )
    brand_logo = models.FileField(
        _("logo"),
        upload_to="logos/",
        blank=True,
        validators=[validate_logo],
        help_text=_("PNG, JPEG or WebP, up to 512 KB; shown on the client card page."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        # A POS identity names one merchant: the webhooks find the merchant by it.
        constraints = [
            models.UniqueConstraint(
                fields=["evotor_user_id"],
                condition=~Q(evotor_user_id=""),
                name="uniq_merchant_evotor_user_id",
            ),
            models.UniqueConstraint(
                fields=["evotor_token_hash"],
                condition=~Q(evotor_token_hash=""),
                name="uniq_merchant_evotor_token_hash",
            ),
            models.UniqueConstraint(
                fields=["poster_account"],
                condition=~Q(poster_account=""),
                name="uniq_merchant_poster_account",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        """The merchant's zone. An unknown name (an unsaved form being re-shown with the
        error) falls back to the server's zone so pages render; validation rejects it."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def local_today(self):
        """The merchant's current local date (never the server's UTC date)."""
        from django.utils import timezone

        return timezone.now().astimezone(self.tzinfo).date()


# Store ids this long are global (Evotor's store UUIDs), so unique across merchants.
GLOBAL_STORE_ID_LENGTH = 32


class Branch(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="branches", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    pos_store_id = models.CharField(
        _("POS store id"),
        max_length=64,
        blank=True,
        help_text=_("Evotor store UUID or Poster spot id, if the branch is connected."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["merchant", "name"]
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="uniq_branch_name"),
            # One store is one branch (any case: the POS look-ups ignore it) ...
            models.UniqueConstraint(
                "merchant",
                Lower("pos_store_id"),
                condition=~Q(pos_store_id=""),
                name="uniq_branch_pos_store_id",
            ),
            # ... and an Evotor store (a UUID, GLOBAL_STORE_ID_LENGTH characters or more)
            # belongs to one merchant; Poster spot ids are small numbers per Poster account.
            models.UniqueConstraint(
                Lower("pos_store_id"),
                condition=Q(GreaterThanOrEqual(Length("pos_store_id"), GLOBAL_STORE_ID_LENGTH)),
                name="uniq_branch_global_store_id",
            ),
        ]
        indexes = [models.Index(fields=["pos_store_id"])]

    def __str__(self) -> str:
        return self.name


class PointAItem(models.Model):
    class Kind(models.TextChoices):
        STATE = "state", _("State before")
        GOAL = "goal", _("Goal")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="point_a_items", verbose_name=_("merchant")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind)
    text = models.CharField(_("text"), max_length=300)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["merchant", "kind", "position", "id"]
        verbose_name = _("Point A item")
        verbose_name_plural = _("Point A: state before and goals")

    def __str__(self) -> str:
        return self.text


class StaffRole(models.TextChoices):
    CASHIER = "cashier", _("Cashier")
    MANAGER = "manager", _("Manager")
    PROGRAM_MANAGER = "program_manager", _("Responsible for the program")
    OWNER = "owner", _("Owner")


class StaffMember(models.Model):
    """A person working for the merchant: serves purchases, takes training, earns the staff bonus."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="staff", verbose_name=_("merchant")
    )
    branch = models.ForeignKey(
        Branch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
        verbose_name=_("branch"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff_member",
        verbose_name=_("login"),
        help_text=_("Cashiers with a login use the cashier page of this merchant only."),
    )
    full_name = models.CharField(_("full name"), max_length=200)
    role = models.CharField(_("role"), max_length=20, choices=StaffRole, default=StaffRole.CASHIER)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    pos_employee_id = models.CharField(
        _("POS employee id"),
        max_length=64,
        blank=True,
        help_text=_("Evotor employee UUID or Poster waiter id, to attribute POS sales."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["merchant", "full_name"]
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        indexes = [models.Index(fields=["merchant", "pos_employee_id"])]
        constraints = [
            # A POS sale names one cashier (any case: the POS look-ups ignore it).
            models.UniqueConstraint(
                "merchant",
                Lower("pos_employee_id"),
                condition=~Q(pos_employee_id=""),
                name="uniq_staff_pos_employee_id",
                violation_error_message=_(
                    "Another staff member of this merchant already has this POS employee id."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    def clean(self):
        if self.branch_id and self.merchant_id and self.branch.merchant_id != self.merchant_id:
            raise ValidationError({"branch": _("The branch belongs to another merchant.")})


# --- Onboarding checklists -------------------------------------------------------------


class ChecklistSide(models.TextChoices):
    SPECIALIST = "specialist", _("Implementation specialist")
    BUSINESS = "business", _("Business")


class ChecklistTemplate(models.Model):
    """A reusable plan of onboarding work; applying it to a merchant creates its tasks."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("Applied by the demo and offered first.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")

    def __str__(self) -> str:
        return self.name


class ChecklistFact(models.TextChoices):
    """Facts of the merchant's data that complete a checklist task by themselves."""

    CLIENTS_IMPORTED = "clients_imported", _("Client base imported (at least N clients)")
    PROGRAM_CONFIGURED = "program_configured", _("Program configured (tiers set)")
    POS_EVENT = "pos_event", _("First sale from the till (POS event or cashier page)")
    PURCHASE_EVERY_BRANCH = "purchase_every_branch", _("A card purchase in every branch")
    CARD_PURCHASES = "card_purchases", _("At least N card purchases")
    STAFF_ATTESTED = "staff_attested", _("Staff attested (at least N %)")
    CAMPAIGN_ISSUED = "campaign_issued", _("First campaign reward issued")
    POS_CREDENTIALS = "pos_credentials", _("POS credentials saved")
    POS_TEST_EVENT = "pos_test_event", _("A signed test event received from the POS")
    POS_FIRST_SALE = "pos_first_sale", _("First real sale recorded from the till")
    POS_FIRST_REFUND = "pos_first_refund", _("First refund recorded from the till")


class ChecklistTemplateItem(models.Model):
    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("template"),
    )
    side = models.CharField(_("side"), max_length=12, choices=ChecklistSide)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    required = models.BooleanField(
        _("required for launch"),
        default=True,
        help_text=_("The merchant cannot be launched until required tasks are done."),
    )
    fact = models.CharField(
        _("completed by the fact"),
        max_length=24,
        choices=ChecklistFact,
        blank=True,
        help_text=_("The task ticks itself when this fact holds in the merchant's data."),
    )
    fact_threshold = models.PositiveIntegerField(
        _("fact threshold"),
        null=True,
        blank=True,
        help_text=_("N for the fact: clients, purchases or percent of staff attested."),
    )
    integration = models.CharField(
        _("only for the POS integration"),
        max_length=16,
        choices=PosIntegration,
        blank=True,
        help_text=_("Empty: every merchant; otherwise only merchants with this integration."),
    )
    due_offset_days = models.PositiveSmallIntegerField(
        _("due, days from start"),
        default=7,
        validators=[MaxValueValidator(365)],
        help_text=_("Days from the day the checklist is applied to the merchant."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = _("checklist template item")
        verbose_name_plural = _("checklist template items")

    def __str__(self) -> str:
        return self.title


class TaskStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Not needed")


OPEN_TASK_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)


class MerchantTask(models.Model):
    """One item of a merchant's onboarding checklist."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("merchant")
    )
    template_item = models.ForeignKey(
        ChecklistTemplateItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        verbose_name=_("template item"),
    )
    side = models.CharField(
        _("side"), max_length=12, choices=ChecklistSide, default=ChecklistSide.SPECIALIST
    )
    title = models.CharField(_("title"), max_length=300)
    required = models.BooleanField(_("required for launch"), default=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="onboarding_tasks",
        verbose_name=_("responsible (login)"),
    )
    responsible_name = models.CharField(
        _("responsible person"),
        max_length=200,
        blank=True,
        help_text=_("On the business side: the merchant's person in charge."),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=TaskStatus, default=TaskStatus.TODO
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("completed by"),
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    fact = models.CharField(
        _("completed by the fact"),
        max_length=24,
        choices=ChecklistFact,
        blank=True,
        help_text=_("The task ticks itself when this fact holds in the merchant's data."),
    )
    fact_threshold = models.PositiveIntegerField(
        _("fact threshold"),
        null=True,
        blank=True,
        help_text=_("N for the fact: clients, purchases or percent of staff attested."),
    )
    fact_override_reason = models.TextField(
        _("fact override reason"),
        blank=True,
        help_text=_(
            "Only to mark the task done while its fact does not hold yet: why. "
            "The override is logged with your name and the time."
        ),
    )
    comment = models.TextField(_("comment"), blank=True)
    attachment_url = models.URLField(_("attachment link"), max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["merchant", "due_date", "position", "id"]
        verbose_name = _("onboarding task")
        verbose_name_plural = _("onboarding tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "template_item"],
                name="uniq_task_template_item",
                condition=models.Q(template_item__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status", "due_date"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES


class OnboardingEvent(models.Model):
    """Append-only history of a merchant's onboarding: status changes, launch overrides,
    applied templates."""

    class Kind(models.TextChoices):
        STATUS_CHANGED = "status_changed", _("Status changed")
        LAUNCH_OVERRIDE = "launch_override", _("Launch gate overridden")
        TEMPLATE_APPLIED = "template_applied", _("Checklist applied")
        PERIOD_CLOSED = "period_closed", _("Bonus period closed")
        FACT_OVERRIDE = "fact_override", _("Task done without its fact")
        FACT_VERIFIED = "fact_verified", _("Tasks ticked by facts")
        PERSON_INVITED = "person_invited", _("Login created")
        PERSON_DEACTIVATED = "person_deactivated", _("Login deactivated")
        OWNER_LINK_CREATED = "owner_link_created", _("Owner link created")
        OWNER_LINK_REVOKED = "owner_link_revoked", _("Owner link revoked")
        POS_IDENTITY_CHANGED = "pos_identity", _("POS identity changed")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="onboarding_events",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("onboarding event")
        verbose_name_plural = _("onboarding log")
        indexes = [models.Index(fields=["merchant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d}"

    @staticmethod
    def status_label(code: str) -> str:
        """The onboarding status as a person reads it ("Запущен"), the code if it is unknown."""
        if not code:
            return ""
        try:
            return str(OnboardingStatus(code).label)
        except ValueError:
            return code

    @property
    def from_status_label(self) -> str:
        return self.status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return self.status_label(self.to_status)


# --- Staff training and attestation ----------------------------------------------------


class TrainingModule(models.Model):
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="training_modules",
        verbose_name=_("merchant"),
    )
    title = models.CharField(_("title"), max_length=200)
    material = models.TextField(
        _("material"), blank=True, help_text=_("Shown to the staff member above the quiz.")
    )
    pass_threshold_percent = models.DecimalField(
        _("pass threshold, %"),
        max_digits=5,
        decimal_places=2,
        default=80,
        validators=PERCENT_VALIDATORS,
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["merchant", "position", "id"]
        verbose_name = _("training module")
        verbose_name_plural = _("training modules")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "title"], name="uniq_module_title"),
        ]

    def __str__(self) -> str:
        return self.title


class QuizQuestion(models.Model):
    module = models.ForeignKey(
        TrainingModule, on_delete=models.CASCADE, related_name="questions", verbose_name=_("module")
    )
    text = models.CharField(_("question"), max_length=500)
    multiple = models.BooleanField(
        _("several correct answers"),
        default=False,
        help_text=_("Counted correct only when exactly the correct answers are chosen."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["module", "position", "id"]
        verbose_name = _("quiz question")
        verbose_name_plural = _("quiz questions")

    def __str__(self) -> str:
        return self.text


class QuizAnswer(models.Model):
    question = models.ForeignKey(
        QuizQuestion, on_delete=models.CASCADE, related_name="answers", verbose_name=_("question")
    )
    text = models.CharField(_("answer"), max_length=300)
    is_correct = models.BooleanField(_("correct"), default=False)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["question", "position", "id"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")

    def __str__(self) -> str:
        return self.text


class QuizLink(models.Model):
    """The shareable, unguessable link through which one staff member takes their quizzes."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="quiz_links"
    )
    staff = models.OneToOneField(
        StaffMember, on_delete=models.CASCADE, related_name="quiz_link", verbose_name=_("staff")
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("quiz link")
        verbose_name_plural = _("quiz links")

    def __str__(self) -> str:
        return f"{self.staff}"


class Attestation(models.Model):
    """One attempt of a staff member at a module's quiz. Retakes add rows; none is edited."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="attestations", verbose_name=_("merchant")
    )
    staff = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, related_name="attestations", verbose_name=_("staff")
    )
    module = models.ForeignKey(
        TrainingModule,
        on_delete=models.CASCADE,
        related_name="attestations",
        verbose_name=_("module"),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    correct_count = models.PositiveSmallIntegerField(_("correct answers"), default=0)
    question_count = models.PositiveSmallIntegerField(_("questions"), default=0)
    score_percent = models.DecimalField(_("score, %"), max_digits=5, decimal_places=2)
    pass_threshold_percent = models.DecimalField(
        _("pass threshold, %"), max_digits=5, decimal_places=2
    )
    passed = models.BooleanField(_("passed"))
    answers = models.JSONField(_("answers given"), default=dict, blank=True)
    taken_at = models.DateTimeField(_("taken at"), db_index=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        verbose_name = _("attestation")
        verbose_name_plural = _("attestations")
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "module", "attempt"], name="uniq_attestation_attempt"
            ),
            models.CheckConstraint(
                condition=models.Q(score_percent__gte=0, score_percent__lte=100),
                name="attestation_score_0_100",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "staff", "module", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.staff} · {self.module} · {self.score_percent}%"


# --- Staff bonus -----------------------------------------------------------------------


class BonusPeriod(models.Model):
    """A staff-bonus period (a calendar month by default) in the merchant's local dates.
    Once closed, its figures are the frozen `BonusLine` rows and never change."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="bonus_periods", verbose_name=_("merchant")
    )
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status, default=Status.OPEN, db_index=True
    )
    rate_percent = models.DecimalField(
        _("bonus rate, %"),
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("The program's staff bonus rate frozen when the period was closed."),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        ordering = ["merchant", "-start"]
        verbose_name = _("staff bonus period")
        verbose_name_plural = _("staff bonus periods")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "start"], name="uniq_bonus_period_start"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="bonus_period_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status", "start"])]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


class BonusLine(models.Model):
    """A closed period's frozen figures for one staff member."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="bonus_lines"
    )
    period = models.ForeignKey(
        BonusPeriod, on_delete=models.CASCADE, related_name="lines", verbose_name=_("period")
    )
    staff = models.ForeignKey(
        StaffMember,
        null=True,
        on_delete=models.SET_NULL,
        related_name="bonus_lines",
        verbose_name=_("staff"),
    )
    staff_name = models.CharField(_("staff"), max_length=200)
    branch_name = models.CharField(_("branch"), max_length=200, blank=True)
    purchases_count = models.PositiveIntegerField(_("card purchases"), default=0)
    card_sales = models.DecimalField(_("card sales"), max_digits=14, decimal_places=2)
    refunds = models.DecimalField(_("refunds"), max_digits=14, decimal_places=2, default=0)
    net_sales = models.DecimalField(_("net card sales"), max_digits=14, decimal_places=2)
    bonus = models.DecimalField(_("bonus"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["period", "staff_name"]
        verbose_name = _("staff bonus line")
        verbose_name_plural = _("staff bonus lines")
        constraints = [
            models.UniqueConstraint(fields=["period", "staff"], name="uniq_bonus_line_staff"),
        ]

    def __str__(self) -> str:
        return f"{self.staff_name}: {self.bonus}"


# --- Owner link ------------------------------------------------------------------------------


class OwnerLink(HashedToken):
    """A read-only link to the owner's page (progress and Point B) that needs no password.
    Only the token's hash is kept; every opening is logged in `OwnerLinkUse`."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="owner_links", verbose_name=_("merchant")
    )
    recipient = models.CharField(
        _("sent to"), max_length=254, blank=True, help_text=_("E-mail or a note: who has it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("owner link")
        verbose_name_plural = _("owner links")
        indexes = [models.Index(fields=["merchant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.recipient or self.pk}"


class OwnerLinkUse(models.Model):
    """One opening of an owner link (append-only)."""

    link = models.ForeignKey(
        OwnerLink, on_delete=models.CASCADE, related_name="uses", verbose_name=_("link")
    )
    used_at = models.DateTimeField(_("opened"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        verbose_name = _("owner link opening")
        verbose_name_plural = _("owner link openings")

    def __str__(self) -> str:
        return f"{self.link_id} @ {self.used_at:%Y-%m-%d %H:%M}"
