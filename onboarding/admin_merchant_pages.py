"""The merchant form's onboarding part, mixed into MerchantAdmin: the launch gate, the tasks
inline, the apply-template action, the onboarding log and three pages (specialists' progress, the
attestation matrix and the staff bonus report). Scoped by `access.visible_merchants`; the rules
live in `checklists`, `training` and `bonus`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import bonus, checklists, training
from .access import can_edit_merchant, visible_merchants
from .admin_onboarding import MerchantTaskInline
from .localtime import format_local
from .models import (
    BonusPeriod,
    ChecklistTemplate,
    Merchant,
    MerchantTask,
    OnboardingStatus,
    QuizLink,
    TaskStatus,
)
from .params import day_param, int_param


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
