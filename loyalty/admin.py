from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from onboarding.admin_base import ScopedAdmin, ScopedTabularInline

from .models import CAMPAIGN_KIND_FIELDS, CAMPAIGN_PARAM_FIELDS, Campaign, Program, Tier
from .pos.models import PendingRefund, PosEvent  # noqa: F401  (registers the POS models)
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
            {"fields": ["merchant", "welcome_points", "points_expiry_months", "tiers_can_fall"]},
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
                    "referral_level1_percent",
                    "referral_level2_percent",
                    "referral_level3_percent",
                ]
            },
        ),
        (_("Staff bonus"), {"fields": ["staff_bonus_percent", "staff_bonus_note"]}),
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


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = "__all__"

    def _post_clean(self):
        # Parameters of other kinds are hidden in the form; drop whatever they hold so
        # a campaign stores only what its kind uses.
        kind = self.cleaned_data.get("kind")
        if kind:
            keep = set(CAMPAIGN_KIND_FIELDS.get(kind, []))
            for field in CAMPAIGN_PARAM_FIELDS:
                if field not in keep and field in self.cleaned_data:
                    self.cleaned_data[field] = (
                        "" if field in ("review_platform", "partner_name") else None
                    )
        super()._post_clean()


@admin.register(Campaign)
class CampaignAdmin(ScopedAdmin):
    form = CampaignForm
    list_display = ["name", "merchant", "kind", "reward_form", "reward_points", "is_active"]
    list_filter = ["kind", "is_active", "merchant"]
    search_fields = ["name", "merchant__name"]
    list_select_related = ["merchant"]
    fieldsets = [
        (None, {"fields": ["merchant", "kind", "name", "is_active"]}),
        (
            _("Reward"),
            {
                "fields": [
                    "reward_form",
                    "reward_points",
                    "certificate_valid_days",
                    "redemption_cap_percent",
                ]
            },
        ),
        (_("Parameters of the kind"), {"fields": CAMPAIGN_PARAM_FIELDS}),
        (_("Message"), {"fields": ["channel", "message_template"]}),
    ]
    # The form shows only the parameters of the chosen kind (Alpine.js expressions).
    conditional_fields = {
        **{
            field: " || ".join(
                f"kind == '{kind}'"
                for kind, fields in CAMPAIGN_KIND_FIELDS.items()
                if field in fields
            )
            for field in CAMPAIGN_PARAM_FIELDS
        },
        "certificate_valid_days": "reward_form == 'certificate'",
        "redemption_cap_percent": "reward_form == 'certificate'",
    }


from . import admin_campaigns  # noqa: E402,F401
