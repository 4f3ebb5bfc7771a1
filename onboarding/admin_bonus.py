"""Admin of the staff bonus: periods with their frozen lines."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from . import bonus
from .access import can_edit_merchant
from .admin_base import ScopedAdmin, ScopedTabularInline
from .admin_onboarding import MERCHANT_FILTER
from .models import (
    BonusLine,
    BonusPeriod,
)


class BonusLineInline(ScopedTabularInline):
    model = BonusLine
    fields = [
        "staff_name",
        "branch_name",
        "purchases_count",
        "card_sales",
        "refunds",
        "net_sales",
        "bonus",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BonusPeriod)
class BonusPeriodAdmin(ScopedAdmin):
    list_display = ["merchant", "start", "end", "status", "closed_by", "closed_at", "report_link"]
    list_filter = ["status", MERCHANT_FILTER]
    list_select_related = ["merchant", "closed_by"]
    readonly_fields = [
        "merchant",
        "start",
        "end",
        "status",
        "rate_percent",
        "closed_by",
        "closed_at",
    ]
    inlines = [BonusLineInline]
    actions = ["close_periods"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("report"))
    def report_link(self, obj):
        url = reverse("admin:onboarding_staff_bonus")
        query = urlencode({"merchant": obj.merchant_id, "period": obj.start.isoformat()})
        return format_html('<a href="{}?{}">{}</a>', url, query, _("Open report"))

    @admin.action(description=_("Close selected periods (freeze figures)"), permissions=["change"])
    def close_periods(self, request, queryset):
        for period in queryset.select_related("merchant"):
            if not can_edit_merchant(request.user, period.merchant):
                continue
            try:
                bonus.bonus_period_close(
                    merchant=period.merchant, period=period, actor=request.user
                )
            except ValidationError as error:
                self.message_user(
                    request,
                    f"{period.merchant}, {period}: {'; '.join(error.messages)}",
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request, _("%(period)s closed.") % {"period": f"{period.merchant}, {period}"}
                )
