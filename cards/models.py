"""The client site's records: one-time codes, card sessions, consent history, feedback
requests, partner certificate batches and codes, and the card page's daily counters."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import Client
from onboarding.models import Merchant


class CodePurpose(models.TextChoices):
    JOIN = "join", _("Joining")
    SIGNIN = "signin", _("Sign-in")


class OneTimeCode(models.Model):
    """A code sent to a phone to confirm it. Only a hash is kept; the row counts the wrong
    guesses and is spent once. Rows are the rate-limit ledger too (per phone, per IP)."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    phone = models.CharField(_("phone"), max_length=20)
    purpose = models.CharField(_("purpose"), max_length=8, choices=CodePurpose)
    code_hash = models.CharField(_("code hash"), max_length=64)
    link_hash = models.CharField(_("magic link hash"), max_length=64, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("wrong guesses"), default=0)
    created_at = models.DateTimeField(_("created"), db_index=True)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    # A code that could not be sent does not count toward the phone's limit (the person
    # never got it); it still counts toward the address's limit.
    send_failed = models.BooleanField(_("could not be sent"), default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["merchant", "phone", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.get_purpose_display()})"


class CardSession(models.Model):
    """A signed-in card on one device: the browser keeps the token, we keep its hash, so a
    session can be listed and ended; it is scoped to one merchant's client."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="card_sessions", verbose_name=_("client")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"))
    last_seen_at = models.DateTimeField(_("last seen"), db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        verbose_name = _("card session")
        verbose_name_plural = _("card sessions")
        indexes = [models.Index(fields=["merchant", "last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.client_id} @ {self.created_at:%Y-%m-%d}"


class CardProfile(models.Model):
    """Per-member things of the card site: the personal invite code (never the card code,
    which pays at the till)."""

    client = models.OneToOneField(
        Client, on_delete=models.CASCADE, related_name="card_profile", verbose_name=_("client")
    )
    invite_code = models.CharField(_("invite code"), max_length=16, unique=True)
    join_channel = models.CharField(_("joined through"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("card profile")
        verbose_name_plural = _("card profiles")

    def __str__(self) -> str:
        return self.invite_code


class ConsentRecord(models.Model):
    """History of a client's consent to messages: every grant and withdrawal, with its time
    and where it came from — the card page, an unsubscribe link, Telegram /stop, an SMS STOP.
    An empty channel means all messages (`Client.consent` is the current value); a channel
    means that channel only (its current value is the channels' opt-out). Written only from
    `loyalty.channels.consent`'s `consent_changed` signal."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="consent_records", verbose_name=_("client")
    )
    given = models.BooleanField(_("consent given"))
    channel = models.CharField(
        _("channel"), max_length=12, blank=True, help_text=_("Empty: all messages.")
    )
    source = models.CharField(_("source"), max_length=120)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["client", "created_at"])]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.given} ({self.source})"


class FeedbackRequest(models.Model):
    """The card asks for a rating after every N-th purchase; `sequence` is N-th purchase ÷ N,
    so each request is created once however often the card is opened."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="feedback_requests", verbose_name=_("client")
    )
    sequence = models.PositiveIntegerField(_("request number"))
    purchase = models.ForeignKey(
        "loyalty.Purchase",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("purchase"),
    )
    review = models.OneToOneField(
        "crm.Review",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="feedback_request",
        verbose_name=_("review"),
    )
    created_at = models.DateTimeField(_("asked"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("feedback request")
        verbose_name_plural = _("feedback requests")
        constraints = [
            models.UniqueConstraint(fields=["client", "sequence"], name="uniq_feedback_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} #{self.sequence}"


class PartnerBatch(models.Model):
    """A batch of certificate codes handed to a partner business (cross-marketing): each code
    enrols its holder with source "partner: <name>" and gives a certificate once."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="partner_batches",
        verbose_name=_("merchant"),
    )
    partner_name = models.CharField(_("partner business"), max_length=100)
    campaign = models.ForeignKey(
        "loyalty.Campaign",
        on_delete=models.PROTECT,
        related_name="partner_batches",
        verbose_name=_("campaign"),
    )
    size = models.PositiveIntegerField(_("codes"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("partner certificate batch")
        verbose_name_plural = _("partner certificate batches")

    def __str__(self) -> str:
        return f"{self.partner_name} ({self.size})"


class PartnerCode(models.Model):
    batch = models.ForeignKey(
        PartnerBatch, on_delete=models.CASCADE, related_name="codes", verbose_name=_("batch")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    code = models.CharField(_("code"), max_length=16)
    redeemed_by = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner_codes",
        verbose_name=_("redeemed by"),
    )
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_via = models.CharField(_("redeemed at"), max_length=16, blank=True)
    certificate = models.OneToOneField(
        "loyalty.Certificate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="partner_code",
        verbose_name=_("certificate"),
    )

    class Meta:
        ordering = ["batch", "pk"]
        verbose_name = _("partner code")
        verbose_name_plural = _("partner codes")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="uniq_partner_code"),
        ]

    def __str__(self) -> str:
        return self.code


class CardCounter(models.Model):
    """Daily counters of the card site (page views, joins by channel): one row per
    (merchant, day, event, channel), incremented in place."""

    class Event(models.TextChoices):
        VIEW = "view", _("Card page view")
        JOIN_PAGE = "join_page", _("Join page view")
        JOIN = "join", _("Join")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="+", verbose_name=_("merchant")
    )
    day = models.DateField(_("day"))
    event = models.CharField(_("event"), max_length=12, choices=Event)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    count = models.PositiveIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("card page counter")
        verbose_name_plural = _("card page counters")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "day", "event", "channel"], name="uniq_card_counter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.event} {self.channel}: {self.count}"


# The join channels the counters and the dashboard know (from the link's ?src=).
JOIN_CHANNELS = {
    "qr": _("QR code at the till"),
    "invite": _("Friend's invitation"),
    "partner": _("Partner certificate"),
    "link": _("Direct link"),
}
