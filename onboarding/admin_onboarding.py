"""Admin of the checklist workflow: checklist templates and their items, merchant tasks (with the
overdue filter and the fact check), the onboarding log, and the merchant form's onboarding part
(the launch gate and three pages: specialists' progress, the attestation matrix and the staff bonus
report). Training is in admin_training.py, the staff bonus in admin_bonus.py.

Every page and queryset is scoped by `access.visible_merchants`; the rules live in
`checklists`, `training` and `bonus`.

Over 450 lines: the checklist admin and `MerchantOnboardingMixin`, the merchant form's onboarding
pages, which share the badges and the checklist rules; one idea, the onboarding workflow's admin."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from . import bonus, checklists, training
from .access import can_edit_merchant, visible_merchants
from .admin_base import ScopedAdmin, ScopedTabularInline
from .forms import MerchantTaskForm
from .localtime import format_local
from .models import (
    OPEN_TASK_STATUSES,
    BonusPeriod,
    ChecklistTemplate,
    ChecklistTemplateItem,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    OnboardingStatus,
    QuizLink,
    TaskStatus,
)
from .params import day_param, int_param

BADGE = (
    '<span style="display:inline-block;padding:1px 8px;border-radius:999px;'
    'font-size:12px;font-weight:600;background:{};color:{}">{}</span>'
)
# Filter choices come from the (scoped) queryset, never from all merchants.
MERCHANT_FILTER = ("merchant", admin.RelatedOnlyFieldListFilter)
RED = ("#fee2e2", "#b91c1c")
GREEN = ("#dcfce7", "#15803d")
GREY = ("#e5e7eb", "#4b5563")


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


# --- The merchant page: launch gate, tasks, apply-template action, custom pages -------------


class MerchantOnboardingMixin:
    """Mixed into MerchantAdmin."""

    readonly_fields = ["onboarding_log"]
    list_before_template = "admin/onboarding/merchant/list_before.html"

    def get_inlines(self, request, obj):
        inlines = list(super().get_inlines(request, obj))
        if obj is not None:  # tasks exist only once the merchant does
            inlines.append(MerchantTaskInline)
        return inlines

    @admin.display(description=_("Onboarding log"))
    def onboarding_log(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        events = obj.onboarding_events.select_related("actor")[:30]
        if not events:
            return _("No events yet.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
            (
                (
                    format_local(e.created_at, obj),
                    e.get_kind_display(),
                    e.actor.get_username() if e.actor else "—",
                    e.from_status_label,
                    e.to_status_label,
                    e.reason,
                )
                for e in events
            ),
        )
        return format_html('<table class="w-full">{}</table>', rows)

    def save_model(self, request, obj, form, change):
        new_status = obj.onboarding_status
        if change:
            old_status = (
                Merchant.objects.filter(pk=obj.pk)
                .values_list("onboarding_status", flat=True)
                .first()
            )
        else:
            old_status = OnboardingStatus.DRAFT
        obj.onboarding_status = old_status
        super().save_model(request, obj, form, change)
        # The status changes after the checklist rows of the same save are stored, so
        # marking the last tasks done and launching is one save.
        self._status_change = (old_status, new_status) if new_status != old_status else None

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        status_change = getattr(self, "_status_change", None)
        self._status_change = None
        if status_change:
            old_status, new_status = status_change
            checklists.merchant_set_status(
                merchant=form.instance,
                status=new_status,
                actor=request.user,
                override_reason=form.cleaned_data.get("launch_override_reason", ""),
                previous_status=old_status,
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not MerchantTask:
            return super().save_formset(request, form, formset, change)
        tasks = formset.save(commit=False)
        for task in formset.deleted_objects:
            task.delete()
        for task, changed in formset.changed_objects:
            if "status" in changed:
                checklists.task_set_status(
                    task=task, status=task.status, actor=request.user, save=False
                )
        for task in tasks:
            if task.pk is None and task.status == TaskStatus.DONE:
                checklists.task_set_status(
                    task=task, status=task.status, actor=request.user, save=False
                )
            task.save()
        formset.save_m2m()

    # Apply-template actions: one per template, so the choice is one click.
    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            return actions
        for template in ChecklistTemplate.objects.order_by("-is_default", "name"):
            name = f"apply_template_{template.pk}"
            actions[name] = (
                self._apply_template_action(template.pk),
                name,
                _("Apply checklist: %(name)s") % {"name": template.name},
            )
        return actions

    @staticmethod
    def _apply_template_action(template_pk):
        def action(modeladmin, request, queryset):
            template = ChecklistTemplate.objects.get(pk=template_pk)
            created = 0
            for merchant in queryset:
                if not can_edit_merchant(request.user, merchant):
                    continue
                created += len(
                    checklists.template_apply(
                        merchant=merchant, template=template, actor=request.user
                    )
                )
            modeladmin.message_user(
                request,
                ngettext(
                    "Checklist “%(name)s” applied: %(count)d task created.",
                    "Checklist “%(name)s” applied: %(count)d tasks created.",
                    created,
                )
                % {"name": template.name, "count": created},
                messages.SUCCESS,
            )

        return action

    # --- custom pages ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("progress/", wrap(self.progress_view), name="onboarding_progress"),
            path("training-matrix/", wrap(self.matrix_view), name="onboarding_training_matrix"),
            path("staff-bonus/", wrap(self.bonus_view), name="onboarding_staff_bonus"),
            *super().get_urls(),
        ]

    def _page_context(self, request, title):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
        }

    def _pick_merchant(self, request, merchants):
        """The merchant a page shows. A page read falls back to the first visible merchant; a
        change (POST) acts only on the merchant it names, which must be visible — otherwise 404,
        never some other merchant's data."""
        raw = request.POST.get("merchant") if request.method == "POST" else None
        raw = raw or request.GET.get("merchant")
        merchant_id = int_param(raw)
        chosen = merchants.filter(pk=merchant_id).first() if merchant_id else None
        if chosen is None and request.method == "POST":
            raise Http404
        return chosen or merchants.order_by("name").first()

    def progress_view(self, request):
        context = self._page_context(request, _("Onboarding progress"))
        sort = request.GET.get("o", "name")
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        merchants = visible_merchants(request.user)
        context.update(
            rows=checklists.merchants_progress(
                merchants=merchants, sort=key, descending=descending
            ),
            sort=sort,
            columns=[
                ("name", _("Merchant")),
                ("status", _("Status")),
                ("percent", _("Done, %")),
                ("overdue", _("Overdue")),
                ("next_due", _("Next due")),
                ("first_purchase", _("Days to 1st card purchase")),
                ("hundredth_purchase", _("Days to 100th card purchase")),
            ],
        )
        return render(request, "admin/onboarding/progress.html", context)

    def matrix_view(self, request):
        context = self._page_context(request, _("Staff attestation matrix"))
        merchants = visible_merchants(request.user).order_by("name")
        merchant = self._pick_merchant(request, merchants)
        if request.method == "POST" and "create_links" in request.POST:
            # The matrix is where a specialist looks for a new cashier's quiz link; it must
            # not send them to the staff list's actions to make one.
            if merchant is None or not can_edit_merchant(request.user, merchant):
                raise PermissionDenied
            created = training.quiz_links_create_missing(merchant=merchant)
            messages.success(
                request,
                ngettext("%(count)d quiz link created.", "%(count)d quiz links created.", created)
                % {"count": created},
            )
            return HttpResponseRedirect(f"{request.path}?merchant={merchant.pk}")
        matrix = training.attestation_matrix(merchant=merchant) if merchant else None
        links = {}
        if merchant is not None:
            for link in QuizLink.objects.filter(merchant=merchant):
                links[link.staff_id] = request.build_absolute_uri(
                    reverse("onboarding:quiz_home", args=[link.token])
                )
        for row in matrix.rows if matrix else []:
            row.link = links.get(row.staff.pk)
        context.update(
            merchants=merchants,
            merchant=merchant,
            matrix=matrix,
            can_edit=merchant is not None and can_edit_merchant(request.user, merchant),
            links_missing=sum(1 for row in matrix.rows if row.link is None) if matrix else 0,
        )
        return render(request, "admin/onboarding/matrix.html", context)

    def bonus_view(self, request):
        context = self._page_context(request, _("Staff bonus"))
        merchants = visible_merchants(request.user).order_by("name")
        merchant = self._pick_merchant(request, merchants)
        if merchant is None:
            context.update(merchants=merchants, merchant=None)
            return render(request, "admin/onboarding/bonus.html", context)
        raw = request.GET.get("period") or request.POST.get("period") or ""
        day = day_param(raw) or bonus.default_period_day(merchant=merchant)
        if request.method == "POST":
            if not can_edit_merchant(request.user, merchant):
                raise PermissionDenied
            period = bonus.period_for(merchant=merchant, day=day)
            try:
                bonus.bonus_period_close(merchant=merchant, period=period, actor=request.user)
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, _("The period is closed."), messages.SUCCESS)
            query = urlencode({"merchant": merchant.pk, "period": period.start.isoformat()})
            return HttpResponseRedirect(f"{request.path}?{query}")
        period = bonus.period_peek(merchant=merchant, day=day)
        report = bonus.bonus_report(merchant=merchant, period=period)
        export = request.GET.get("export")
        if export in ("csv", "xlsx"):
            filename = f"staff-bonus-{merchant.slug}-{period.start:%Y-%m}.{export}"
            if export == "csv":
                body, ctype = bonus.bonus_export_csv(report), "text/csv; charset=utf-8"
            else:
                body = bonus.bonus_export_xlsx(report)
                ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            response = HttpResponse(body, content_type=ctype)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        context.update(
            merchants=merchants,
            merchant=merchant,
            report=report,
            period=period,
            months=bonus.period_choices(merchant=merchant),
            can_close=(
                period.status == BonusPeriod.Status.OPEN
                and period.end < merchant.local_today()
                and can_edit_merchant(request.user, merchant)
            ),
            query=urlencode({"merchant": merchant.pk, "period": period.start.isoformat()}),
        )
        return render(request, "admin/onboarding/bonus.html", context)


# --- Training -----------------------------------------------------------------------------


# --- Staff bonus periods ------------------------------------------------------------------
