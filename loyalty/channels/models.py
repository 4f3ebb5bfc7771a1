"""Per-merchant channel credentials and the client-side channel records: Telegram links and
their one-time deep-link payloads, processed Telegram updates (idempotency), web push
subscriptions and per-channel opt-outs."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant


class SmsGateway(models.TextChoices):
    NONE = "", _("Not connected")
    SMSC = "smsc", _("SMSC (smsc.ru / smsc.kz)")
    TWILIO = "twilio", _("Twilio")


class ChannelSettings(models.Model):
    """A merchant's credentials for the external channels. Secrets are shown in the admin
    only to those who may change the merchant."""

    merchant = models.OneToOneField(
        Merchant,
        on_delete=models.CASCADE,
        related_name="channel_settings",
        verbose_name=_("merchant"),
    )
    telegram_bot_token = models.CharField(
        _("Telegram bot token"), max_length=100, blank=True, help_text=_("From @BotFather.")
    )
    telegram_bot_username = models.CharField(
        _("Telegram bot username"),
        max_length=64,
        blank=True,
        help_text=_("Without the @, e.g. zolotoff_bot."),
    )
    telegram_webhook_secret = models.CharField(
        _("Telegram webhook secret"), max_length=64, blank=True, editable=False
    )
    telegram_webhook_set_at = models.DateTimeField(
        _("Telegram webhook connected"), null=True, blank=True, editable=False
    )
    sms_gateway = models.CharField(
        _("SMS gateway"), max_length=10, choices=SmsGateway, default=SmsGateway.NONE, blank=True
    )
    smsc_host = models.CharField(
        _("SMSC site"),
        max_length=40,
        choices=[
            ("smsc.ru", "smsc.ru"),
            ("smsc.kz", "smsc.kz"),
            ("smscentre.com", "smscentre.com"),
        ],
        default="smsc.ru",
        blank=True,
        help_text=_("The SMSC site the account was opened on."),
    )
    smsc_login = models.CharField(_("SMSC login"), max_length=100, blank=True)
    smsc_password = models.CharField(_("SMSC password or API key"), max_length=200, blank=True)
    smsc_sender = models.CharField(
        _("SMSC sender name"),
        max_length=20,
        blank=True,
        help_text=_("A sender name registered in SMSC; empty uses the account's default."),
    )
    twilio_account_sid = models.CharField(_("Twilio Account SID"), max_length=64, blank=True)
    twilio_auth_token = models.CharField(_("Twilio auth token"), max_length=128, blank=True)
    twilio_from = models.CharField(
        _("Twilio sender"),
        max_length=64,
        blank=True,
        help_text=_("A Twilio phone number in E.164 (+1…) or a Messaging Service SID (MG…)."),
    )
    vapid_public_key = models.CharField(
        _("web push public key (VAPID)"), max_length=200, blank=True, editable=False
    )
    vapid_private_key = models.TextField(
        _("web push private key (VAPID)"), blank=True, editable=False
    )
    vapid_contact = models.CharField(
        _("web push contact"),
        max_length=200,
        blank=True,
        help_text=_(
            "mailto: address or https URL push services may contact; empty uses DEFAULT_FROM_EMAIL."
        ),
    )

    class Meta:
        verbose_name = _("channel settings")
        verbose_name_plural = _("channel settings")

    def __str__(self) -> str:
        return str(self.merchant)

    @property
    def telegram_ready(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_bot_username)

    @property
    def sms_ready(self) -> bool:
        if self.sms_gateway == SmsGateway.SMSC:
            return bool(self.smsc_login and self.smsc_password)
        if self.sms_gateway == SmsGateway.TWILIO:
            return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)
        return False


class TelegramLink(models.Model):
    """A client's card linked to the merchant's bot: where its messages go."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="telegram_links",
        verbose_name=_("merchant"),
    )
    client = models.ForeignKey(
        "crm.Client",
        on_delete=models.CASCADE,
        related_name="telegram_links",
        verbose_name=_("client"),
    )
    chat_id = models.BigIntegerField(_("chat id"))
    telegram_user_id = models.BigIntegerField(_("Telegram user id"))
    username = models.CharField(_("Telegram username"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    linked_at = models.DateTimeField(_("linked"))
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)
    deactivation_reason = models.CharField(_("why deactivated"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "client"], name="uniq_tg_link_client"),
            models.UniqueConstraint(
                fields=["merchant", "telegram_user_id"], name="uniq_tg_link_user"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "is_active"])]

    def __str__(self) -> str:
        return f"{self.client_id} → {self.chat_id}"


class TelegramLinkToken(models.Model):
    """The one-time payload of a deep link t.me/<bot>?start=<token> (≤ 64 characters of
    A–Z, a–z, 0–9, _ and -, as Telegram allows)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey("crm.Client", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["client", "created_at"])]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.token[:6]}…"


class TelegramUpdate(models.Model):
    """An update already processed: Telegram re-sends an update until it gets a 2xx."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    update_id = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "update_id"], name="uniq_tg_update")
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.update_id}"


class WebPushSubscription(models.Model):
    """A browser's push subscription (PushSubscription.toJSON()) for a client's card."""

    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="webpush_subscriptions",
        verbose_name=_("merchant"),
    )
    client = models.ForeignKey(
        "crm.Client",
        on_delete=models.CASCADE,
        related_name="webpush_subscriptions",
        verbose_name=_("client"),
    )
    endpoint = models.CharField(_("endpoint"), max_length=1000)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(_("subscribed"), auto_now_add=True)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("web push subscription")
        verbose_name_plural = _("web push subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "endpoint"], name="uniq_webpush_endpoint")
        ]
        indexes = [models.Index(fields=["client"])]

    def __str__(self) -> str:
        return self.endpoint[:60]


class ChannelOptOut(models.Model):
    """A client withdrew consent to messages over one channel (unsubscribe link, /stop)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(
        "crm.Client", on_delete=models.CASCADE, related_name="channel_opt_outs"
    )
    channel = models.CharField(_("channel"), max_length=12)
    source = models.CharField(_("source"), max_length=40)
    created_at = models.DateTimeField(_("withdrawn"))

    class Meta:
        verbose_name = _("channel opt-out")
        verbose_name_plural = _("channel opt-outs")
        constraints = [
            models.UniqueConstraint(fields=["client", "channel"], name="uniq_opt_out_channel")
        ]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.channel}"
