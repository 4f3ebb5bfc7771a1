"""Admin for automated campaigns: per-campaign results, issuances, the outbox (failed
deliveries visible and retryable) and the segment-gift preview/send page. Thin callers of
loyalty.campaigns services; every queryset is scoped through ScopedAdmin.

Over 400 lines: one idea, the campaign's admin and the pages reached from it (results, outbox,
segment gift), which share its scoping and its links."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action

from crm.models import Segment
from onboarding.access import visible_merchants
from onboarding.admin_base import ScopedAdmin
from onboarding.admin_present import NativeTextAdminMixin
from onboarding.money import format_money, points_label

from .admin_budget import CampaignBudgetAdminMixin
from .campaigns.delivery import outbox_retry
from .campaigns.segments import SegmentGiftError, segment_gift_preview, segment_gift_send
from .campaigns.stats import campaign_stats_annotations
from .models import (
    CAMPAIGN_KIND_FIELDS,
    CAMPAIGN_PARAM_FIELDS,
    Campaign,
    CampaignAudience,
    CampaignIssuance,
    CampaignKind,
    OutboxMessage,
)
from .tasks import enqueue_deliveries


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without the audience (an older script, a saved request) keeps the
        # default — members — instead of failing.
        if "audience" in self.fields:
            self.fields["audience"].required = False

    def clean_audience(self):
        return self.cleaned_data.get("audience") or CampaignAudience.MEMBERS

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


class CampaignAdminBase(ScopedAdmin):
    """The campaign's settings: the kind's own parameters only, reward, audience, message."""

    change_form_before_template = "admin/onboarding/_back_to_merchant.html"
    form = CampaignForm
    list_display = ["name", "merchant", "kind", "reward_form", "reward_points", "is_active"]
    list_filter = ["kind", "is_active", "audience", "merchant"]
    search_fields = ["name", "merchant__name"]
    list_select_related = ["merchant"]
    fieldsets = [
        (None, {"fields": ["merchant", "kind", "name", "is_active", "audience"]}),
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


class SegmentGiftForm(forms.Form):
    campaign = forms.ModelChoiceField(queryset=Campaign.objects.none(), label=_("Campaign"))
    segment = forms.ModelChoiceField(queryset=Segment.objects.none(), label=_("Segment"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        merchants = visible_merchants(user)
        self.fields["campaign"].queryset = Campaign.objects.filter(
            merchant__in=merchants, kind=CampaignKind.SEGMENT_GIFT, is_active=True
        ).select_related("merchant")
        self.fields["segment"].queryset = Segment.objects.filter(
            merchant__in=merchants
        ).select_related("merchant")
        self.fields["campaign"].label_from_instance = lambda c: f"{c.merchant} — {c.name}"
        self.fields["segment"].label_from_instance = lambda s: (
            f"{s.merchant} — {s.name} ({s.get_kind_display()})"
        )

    def clean(self):
        data = super().clean()
        campaign, segment = data.get("campaign"), data.get("segment")
        if campaign and segment and campaign.merchant_id != segment.merchant_id:
            raise forms.ValidationError(
                _("The campaign and the segment belong to different merchants.")
            )
        return data


@admin.register(Campaign)
class CampaignAdmin(CampaignBudgetAdminMixin, CampaignAdminBase):
    """The program's campaign admin plus results, the budget's projection and the
    segment-gift page."""

    list_display = [*CampaignAdminBase.list_display, "issued", "redeemed", "revenue"]
    readonly_fields = ["issued", "redeemed", "revenue", "segment_gift_link", "projected_cost"]
    fieldsets = [
        *CampaignAdminBase.fieldsets,
        (_("Monthly budget"), {"fields": ["budget_unit", "monthly_budget", "projected_cost"]}),
        (_("Results"), {"fields": ["issued", "redeemed", "revenue", "segment_gift_link"]}),
    ]
    actions_list = ["open_segment_gift"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**campaign_stats_annotations())

    @admin.display(description=_("Issued"), ordering="stat_issued")
    def issued(self, obj):
        return getattr(obj, "stat_issued", None) if obj.pk else "—"

    @admin.display(description=_("Certificates redeemed"), ordering="stat_redeemed")
    def redeemed(self, obj):
        return getattr(obj, "stat_redeemed", None) if obj.pk else "—"

    @admin.display(description=_("Revenue with its certificates"), ordering="stat_revenue")
    def revenue(self, obj):
        if not obj.pk:
            return "—"
        return format_money(getattr(obj, "stat_revenue", 0) or 0, obj.merchant.currency)

    @admin.display(description=_("Segment gift"))
    def segment_gift_link(self, obj):
        if not obj.pk or obj.kind != CampaignKind.SEGMENT_GIFT:
            return "—"
        url = reverse("admin:loyalty_campaign_segment_gift") + f"?campaign={obj.pk}"
        return format_html(
            '<a class="text-primary-600" href="{}">{}</a>', url, _("Preview and send")
        )

    @action(description=_("Gift points to a segment"), url_path="segment-gift-link")
    def open_segment_gift(self, request):
        return HttpResponseRedirect(reverse("admin:loyalty_campaign_segment_gift"))

    def get_urls(self):
        urls = [
            path(
                "segment-gift/",
                self.admin_site.admin_view(self.segment_gift_view),
                name="loyalty_campaign_segment_gift",
            )
        ]
        return urls + super().get_urls()

    def segment_gift_view(self, request):
        """Pick a segment-gift campaign and a segment, see how many clients and points, send."""
        if not self.has_change_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        preview = None
        if request.method == "POST":
            form = SegmentGiftForm(request.POST, user=request.user)
        else:
            form = SegmentGiftForm(initial=request.GET.dict(), user=request.user)
        if request.method == "POST" and form.is_valid():
            campaign, segment = form.cleaned_data["campaign"], form.cleaned_data["segment"]
            try:
                if "send" in request.POST:
                    outcome = segment_gift_send(campaign=campaign, segment=segment)
                    enqueue_deliveries(outcome.message_ids)
                    self.message_user(
                        request,
                        ngettext(
                            "Gifted %(points)s to %(clients)s client.",
                            "Gifted %(points)s to %(clients)s clients.",
                            outcome.issued,
                        )
                        % {"points": points_label(outcome.points), "clients": outcome.issued},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(request.path)
                preview = segment_gift_preview(campaign=campaign, segment=segment)
            except SegmentGiftError as exc:
                form.add_error(None, str(exc))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Gift points to a segment"),
            "form": form,
            "preview": preview,
            "merchant": form.cleaned_data["campaign"].merchant if preview else None,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/loyalty/segment_gift.html", context)


@admin.register(CampaignIssuance)
class CampaignIssuanceAdmin(ScopedAdmin):
    list_display = ["issued_at", "campaign", "client", "period_key", "points", "certificate_status"]
    list_filter = ["merchant", "campaign__kind"]
    search_fields = ["client__phone", "client__full_name", "period_key"]
    list_select_related = ["campaign", "client", "certificate"]
    raw_id_fields = ["client", "certificate"]
    date_hierarchy = "issued_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Certificate"))
    def certificate_status(self, obj):
        return obj.certificate.get_status_display() if obj.certificate_id else "—"


class FailedFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failed", _("Failed")), ("waiting", _("Waiting"))]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(status=OutboxMessage.Status.FAILED)
        if self.value() == "waiting":
            return queryset.filter(~Q(status=OutboxMessage.Status.SENT))
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ScopedAdmin):
    list_display = [
        "created_at",
        "merchant",
        "channel",
        "recipient",
        "status",
        "attempts",
        "short_error",
        "sent_at",
    ]
    list_filter = [FailedFilter, "status", "channel", "kind", "merchant"]
    search_fields = ["recipient", "body", "client__phone"]
    list_select_related = ["merchant"]
    readonly_fields = [
        "merchant",
        "client",
        "issuance",
        "channel",
        "recipient",
        "subject",
        "body",
        "kind",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "provider_message_id",
        "created_at",
        "sent_at",
        "read_at",
    ]
    actions = ["retry_delivery"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Last error"))
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.action(
        description=_("Retry delivery of the selected failed messages"), permissions=["change"]
    )
    def retry_delivery(self, request, queryset):
        ids = outbox_retry(message_ids=queryset.values_list("pk", flat=True))
        enqueue_deliveries(ids)
        self.message_user(
            request,
            ngettext(
                "%(count)s message queued for delivery again.",
                "%(count)s messages queued for delivery again.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )


# --- The campaign schedule (django-celery-beat): scoped for specialists ----------------------

from django_celery_beat import admin as beat_admin  # noqa: E402
from django_celery_beat.models import (  # noqa: E402
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from .campaigns.schedule import RUN_TASK  # noqa: E402


def _daily_run_kwargs(user) -> list[str]:
    """The `kwargs` of the daily runs of the merchants the user may see (the schedule stores
    them as `{"merchant_id": pk}`, see `loyalty.campaigns.schedule`)."""
    ids = visible_merchants(user).values_list("pk", flat=True)
    return [json.dumps({"merchant_id": pk}) for pk in ids]


class ScheduleForm(forms.ModelForm):
    """What a specialist may change on a merchant's daily run: when, and whether it runs."""

    class Meta:
        model = PeriodicTask
        fields = ["enabled", "crontab"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["crontab"].required = True


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(NativeTextAdminMixin, beat_admin.PeriodicTaskAdmin):
    """The stock periodic-task admin for superusers. Anyone else sees only the daily campaign
    runs of their own merchants and may change only their crontab and `enabled`: what a task
    runs and for which merchant is not theirs to choose (a task's arguments name a merchant,
    so an editable task could run another merchant's campaigns)."""

    SPECIALIST_FIELDS = ["name", "task", "kwargs", "enabled", "crontab", "last_run_at"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(task=RUN_TASK, kwargs__in=_daily_run_kwargs(request.user))

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return [(None, {"fields": self.SPECIALIST_FIELDS})]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return ["name", "task", "kwargs", "last_run_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = ScheduleForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            return {}
        return actions

    def crontab_translation(self, obj):
        return obj.crontab.human_readable if obj.crontab_id else "—"


class SharedScheduleAdminMixin(NativeTextAdminMixin):
    """Crontab/interval/solar/clocked schedules are shared by every merchant's task that uses
    them: only superusers change or delete them, and the list of tasks using one (which names
    other merchants) is theirs only. Others may add a new schedule and pick it for their run
    (the "+" beside the daily run's crontab), but these tables are the scheduler's internals,
    not a specialist's work: they stay out of a specialist's menu."""

    def get_model_perms(self, request):
        if not request.user.is_superuser:
            return {}
        return super().get_model_perms(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_inlines(self, request, obj):
        return super().get_inlines(request, obj) if request.user.is_superuser else []


for _model, _base in (
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
):
    admin.site.unregister(_model)
    admin.site.register(_model, type(_base.__name__, (SharedScheduleAdminMixin, _base), {}))
