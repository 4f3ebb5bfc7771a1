"""The campaign form's budget part: the projected monthly cost from the merchant's last 90
days, shown read-only on a saved campaign and recomputed live from the unsaved form (a POST
to `projection/` that validates the form and saves nothing)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from onboarding.money import format_money, format_points
from onboarding.params import int_param

from .campaigns.budget import PROJECTION_DAYS, Projection, campaign_projection, has_budget
from .models import BudgetUnit, Campaign


def projection_text(campaign: Campaign, projection: Projection) -> str:
    """One sentence: the projected monthly cost, the rewards behind it, and the budget."""
    currency = campaign.merchant.currency
    if projection.monthly_cost is None:
        return _("Sent by hand: the cost is the number of recipients times the reward.")
    text = _(
        "Projected monthly cost: %(cost)s (%(points)s points; about %(rewards)s rewards a "
        "month, from %(events)d in the last %(days)d days, %(since)s–%(until)s)."
    ) % {
        "cost": format_money(projection.monthly_cost, currency),
        "points": format_points(projection.monthly_cost),
        "rewards": format_points(projection.monthly_rewards),
        "events": projection.events,
        "days": PROJECTION_DAYS,
        "since": projection.since.strftime("%d.%m.%Y"),
        "until": projection.until.strftime("%d.%m.%Y"),
    }
    if has_budget(campaign):
        budget = (
            format_money(campaign.monthly_budget, currency)
            if campaign.budget_unit == BudgetUnit.MONEY
            else format_points(campaign.monthly_budget)
        )
        if projection.monthly_cost > campaign.monthly_budget:
            text += " " + _("Over the budget of %(budget)s: some rewards will stop.") % {
                "budget": budget
            }
        else:
            text += " " + _("Within the budget of %(budget)s.") % {"budget": budget}
    return text


class CampaignBudgetAdminMixin:
    """Mixed into the campaign admin: `projected_cost` field and the live projection URL."""

    class Media:
        js = ["loyalty/campaign_projection.js"]

    def get_urls(self):
        return [
            path(
                "projection/",
                self.admin_site.admin_view(self.projection_view),
                name="loyalty_campaign_projection",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("Projected monthly cost"))
    def projected_cost(self, obj):
        if obj is None or not obj.pk:
            return _("Fill in the form: the projection appears here.")
        return projection_text(obj, campaign_projection(campaign=obj))

    def projection_view(self, request):
        """Validate the posted campaign form against the merchant's data; save nothing."""
        if request.method != "POST":
            raise PermissionDenied
        obj = None
        object_id = int_param(request.POST.get("_object_id"))
        if object_id:
            obj = self.get_object(request, str(object_id))
            if obj is None or not self.has_change_permission(request, obj):
                raise PermissionDenied
        elif not self.has_add_permission(request):
            raise PermissionDenied
        form = self.get_form(request, obj, change=obj is not None)(request.POST, instance=obj)
        if not form.is_valid():
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
            return JsonResponse({"ok": False, "errors": errors})
        campaign = form.instance
        projection = campaign_projection(campaign=campaign)
        return JsonResponse(
            {
                "ok": True,
                "events": projection.events,
                "monthly_cost": None
                if projection.monthly_cost is None
                else str(projection.monthly_cost),
                "text": projection_text(campaign, projection),
            }
        )
