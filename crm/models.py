"""Clients (the merchant's customers), the referral tree, reviews, segments and import runs."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant

from .expressions import MonthDay
from .storage import import_upload_storage


class Gender(models.TextChoices):
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")


class ClientSource(models.TextChoices):
    IMPORT = "import", _("Imported base")
    ORGANIC = "organic", _("Organic (at the till)")
    PLATFORM = "platform", _("Platform traffic")
    PROMO_CODE = "promo_code", _("Promo code / channel")
    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner (cross-marketing)")
    POS = "pos", _("POS")


class Client(models.Model):
    # No index of its own (composite indexes lead with it: each index costs every row write);
    # on PostgreSQL triggers check it once per statement instead of per row (migration 0016).
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="clients",
        verbose_name=_("merchant"),
        db_index=False,
        db_constraint=False,
    )
    phone = models.CharField(_("phone"), max_length=20, help_text=_("E.164, e.g. +79131234567"))
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    card_code = models.CharField(_("card code"), max_length=64, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=ClientSource, default=ClientSource.ORGANIC
    )
    source_detail = models.CharField(  # grouped within a merchant's clients, never looked up
        _("promo code / channel / partner"), max_length=120, blank=True
    )
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        verbose_name=_("referred by"),
        db_index=False,  # indexed where set (Meta): most clients have no referrer
    )
    tier = models.ForeignKey(
        "loyalty.Tier",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clients",
        verbose_name=_("tier"),
        db_index=False,  # indexed where set (Meta), alone and after the merchant
    )
    tier_locked = models.BooleanField(
        _("tier assigned manually"),
        default=False,
        help_text=_("If on, spend does not move the client between tiers."),
    )
    joined_at = models.DateTimeField(
        _("joined the program"),
        null=True,
        blank=True,
        db_index=False,  # indexed where set, after the merchant (Meta)
        help_text=_("Set when the contact became a digitised member (app, bot or phone)."),
    )
    imported = models.BooleanField(_("imported contact"), default=False)
    notes = models.TextField(
        _("notes"),
        blank=True,
        help_text=_("Free text; an import keeps chosen columns here, one “Column: value” a line."),
    )
    consent = models.BooleanField(_("consent to messages"), default=True)
    # Cached aggregates, changed in the transaction of the rows they sum, the client locked.
    balance = models.DecimalField(_("balance, points"), max_digits=14, decimal_places=2, default=0)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2, default=0)
    purchases_count = models.PositiveIntegerField(_("purchases"), default=0)
    first_purchase_at = models.DateTimeField(_("first purchase"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # What points expiry counts from (last purchase, else joining, else creation), computed by
    # the database in the statement that changes its sources: expiry selects an index range.
    last_activity_at = models.GeneratedField(
        expression=Coalesce("last_purchase_at", "joined_at", "created_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name=_("last activity"),
    )
    # Stored so that the expiry index names it, not `balance`: a balance moving between positive
    # amounts changes no indexed column and, with fill factor 90 (0012) leaving room on the
    # page, is a HOT update that writes none of the client's indexes.
    has_points = models.GeneratedField(
        expression=Q(balance__gt=0),
        output_field=models.BooleanField(),
        db_persist=True,
        verbose_name=_("holds points"),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        constraints = [
            # Phone first: it also serves a phone search across merchants (no phone index).
            models.UniqueConstraint(fields=["phone", "merchant"], name="uniq_client_phone"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="client_balance_nonneg"),
            models.CheckConstraint(
                condition=~Q(referred_by=models.F("id")), name="client_not_own_referrer"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "source"]),
            models.Index(fields=["merchant", "created_at"]),
            # The daily run's selections: balances that may expire, birthdays by day of year.
            models.Index(
                fields=["merchant", "last_activity_at"],
                condition=Q(has_points=True),
                name="client_expiry_due",
            ),
            # Month × 100 + day, computed by the database (no Python call per written row on
            # SQLite); the campaigns select birthdays by it (`birthday_md_q`).
            models.Index(
                F("merchant"),
                MonthDay("birthday"),
                condition=Q(birthday__isnull=False),
                name="client_birthday_md",
            ),
            # Keys that most rows leave empty are indexed only where set: a row written
            # outside a HOT update (a purchase, an expiry, an import) adds no entry for them.
            models.Index(
                fields=["referred_by"],
                condition=Q(referred_by__isnull=False),
                name="client_referred_by",
            ),
            models.Index(fields=["tier"], condition=Q(tier__isnull=False), name="client_tier"),
            models.Index(
                fields=["merchant", "tier"], condition=Q(tier__isnull=False), name="client_tiered"
            ),
            models.Index(
                fields=["merchant", "card_code"], condition=~Q(card_code=""), name="client_card"
            ),
            # Imported contacts have no purchase or join date; selections by them are ranges.
            models.Index(
                fields=["merchant", "last_purchase_at"],
                condition=Q(last_purchase_at__isnull=False),
                name="client_last_purchase",
            ),
            models.Index(
                fields=["merchant", "joined_at"],
                condition=Q(joined_at__isnull=False),
                name="client_joined",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or '—'} {self.phone}"

    def clean(self):
        if self.referred_by_id and self.merchant_id:
            if self.referred_by.merchant_id != self.merchant_id:
                raise ValidationError(
                    {"referred_by": _("The referrer is another merchant's client.")}
                )
            # Walk up the chain: the client may not appear among its own ancestors.
            seen, node = set(), self.referred_by
            while node is not None:
                if node.pk == self.pk or node.pk in seen:
                    raise ValidationError(
                        {"referred_by": _("A client cannot be their own referrer or ancestor.")}
                    )
                seen.add(node.pk)
                node = node.referred_by


class Review(models.Model):
    class Platform(models.TextChoices):
        TWOGIS = "2gis", _("2GIS")
        MAPS = "maps", _("Maps (Yandex/Google)")
        APP = "app", _("In-app")
        OTHER = "other", _("Other")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="reviews"
    )
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
    )
    purchase = models.ForeignKey(
        "loyalty.Purchase",
        verbose_name=_("purchase"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
    )
    platform = models.CharField(_("platform"), max_length=8, choices=Platform, default=Platform.APP)
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(_("text"), blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("review")
        verbose_name_plural = _("reviews and ratings")
        indexes = [models.Index(fields=["merchant", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="review_rating_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.rating or ''}".strip()


class RfmSegment(models.TextChoices):
    """The named RFM segments (rules in reports.rfm, which reads these codes)."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    AT_RISK = "at_risk", _("At risk")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    LAPSED = "lapsed", _("Lapsed")
    NO_PURCHASE = "no_purchase", _("Members without a purchase")


class Segment(models.Model):
    class Kind(models.TextChoices):
        LAPSED = "lapsed", _("Lapsed clients")
        RFM = "rfm", _("RFM segment")
        PHONE_LIST = "phone_list", _("Uploaded phone list")

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="segments"
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind)
    lapsed_days = models.PositiveIntegerField(_("no purchase for, days"), null=True, blank=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=40, choices=RfmSegment, blank=True)
    phones = models.JSONField(_("phones (E.164)"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["merchant", "name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.kind == self.Kind.RFM and not self.rfm_segment:
            raise ValidationError({"rfm_segment": _("Choose the RFM segment from the list.")})
        if self.kind == self.Kind.LAPSED and not self.lapsed_days:
            raise ValidationError({"lapsed_days": _("Set how many days without a purchase.")})


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        DRY_RUN = "dry_run", _("Dry run")
        STALE = "stale", _("Stale (worker stopped)")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="import_batches",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file = models.FileField(
        _("file"),
        upload_to="%Y/%m/",
        storage=import_upload_storage,
        blank=True,
        help_text=_("Private copy of the upload; deleted when the run ends."),
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    overwrite = models.BooleanField(_("overwrite existing fields"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_processed = models.PositiveIntegerField(_("processed"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)
    file_size = models.PositiveBigIntegerField(_("file size, bytes"), default=0)
    progress = models.PositiveSmallIntegerField(_("progress, %"), default=0)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    # The run that may write: set when a worker claims the batch, checked under the row lock in
    # the transaction that writes the clients, so a run that lost its claim writes nothing.
    claim = models.CharField(_("claim"), max_length=32, blank=True, editable=False)
    dry_run_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="confirmations",
        verbose_name=_("confirms the dry run"),
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The column choice: {"columns": {field: column}, "ignore": [column, ...], "preset": name}.
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    # Rows fixed in the dry run's preview: {row number: {field: value}}.
    fixes = models.JSONField(_("fixed rows"), default=dict, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


class ImportMapping(models.Model):
    """A merchant's column mapping for files with these columns, reused when they come again."""

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="import_mappings",
    )
    columns_key = models.CharField(_("columns"), max_length=64)
    headers = models.JSONField(_("file columns"), default=list)
    mapping = models.JSONField(_("column mapping"), default=dict)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("saved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("saved"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "columns_key"], name="crm_import_mapping_unique"
            )
        ]
        verbose_name = _("import column mapping")
        verbose_name_plural = _("import column mappings")

    def __str__(self) -> str:
        return f"{self.merchant_id}: {', '.join(map(str, self.headers))[:80]}"


class ImportPriorValue(models.Model):
    """What an import run changed on an existing client — {field: [before, after]} — so that
    undoing the run can put back what it overwrote or filled."""

    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="prior_values", verbose_name=_("run")
    )
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="+", verbose_name=_("client")
    )
    values = models.JSONField(_("values before and after"), default=dict)

    class Meta:
        verbose_name = _("value before an import")
        verbose_name_plural = _("values before an import")

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.client_id}"
