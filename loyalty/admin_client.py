"""The loyalty part of the admin's client page: balance, tier and caps, certificates, the
referral chain up and down, purchases and the ledger, and the manual-adjustment link.

crm sits below loyalty and knows nothing of it, so loyalty extends crm's `ClientAdmin` here and
registers the result for `Client` in its place (`LoyaltyClientAdmin` at the end of this module).

The mixin appends a "Loyalty" fieldset of read-only displays to whatever fieldsets the admin
declares. The inlines are read-only and paginated."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from crm.admin import ClientAdmin
from crm.models import Client
from onboarding.admin_base import ScopedTabularInline

from .models import Certificate, LedgerEntry, Purchase
from .selectors import referral_chain_up, referral_tree_down
from .services.rules import load_rules


class _ReadOnlyInline(ScopedTabularInline):
    can_delete = False
    extra = 0
    tab = True
    per_page = 10

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ClientPurchaseInline(_ReadOnlyInline):
    model = Purchase
    fk_name = "client"
    verbose_name_plural = _("purchases")
    fields = [
        "occurred_at",
        "amount",
        "points_redeemed",
        "certificate_redeemed",
        "paid_money",
        "points_accrued",
        "refunded_amount",
        "branch",
        "cashier",
        "source",
    ]
    readonly_fields = fields
    ordering = ["-occurred_at", "-pk"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("branch", "cashier")


class ClientLedgerInline(_ReadOnlyInline):
    model = LedgerEntry
    fk_name = "client"
    verbose_name_plural = _("points ledger")
    fields = ["created_at", "kind", "points", "referral_level", "purchase", "reason", "created_by"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("purchase", "created_by")


class ClientCertificateInline(_ReadOnlyInline):
    model = Certificate
    fk_name = "client"
    verbose_name_plural = _("certificates")
    fields = ["points", "redemption_cap_percent", "issued_at", "valid_until", "status", "campaign"]
    readonly_fields = fields
    ordering = ["-issued_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")


class ClientReferralsInline(_ReadOnlyInline):
    model = Client
    fk_name = "referred_by"
    verbose_name = _("invited client")
    verbose_name_plural = _("invited clients (level 1)")
    fields = ["phone", "full_name", "joined_at", "purchases_count", "total_spent"]
    readonly_fields = fields
    ordering = ["-pk"]
    show_change_link = True


CLIENT_INLINES = [
    ClientPurchaseInline,
    ClientLedgerInline,
    ClientCertificateInline,
    ClientReferralsInline,
]

LOYALTY_FIELDS = ["loyalty_summary", "referral_chain_up", "referral_tree_down", "adjust_points"]


def _client_link(client: Client):
    url = reverse("admin:crm_client_change", args=[client.pk])
    return format_html('<a href="{}">{}</a>', url, f"{client.full_name or '—'} {client.phone}")


class ClientLoyaltyAdminMixin:
    """Read-only loyalty displays for ClientAdmin (put it before the admin base class)."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append((_("Loyalty"), {"fields": LOYALTY_FIELDS}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [f for f in LOYALTY_FIELDS if f not in fields]
        return fields

    @admin.display(description=_("balance, tier and caps"))
    def loyalty_summary(self, obj):
        tier = load_rules(obj.merchant).current_tier(obj)
        active = obj.certificates.filter(status=Certificate.Status.ACTIVE).count()
        return format_html(
            "{}: <b>{}</b> · {}: {} ({}: {}%, {}: {}%){} · {}: {}",
            _("balance"),
            obj.balance,
            _("tier"),
            tier.name if tier else "—",
            _("cashback"),
            tier.cashback_percent if tier else 0,
            _("points pay up to"),
            tier.max_redemption_percent if tier else 0,
            format_html(" · <i>{}</i>", _("assigned manually")) if obj.tier_locked else "",
            _("active certificates"),
            active,
        )

    @admin.display(description=_("invited by (up the chain)"))
    def referral_chain_up(self, obj):
        chain = referral_chain_up(client=obj)
        if not chain:
            return "—"
        return format_html_join(" ← ", "{}", ((_client_link(c),) for c in chain))

    @admin.display(description=_("invited (down the chain)"))
    def referral_tree_down(self, obj):
        levels = referral_tree_down(client=obj, limit=10)
        if not levels:
            return "—"
        rows = []
        for level, (count, shown) in enumerate(levels, start=1):
            people = format_html_join(", ", "{}", ((_client_link(c),) for c in shown))
            more = format_html(" … +{}", count - len(shown)) if count > len(shown) else ""
            rows.append(format_html("{} {}: {} — {}{}", _("level"), level, count, people, more))
        return format_html_join("", "<div>{}</div>", ((r,) for r in rows))

    @admin.display(description=_("manual adjustment"))
    def adjust_points(self, obj):
        url = reverse("admin:loyalty_ledgerentry_adjust", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Adjust points (with a reason)"))


class LoyaltyClientAdmin(ClientLoyaltyAdminMixin, ClientAdmin):
    """The client page as the admin shows it: crm's client admin with the loyalty part."""

    inlines = [*ClientAdmin.inlines, *CLIENT_INLINES]


admin.site.unregister(Client)
admin.site.register(Client, LoyaltyClientAdmin)
