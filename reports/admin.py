from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from onboarding.access import visible_merchants
from onboarding.admin import case_study_links
from onboarding.admin_base import ScopedAdmin

from .casestudy import case_study_html
from .models import BenefitComponent, CaseStudy, ReportSnapshot


@admin.register(BenefitComponent)
class BenefitComponentAdmin(ScopedAdmin):
    """Per-merchant economic-benefit components and their attribution shares; kinds without
    a row count with the default share (platform traffic: the merchant's %, others 100%)."""

    list_display = [
        "merchant",
        "kind",
        "label",
        "included",
        "attribution_percent",
        "manual_amount",
        "position",
    ]
    list_filter = ["merchant", "kind", "included"]
    list_editable = ["included", "attribution_percent", "position"]
    list_select_related = ["merchant"]


@admin.register(ReportSnapshot)
class ReportSnapshotAdmin(ScopedAdmin):
    list_display = [
        "merchant",
        "rollup_through",
        "purchases_total",
        "refreshed_at",
        "took_seconds",
        "report_links",
    ]
    readonly_fields = [
        "merchant",
        "rollup_through",
        "purchases_total",
        "refreshed_at",
        "took_seconds",
        "rfm_as_of",
        "timings",
    ]
    exclude = ["clients"]
    list_select_related = ["merchant"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("report"))
    def report_links(self, obj):
        return case_study_links(obj.merchant)


@admin.register(CaseStudy)
class CaseStudyAdmin(ScopedAdmin):
    """One row per visible merchant with the report button; the action returns the one-pager."""

    list_display = ["name", "city", "onboarding_status", "launch_date", "report_links"]
    list_filter = ["onboarding_status"]
    search_fields = ["name", "slug"]
    actions = ["download_case_study"]

    def get_queryset(self, request):
        # A proxy has no `merchant` field for the generic scoping; scope by pk explicitly.
        return CaseStudy.objects.filter(pk__in=visible_merchants(request.user).values("pk"))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("report"))
    def report_links(self, obj):
        return case_study_links(obj)

    @admin.action(description=_("Download the case-study report (HTML)"))
    def download_case_study(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one merchant."), messages.WARNING)
            return None
        merchant = queryset.first()
        response = HttpResponse(case_study_html(merchant=merchant, request=request))
        response["Content-Disposition"] = f'attachment; filename="{merchant.slug}-case-study.html"'
        return response
