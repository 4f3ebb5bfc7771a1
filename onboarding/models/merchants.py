"""Merchants, branches, Point A and staff: the tenancy every app builds on.

Over 400 lines: one idea, the tables every other app's foreign keys point at; the merchant's
profile, POS identities and brand are most of it."""

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
