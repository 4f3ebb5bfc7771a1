"""Admin of the engine's records, read-only: purchases with their lines, refunds and ledger rows,
refunds, the points ledger (with the manual adjustment page), certificates, POS events (with retry)
and refunds waiting for their sale."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.contrib.filters.admin import RangeDateFilter

from crm.models import Client
from onboarding import roles
from onboarding.access import has_role, visible_merchants
from onboarding.admin_base import ScopedAdmin, ScopedTabularInline
from onboarding.money import format_points

from .forms import AdjustmentForm
from .models import (
    Certificate,
    LedgerEntry,
    Purchase,
    PurchaseLine,
    Refund,
)
from .pos.models import PendingRefund, PosEvent
from .services.adjustments import points_adjust
from .services.errors import LoyaltyError
from .tasks import retry_pos_event


class ReadOnlyAdminMixin:
    """History is written by the engine only; the admin reads it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PurchaseRefundInline(ReadOnlyAdminMixin, ScopedTabularInline):
    model = Refund
    fields = ["occurred_at", "amount", "promo_amount", "lines", "external_id", "created_by"]
    readonly_fields = fields
    tab = True


class PurchaseLineInline(ReadOnlyAdminMixin, ScopedTabularInline):
    model = PurchaseLine
    fields = [
        "position",
        "external_id",
        "name",
        "quantity",
        "amount",
        "promo",
        "points_paid",
        "certificate_paid",
        "cashback",
        "referral_base",
        "refunded_quantity",
        "refunded_amount",
    ]
    readonly_fields = fields
    tab = True


class ForReviewFilter(admin.SimpleListFilter):
    """Checks whose points payment at the till broke the program's rules (booked as taken)."""

    title = _("points payment")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("flagged", _("Flagged for review")), ("ok", _("Within the rules"))]

    def queryset(self, request, queryset):
        if self.value() == "flagged":
            return queryset.exclude(review_reason="")
        if self.value() == "ok":
            return queryset.filter(review_reason="")
        return queryset


class UncoveredFilter(admin.SimpleListFilter):
    """Debits the balance could not cover: recorded discrepancies."""

    title = _("not covered by the balance")
    parameter_name = "uncovered"

    def lookups(self, request, model_admin):
        return [("yes", _("Discrepancies only"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(uncovered__gt=0)
        return queryset


class PurchaseLedgerInline(ReadOnlyAdminMixin, ScopedTabularInline):
    model = LedgerEntry
    fk_name = "purchase"
    fields = [
        "created_at",
        "client",
        "kind",
        "points",
        "uncovered",
        "referral_level",
        "refund",
        "reason",
    ]
    readonly_fields = fields
    tab = True


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "occurred_at",
        "merchant",
        "client",
        "amount",
        "points_redeemed",
        "certificate_redeemed",
        "paid_money",
        "points_accrued",
        "refunded_amount",
        "branch",
        "cashier",
        "source",
        "by_phone",
        "review_reason",
    ]
    list_filter = [
        ("occurred_at", RangeDateFilter),
        ForReviewFilter,
        "merchant",
        ("branch", admin.RelatedOnlyFieldListFilter),
        ("cashier", admin.RelatedOnlyFieldListFilter),
        "source",
        "payment_type",
        "by_phone",
    ]
    list_filter_submit = True
    search_fields = ["client__phone", "external_id"]
    list_select_related = ["merchant", "client", "branch", "cashier"]
    date_hierarchy = "occurred_at"
    inlines = [PurchaseLineInline, PurchaseLedgerInline, PurchaseRefundInline]
    exclude = ["raw_payload"]
    readonly_fields = ["raw_payload_pretty"]

    @admin.display(description=_("raw payload"))
    def raw_payload_pretty(self, obj):
        import json

        if not obj.raw_payload:
            return "—"
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.raw_payload, ensure_ascii=False, indent=2)
        )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "occurred_at",
        "merchant",
        "purchase",
        "amount",
        "promo_amount",
        "external_id",
        "created_by",
    ]
    list_filter = [
        ("occurred_at", RangeDateFilter),
        "merchant",
        ("purchase__branch", admin.RelatedOnlyFieldListFilter),
        ("purchase__cashier", admin.RelatedOnlyFieldListFilter),
    ]
    list_filter_submit = True
    search_fields = ["purchase__client__phone", "external_id"]
    list_select_related = ["merchant", "purchase", "created_by"]
    exclude = ["raw_payload"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "created_at",
        "merchant",
        "client",
        "kind",
        "points",
        "uncovered",
        "referral_level",
        "purchase",
        "reason",
        "created_by",
    ]
    list_filter = [
        ("created_at", RangeDateFilter),
        "kind",
        UncoveredFilter,
        "merchant",
        ("purchase__branch", admin.RelatedOnlyFieldListFilter),
        ("purchase__cashier", admin.RelatedOnlyFieldListFilter),
    ]
    list_filter_submit = True
    search_fields = ["client__phone", "reason"]
    list_select_related = ["merchant", "client", "purchase", "created_by"]

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "adjust/<int:client_id>/",
                self.admin_site.admin_view(self.adjust_view),
                name="loyalty_ledgerentry_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, client_id: int):
        """Manual adjustment of one client's points: a reason is required; the entry and
        the admin log record the user."""
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied
        from django.shortcuts import get_object_or_404, redirect
        from django.template.response import TemplateResponse
        from django.urls import reverse

        if not request.user.has_perm("loyalty.change_ledgerentry"):
            raise PermissionDenied
        client = get_object_or_404(
            Client.objects.select_related("merchant"),
            pk=client_id,
            merchant__in=visible_merchants(request.user),
        )
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = points_adjust(
                    merchant=client.merchant,
                    client=client,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except LoyaltyError as exc:
                form.add_error("points", exc.message)
            else:
                self.log_addition(
                    request, entry, [{"added": {"name": "adjustment", "object": entry.reason}}]
                )
                messages.success(
                    request,
                    _("Adjusted by %(points)s points; balance %(balance)s.")
                    % {
                        "points": format_points(entry.points),
                        "balance": format_points(client.balance),
                    },
                )
                return redirect(reverse("admin:crm_client_change", args=[client.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Manual points adjustment"),
            "client": client,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/loyalty/adjust_points.html", context)


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "issued_at",
        "merchant",
        "client",
        "campaign",
        "points",
        "used_points",
        "redemption_cap_percent",
        "valid_until",
        "status",
        "redeemed_purchase",
    ]
    list_filter = [("issued_at", RangeDateFilter), "status", "merchant", "campaign"]
    list_filter_submit = True
    search_fields = ["client__phone"]
    list_select_related = ["merchant", "client", "campaign", "redeemed_purchase"]


@admin.register(PosEvent)
class PosEventAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "received_at",
        "merchant",
        "system",
        "endpoint",
        "status",
        "external_id",
        "attempts",
        "retry_after",
        "message",
    ]
    list_filter = [("received_at", RangeDateFilter), "system", "status", "merchant"]
    list_filter_submit = True
    search_fields = ["external_id", "message"]
    list_select_related = ["merchant"]
    actions = ["retry_now"]

    def has_retry_permission(self, request):
        # Specialists of the (already scoped) merchants may re-run a failed event; partners,
        # who only read, may not.
        return request.user.is_superuser or has_role(request.user, roles.SPECIALIST)

    @admin.action(
        description=_("Retry now (fetch the sale from the POS again)"), permissions=["retry"]
    )
    def retry_now(self, request, queryset):
        ids = list(queryset.filter(status=PosEvent.Status.FAILED).values_list("pk", flat=True))
        for event_id in ids:
            retry_pos_event.delay(event_id)
        self.message_user(
            request,
            ngettext(
                "%(n)s failed event queued for another attempt.",
                "%(n)s failed events queued for another attempt.",
                len(ids),
            )
            % {"n": len(ids)},
        )


@admin.register(PendingRefund)
class PendingRefundAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = [
        "created_at",
        "merchant",
        "base_external_id",
        "external_id",
        "amount",
        "applied_at",
        "note",
    ]
    list_filter = ["merchant", ("applied_at", admin.EmptyFieldListFilter)]
    list_select_related = ["merchant"]
