"""Admin of the checklist workflow: checklist templates and their items, merchant tasks (with the
overdue filter and the fact check) and the onboarding log. The merchant form's onboarding part is
in admin_merchant_pages.py, training in admin_training.py, the staff bonus in admin_bonus.py.

Every page and queryset is scoped by `access.visible_merchants`; the rules live in
`checklists`, `training` and `bonus`."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.db import models
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from . import checklists
from .admin_base import ScopedAdmin, ScopedTabularInline
from .forms import MerchantTaskForm
from .models import (
    OPEN_TASK_STATUSES,
    ChecklistTemplate,
    ChecklistTemplateItem,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    TaskStatus,
)

BADGE = (
    '<span style="display:inline-block;padding:1px 8px;border-radius:999px;'
    'font-size:12px;font-weight:600;background:{};color:{}">{}</span>'
)
# Filter choices come from the (scoped) queryset, never from all merchants.
MERCHANT_FILTER = ("merchant", admin.RelatedOnlyFieldListFilter)
RED = ("#fee2e2", "#b91c1c")
GREEN = ("#dcfce7", "#15803d")


def badge(text, colours):
    return format_html(BADGE, colours[0], colours[1], text)


def overdue_badge(task: MerchantTask, today: dt.date | None):
    if today is not None and checklists.task_is_overdue(task, today=today):
        days = (today - task.due_date).days
        return badge(_("Overdue %(days)d d") % {"days": days}, RED)
    if task.status == TaskStatus.DONE:
        return badge(_("Done"), GREEN)
    return ""


# --- Checklist templates ------------------------------------------------------------------


class SharedTemplateMixin:
    """Checklist templates are shared by every merchant: specialists read and apply them,
    only superusers change them (so one specialist cannot rewrite everybody's plan)."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class ChecklistTemplateItemInline(SharedTemplateMixin, ScopedTabularInline):
    model = ChecklistTemplateItem
    fields = [
        "position", "side", "title", "required", "due_offset_days", "integration", "fact",
        "fact_threshold", "description",
    ]  # fmt: skip


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(SharedTemplateMixin, ScopedAdmin):
    list_display = ["name", "is_default", "items_count", "required_count"]
    search_fields = ["name"]
    inlines = [ChecklistTemplateItemInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_items=Count("items"), n_required=Count("items", filter=Q(items__required=True))
            )
        )

    @admin.display(description=_("items"), ordering="n_items")
    def items_count(self, obj):
        return obj.n_items

    @admin.display(description=_("required"), ordering="n_required")
    def required_count(self, obj):
        return obj.n_required


# --- Merchant tasks -----------------------------------------------------------------------


class MerchantTaskInline(ScopedTabularInline):
    """The checklist tab: one compact row per task; the rest of a task (side, login,
    attachment) is edited on its own page."""

    model = MerchantTask
    form = MerchantTaskForm
    fields = [
        "state",
        "title",
        "status",
        "due_date",
        "responsible_name",
        "fact_override_reason",
        "comment",
        "completed",
    ]
    readonly_fields = ["state", "completed"]
    tab = True
    show_change_link = True
    verbose_name_plural = _("Onboarding checklist")
    formfield_overrides = {
        **ScopedTabularInline.formfield_overrides,
        # One-line inputs: a textarea per row made each row ~265 px high.
        models.TextField: {"widget": UnfoldAdminTextInputWidget},
    }

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant", "completed_by")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "title" and field is not None:
            field.widget = UnfoldAdminTextareaWidget(attrs={"rows": 2, "class": "ob-task-title"})
        return field

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.pk is None:
            return ""
        parts = [overdue_badge(obj, obj.merchant.local_today())]
        if obj.fact:
            parts.append(
                format_html(
                    '<span class="ob-fact" title="{}">⚙ {}</span>',
                    _("Ticked by itself when the data shows it"),
                    obj.get_fact_display(),
                )
            )
        return format_html_join(" ", "{}", ((p,) for p in parts if p))

    @admin.display(description=_("completed"))
    def completed(self, obj):
        if obj.pk is None or obj.completed_at is None:
            return "—"
        who = obj.completed_by.get_username() if obj.completed_by else "—"
        return f"{obj.completed_at:%Y-%m-%d} · {who}"


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        merchants = Merchant.objects.filter(pk__in=queryset.values("merchant_id").distinct())
        condition = checklists.overdue_condition(merchants)
        return queryset.filter(condition) if self.value() == "yes" else queryset.exclude(condition)


@admin.register(MerchantTask)
class MerchantTaskAdmin(ScopedAdmin):
    form = MerchantTaskForm
    list_display = [
        "title",
        "merchant",
        "side",
        "required",
        "due_date",
        "status",
        "state",
        "responsible_name",
    ]
    list_editable = ["status"]
    list_filter = [OverdueFilter, "status", "side", "required", MERCHANT_FILTER]
    search_fields = ["title", "comment", "responsible_name"]
    list_select_related = ["merchant"]
    readonly_fields = ["completed_by", "completed_at", "template_item"]
    actions = ["mark_done"]

    @admin.display(description=_("state"))
    def state(self, obj):
        return overdue_badge(obj, obj.merchant.local_today())

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=MerchantTaskForm, **kwargs)

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data or not change:
            checklists.task_set_status(task=obj, status=obj.status, actor=request.user, save=False)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Mark selected tasks done"), permissions=["change"])
    def mark_done(self, request, queryset):
        count = 0
        for task in queryset.filter(status__in=OPEN_TASK_STATUSES):
            checklists.task_set_status(task=task, status=TaskStatus.DONE, actor=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d task marked done.", "%(count)d tasks marked done.", count)
            % {"count": count},
        )


@admin.register(OnboardingEvent)
class OnboardingEventAdmin(ScopedAdmin):
    list_display = ["created_at", "merchant", "kind", "actor", "status_from", "status_to", "reason"]
    list_filter = ["kind", MERCHANT_FILTER]

    @admin.display(description=_("from"), ordering="from_status")
    def status_from(self, obj):
        return obj.from_status_label or "—"

    @admin.display(description=_("to"), ordering="to_status")
    def status_to(self, obj):
        return obj.to_status_label or "—"

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.name != "id"]
        return [{"from_status": "status_from", "to_status": "status_to"}.get(n, n) for n in names]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    list_select_related = ["merchant", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
