"""Admin of the program: the program page with its tier ladder and campaigns inline. The engine's
records (purchases, refunds, the ledger, certificates, POS events) are in admin_records.py, campaigns
in admin_campaigns.py, the client page's loyalty part in admin_client.py; importing this module
registers them all."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from onboarding.admin_base import ScopedAdmin, ScopedTabularInline

from . import (
    admin_campaigns,  # noqa: F401  (registers the campaign, outbox and schedule admins)
    admin_client,  # noqa: F401  (registers the client admin with the loyalty part)
    admin_forecast,  # noqa: F401  (registers program drafts and the forecast page)
    admin_records,  # noqa: F401  (registers purchases, refunds, the ledger, certificates, POS events)
)
from .models import (
    Campaign,
    Program,
    Tier,
)
from .program import validate_tier_ladder


class TierFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        tiers = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.cleaned_data.get("DELETE"):
                continue
            data = form.cleaned_data
            if any(
                data.get(f) is None
                for f in (
                    "position",
                    "cashback_percent",
                    "max_redemption_percent",
                    "spend_threshold",
                )
            ):
                continue  # field errors are already shown on the row
            tiers.append(
                Tier(
                    name=data.get("name", ""),
                    position=data["position"],
                    cashback_percent=data["cashback_percent"],
                    max_redemption_percent=data["max_redemption_percent"],
                    spend_threshold=data["spend_threshold"],
                )
            )
        positions = [t.position for t in tiers]
        if len(positions) != len(set(positions)):
            raise ValidationError(_("Two tiers have the same order number."))
        errors = validate_tier_ladder(sorted(tiers, key=lambda t: t.position))
        if errors:
            raise ValidationError(errors)


class TierInline(ScopedTabularInline):
    model = Tier
    formset = TierFormSet
    fields = ["position", "name", "cashback_percent", "max_redemption_percent", "spend_threshold"]
    ordering = ["position"]


class CampaignInline(ScopedTabularInline):
    model = Campaign
    fields = ["name", "kind", "reward_points", "is_active"]
    readonly_fields = ["name", "kind", "reward_points", "is_active"]
    show_change_link = True
    can_delete = False
    fk_name = "merchant"
    tab = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Program)
class ProgramAdmin(ScopedAdmin):
    change_form_before_template = "admin/onboarding/_back_to_merchant.html"
    change_form_after_template = "admin/loyalty/_program_forecast_link.html"
    list_display = [
        "merchant",
        "welcome_points",
        "points_expiry_months",
        "referral_summary",
        "tier_count",
    ]
    search_fields = ["merchant__name"]
    inlines = [TierInline]
    fieldsets = [
        (
            _("Points"),
            {
                "fields": [
                    "merchant",
                    "welcome_points",
                    "points_expiry_months",
                    "tiers_can_fall",
                    "pos_enrols_buyers",
                ]
            },
        ),
        (
            _("Exclusions"),
            {"fields": ["promo_earns_points", "promo_redeemable", "installment_accrual_only"]},
        ),
        (
            _("Referral"),
            {
                "fields": [
                    "referral_bonus_points",
                    "referral_bonus_trigger",
                    "referral_base",
                    "referral_level1_percent",
                    "referral_level2_percent",
                    "referral_level3_percent",
                ]
            },
        ),
        (_("Staff bonus"), {"fields": ["staff_bonus_percent", "staff_bonus_note"]}),
        (_("Client card"), {"fields": ["feedback_every_purchases"]}),
    ]

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super().get_queryset(request).select_related("merchant").annotate(_tiers=Count("tiers"))
        )

    def get_readonly_fields(self, request, obj=None):
        return ["merchant"] if obj else []

    @admin.display(description=_("Tiers"))
    def tier_count(self, obj):
        return obj._tiers

    @admin.display(description=_("Referral, %"))
    def referral_summary(self, obj):
        return " / ".join(str(p) for p in obj.referral_percents) or "—"


# --- Engine records: read-only history, filtered by date, branch, cashier and kind ----------


from .channels import admin as channels_admin  # noqa: E402,F401
