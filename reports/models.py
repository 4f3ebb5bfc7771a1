"""Point-B configuration and maintained aggregates.

* `BenefitComponent` — per-merchant economic-benefit components with attribution shares.
* `DailySales` / `DailyMembers` — the daily rollup (merchant, day, branch, channel, detail)
  rebuilt by `reports.rollup`; used instead of the raw purchases for large merchants.
* `ReportSnapshot` — client-level figures (buyers, regulars, RFM, tiers, referral tree)
  computed nightly for large merchants, so the dashboard never scans a million clients.
* `PartnerClient` / `PartnerFigures` — the partners block's per-client rows and per-partner
  totals kept by the nightly refresh (`reports.partner_figures`).
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import Branch, Merchant

MONEY = {"max_digits": 16, "decimal_places": 2, "default": 0}


class Channel(models.TextChoices):
    """Where a client came from, one per client (first match wins, in this order):
    a referrer set → referral; else the client's source."""

    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner")
    PROMO_CODE = "promo_code", _("Promo code / channel")
    PLATFORM = "platform", _("Platform traffic")
    IMPORT = "import", _("Imported base")
    ORGANIC = "organic", _("Organic")
    POS = "pos", _("POS")
    NO_CARD = "", _("Without card")


class ComponentKind(models.TextChoices):
    CERTIFICATES = "certificates", _("Revenue by certificates")
    PLATFORM = "platform", _("New platform clients (clean traffic)")
    SOURCES = "sources", _("External traffic sources (promo codes)")
    REFERRALS = "referrals", _("Revenue by referrals")
    PARTNER = "partner", _("Partner cross-marketing")
    SAVING = "saving", _("Saving vs the previous direct discount")
    MANUAL = "manual", _("Other (amount entered by hand)")


# Components counted when a merchant has no rows of its own; platform traffic takes
# Merchant.platform_traffic_share_percent, the others 100%.
DEFAULT_COMPONENTS = [
    ComponentKind.SAVING,
    ComponentKind.CERTIFICATES,
    ComponentKind.PLATFORM,
    ComponentKind.SOURCES,
    ComponentKind.REFERRALS,
    ComponentKind.PARTNER,
]


class BenefitComponent(models.Model):
    """One term of the economic benefit: component revenue × attribution share."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="benefit_components",
        verbose_name=_("merchant"),
    )
    kind = models.CharField(_("component"), max_length=16, choices=ComponentKind)
    label = models.CharField(
        _("label"), max_length=200, blank=True, help_text=_("Shown in the report instead.")
    )
    included = models.BooleanField(_("counted in the benefit"), default=True)
    attribution_percent = models.DecimalField(
        _("attribution, %"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_(
            "Empty: 100%, or the merchant's platform traffic attribution for platform traffic."
        ),
    )
    manual_amount = models.DecimalField(
        _("amount (manual component)"),
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Revenue measured outside the portal, e.g. an in-app banner campaign."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["merchant", "position", "id"]
        verbose_name = _("benefit component")
        verbose_name_plural = _("economic benefit components")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind"],
                condition=~models.Q(kind="manual"),
                name="uniq_benefit_component_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.get_kind_display()


class DailySales(models.Model):
    """Purchases of one local day, branch and client channel (rebuilt, never edited by hand)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    branch = models.ForeignKey(Branch, null=True, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel, blank=True)
    source_detail = models.CharField(max_length=120, blank=True)
    card_purchases = models.PositiveIntegerField(default=0)
    card_revenue = models.DecimalField(**MONEY)
    by_phone = models.PositiveIntegerField(default=0)
    points_redeemed = models.DecimalField(**MONEY)
    cert_purchases = models.PositiveIntegerField(default=0)
    cert_revenue = models.DecimalField(**MONEY)
    nocard_purchases = models.PositiveIntegerField(default=0)
    nocard_revenue = models.DecimalField(**MONEY)

    class Meta:
        verbose_name = _("daily sales rollup")
        verbose_name_plural = _("daily sales rollup")
        indexes = [models.Index(fields=["merchant", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.channel or '-'} {self.card_revenue}"


class DailyMembers(models.Model):
    """Members who joined on one local day, by channel."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=16, choices=Channel, blank=True)
    source_detail = models.CharField(max_length=120, blank=True)
    joined = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily members rollup")
        verbose_name_plural = _("daily members rollup")
        indexes = [models.Index(fields=["merchant", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.channel or '-'} {self.joined}"


class ReportSnapshot(models.Model):
    """The merchant's rollup state and client-level figures as of `refreshed_at`."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="report_snapshot"
    )
    rollup_through = models.DateField(
        _("rollup covers days up to"),
        null=True,
        help_text=_("Later days are read live from the purchases."),
    )
    purchases_total = models.PositiveBigIntegerField(_("purchases at refresh"), default=0)
    clients = models.JSONField(_("client-level figures"), default=dict)
    refreshed_at = models.DateTimeField(_("refreshed"))
    took_seconds = models.FloatField(_("refresh took, s"), default=0)
    # Change marks for the next incremental refresh: the largest purchase and refund ids
    # when this refresh started (rows after them are what changed since).
    purchases_seen_id = models.BigIntegerField(default=0, editable=False)
    refunds_seen_id = models.BigIntegerField(default=0, editable=False)
    purchases_to_mark = models.PositiveBigIntegerField(default=0, editable=False)
    rfm_as_of = models.DateField(
        _("RFM scores stored as of"),
        null=True,
        help_text=_("The day of the stored RFM scores that segment look-ups read."),
    )
    timings = models.JSONField(_("refresh timings, s"), default=dict, blank=True)
    # The before/after lift of the refresh's day ({"day": …, "value": …}, reports.lift): the
    # dashboard and case study of a large merchant read it instead of every check since.
    lift = models.JSONField(_("before/after lift"), default=dict, blank=True, editable=False)
    # Whether `ClientPurchases` holds the merchant's buyers as of the marks above.
    client_purchases_built = models.BooleanField(default=False, editable=False)
    # The ranking state of the stored RFM scores and of the buyers' summaries
    # (`reports.rescore`: buyers, quintile cut-offs and the buyers below each), so the next
    # refresh rescores only the buyers whose scores can move. {"scores": …, "summaries": …}
    rfm_state = models.JSONField(default=dict, blank=True, editable=False)
    # The members rollup's mark (`reports.members`): the largest client id recorded before the
    # marks' window and what the clients after it added, counted again by the next refresh.
    members_state = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("report snapshot")
        verbose_name_plural = _("report snapshots")

    def __str__(self) -> str:
        return f"{self.merchant} @ {self.refreshed_at:%Y-%m-%d %H:%M}"


class RfmScore(models.Model):
    """A buyer's RFM scores and segment as of the merchant's snapshot day (`ReportSnapshot.
    rfm_as_of`), rewritten by the nightly refresh so a segment's clients are an index read."""

    client = models.OneToOneField(
        "crm.Client", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # no index of its own: every index below leads with it (a changed row's
    # rewrite maintains one index fewer)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    r = models.PositiveSmallIntegerField()
    f = models.PositiveSmallIntegerField()
    m = models.PositiveSmallIntegerField()
    segment = models.CharField(max_length=16)
    total_spent = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # The ranked figures the scores were computed from (the client's cached ones), indexed so
    # an incremental refresh finds the quintile cut-offs and the buyers near them.
    last_at = models.DateTimeField(null=True)
    first_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("stored RFM score")
        verbose_name_plural = _("stored RFM scores")
        indexes = [
            models.Index(fields=["merchant", "segment", "client"]),
            models.Index(fields=["merchant", "last_at"], name="rfm_score_recency"),
            models.Index(fields=["merchant", "total_spent"], name="rfm_score_monetary"),
            models.Index(fields=["merchant", "first_at"], name="rfm_score_first"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.segment}"


class CaseStudy(Merchant):
    """Admin entry for the case-study report button (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("case-study report")
        verbose_name_plural = _("case-study reports")


class ClientPurchases(models.Model):
    """A buyer's card purchases folded into one row — kept purchases only (not fully refunded),
    over all time: how many, their revenue, the first and the last. Maintained by the nightly
    refresh for the clients whose purchases changed (`reports.summaries`), so the client-level
    figures read one row per buyer instead of every purchase."""

    client = models.OneToOneField(
        "crm.Client", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # no index of its own: every index below leads with it (a changed row's
    # rewrite maintains one index fewer)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    purchases = models.PositiveIntegerField()
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    # RFM scores of these figures as of the snapshot day (`reports.rescore`): the current
    # month's RFM history is their count per segment. Empty until the refresh scores the row.
    r = models.PositiveSmallIntegerField(null=True)
    m = models.PositiveSmallIntegerField(null=True)
    segment = models.CharField(max_length=16, null=True)
    # The client's channel, source detail and join time as of the last fold or change (kept by
    # the refresh from `ClientChange`): buyers per source are counted from these rows alone.
    channel = models.CharField(max_length=16, db_default="", default="")
    source_detail = models.CharField(max_length=120, db_default="", default="")
    joined_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("client purchases")
        verbose_name_plural = _("client purchases")
        indexes = [
            models.Index(fields=["merchant", "last_at"], name="client_purchases_recency"),
            models.Index(fields=["merchant", "revenue"], name="client_purchases_monetary"),
            models.Index(fields=["merchant", "first_at"], name="client_purchases_first"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.purchases}"


class ClientChange(models.Model):
    """A client's channel keys and join time as they were before a change of one of them (or
    before the client's deletion), for merchants with a snapshot. Written by a database trigger
    on the clients (migration 0007: whatever writes the row — services, the import, the admin,
    bulk updates); the next refresh carries the members rollup and buyers per source from these
    rows and deletes them (`reports.members`)."""

    # plain ids: a row outlives its client (a deletion is recorded too)
    merchant_id = models.BigIntegerField()
    client_id = models.BigIntegerField()
    source = models.CharField(max_length=16)
    source_detail = models.CharField(max_length=120)
    referred_by = models.BigIntegerField(null=True)  # the referrer's id: the channel's rule
    joined_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("client change")
        verbose_name_plural = _("client changes")
        indexes = [models.Index(fields=["merchant_id", "client_id"], name="client_change_merchant")]

    def __str__(self) -> str:
        return f"{self.client_id} @ {self.pk}"


class PartnerClient(models.Model):
    """A partner client (source "partner") as the last refresh folded it: its partner's name,
    whether it joined, and its kept card purchases over all time (how many, revenue, first and
    last). Kept by `reports.partner_figures` for the clients whose purchases, refunds or channel
    keys changed, so the partners block never reads every partner client's purchases."""

    # a plain id: the row outlives its client, so a deleted client's figures can be taken away
    client_id = models.BigIntegerField(primary_key=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120, blank=True)
    joined = models.BooleanField(default=False)
    purchases = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(**MONEY)
    first_at = models.DateTimeField(null=True)
    last_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("partner client")
        verbose_name_plural = _("partner clients")
        indexes = [
            models.Index(fields=["merchant", "first_at"], name="partner_client_first"),
            models.Index(fields=["merchant", "last_at"], name="partner_client_last"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.name}"


class PartnerFigures(models.Model):
    """Per partner name, the sums of the merchant's `PartnerClient` rows (clients, joined,
    buyers, purchases, revenue), with the marks the refresh that wrote them took (the same as
    the snapshot's): the dashboard adds the clients changed past them live."""

    merchant = models.OneToOneField(
        Merchant, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    purchases_seen_id = models.BigIntegerField(default=0)
    refunds_seen_id = models.BigIntegerField(default=0)
    clients_seen_id = models.BigIntegerField(default=0)
    # {name: [clients, joined, buyers, purchases, "revenue"]}
    partners = models.JSONField(default=dict)
    # the rows hold the purchases up to `purchases_seen_id` only (the later ones are added by
    # the page and the next night); rows folded before that rule read every purchase there was
    to_mark = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("partner figures")
        verbose_name_plural = _("partner figures")

    def __str__(self) -> str:
        return str(self.merchant_id)
