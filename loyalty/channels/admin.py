"""Admin for the channels: per-merchant credentials (secrets only for those who may change
the merchant), VAPID key generation, connecting the Telegram webhook, linked Telegram
clients and web push subscriptions (read-only lists)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from onboarding.admin_base import ScopedAdmin

from ..campaigns.delivery import DeliveryError
from .models import ChannelSettings, TelegramLink, WebPushSubscription
from .telegram import telegram_webhook_connect, webhook_url
from .webpush import vapid_generate


@admin.register(ChannelSettings)
class ChannelSettingsAdmin(ScopedAdmin):
    list_display = [
        "merchant",
        "telegram_bot_username",
        "telegram_webhook_set_at",
        "sms_gateway",
        "has_vapid",
    ]
    search_fields = ["merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    readonly_fields = ["telegram_webhook_set_at", "telegram_webhook", "vapid_public_key"]
    actions = ["connect_telegram", "generate_vapid"]
    fieldsets = [
        (None, {"fields": ["merchant"]}),
        (
            _("Telegram bot"),
            {
                "fields": [
                    "telegram_bot_username",
                    "telegram_bot_token",
                    "telegram_webhook_set_at",
                    "telegram_webhook",
                ],
                "classes": ["tab"],
            },
        ),
        (
            _("SMS"),
            {
                "fields": [
                    "sms_gateway",
                    "smsc_host",
                    "smsc_login",
                    "smsc_password",
                    "smsc_sender",
                    "twilio_account_sid",
                    "twilio_auth_token",
                    "twilio_from",
                ],
                "classes": ["tab"],
            },
        ),
        (_("Web push"), {"fields": ["vapid_public_key", "vapid_contact"], "classes": ["tab"]}),
    ]
    SECRET_FIELDS = {"telegram_bot_token", "smsc_password", "twilio_auth_token"}

    def get_fieldsets(self, request, obj=None):
        """Secrets are shown only to those who may change the settings (not partners)."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (title, {**opts, "fields": [f for f in opts["fields"] if f not in self.SECRET_FIELDS]})
            for title, opts in fieldsets
        ]

    @admin.display(description=_("web push keys"), boolean=True)
    def has_vapid(self, obj):
        return bool(obj.vapid_public_key)

    @admin.display(description=_("webhook URL"))
    def telegram_webhook(self, obj):
        if obj is None or not obj.pk or not obj.telegram_webhook_secret:
            return "—"
        return webhook_url(obj)

    @admin.action(
        description=_("Connect the Telegram webhook (setWebhook)"), permissions=["change"]
    )
    def connect_telegram(self, request, queryset):
        for channel_settings in queryset.select_related("merchant"):
            try:
                url = telegram_webhook_connect(channel_settings=channel_settings)
            except DeliveryError as exc:
                self.message_user(
                    request,
                    _("%(merchant)s: Telegram refused: %(error)s")
                    % {"merchant": channel_settings.merchant, "error": exc},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _("%(merchant)s: the bot now posts to %(url)s")
                    % {"merchant": channel_settings.merchant, "url": url},
                    messages.SUCCESS,
                )

    @admin.action(
        description=_("Generate new web push keys (clients must turn notifications on again)"),
        permissions=["change"],
    )
    def generate_vapid(self, request, queryset):
        for channel_settings in queryset:
            vapid_generate(channel_settings=channel_settings)
        self.message_user(
            request,
            _("New web push keys for %(count)s merchants.") % {"count": queryset.count()},
            messages.SUCCESS,
        )


@admin.register(TelegramLink)
class TelegramLinkAdmin(ScopedAdmin):
    list_display = [
        "client",
        "merchant",
        "username",
        "is_active",
        "linked_at",
        "deactivation_reason",
    ]
    list_filter = ["is_active", "merchant"]
    search_fields = ["client__phone", "client__full_name", "username"]
    list_select_related = ["client", "merchant"]
    readonly_fields = [f.name for f in TelegramLink._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WebPushSubscription)
class WebPushSubscriptionAdmin(ScopedAdmin):
    list_display = ["client", "merchant", "created_at", "last_success_at"]
    list_filter = ["merchant"]
    search_fields = ["client__phone", "client__full_name"]
    list_select_related = ["client", "merchant"]
    readonly_fields = [f.name for f in WebPushSubscription._meta.fields]

    def has_add_permission(self, request):
        return False
