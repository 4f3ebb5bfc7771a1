"""Admin of the client import: the upload and confirm forms of the client list's import, the dry-run
preview, and the import runs (report, progress, confirm, fixes, undo)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.contrib.import_export.forms import ImportForm

from onboarding.access import visible_merchants
from onboarding.admin_base import ScopedAdmin
from onboarding.models import Merchant

from .admin_import import ImportBatchActionsMixin
from .importing import (
    ImportFileError,
    import_batch_confirm,
    import_batch_progress,
    import_batches_mark_stale,
    import_report_csv,
    run_now_or_later,
)
from .importing.fixes import fix_rows_context
from .importing.undo import import_run_can_undo
from .models import ImportBatch

PREVIEW_ERRORS = 200


class ClientImportForm(ImportForm):
    """The library's upload form plus the merchant (one the user may see) and the overwrite
    option. The format is detected from the content; the select only helps the library's JS."""

    merchant = forms.ModelChoiceField(queryset=Merchant.objects.none(), label=_("Merchant"))
    overwrite = forms.BooleanField(
        required=False,
        label=_("Overwrite existing clients' fields"),
        help_text=_("Off: existing clients only get their empty fields filled."),
    )

    def __init__(self, formats, resources, *, user, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["merchant"].queryset = visible_merchants(user).order_by("name")
        self.fields["format"].required = False
        from unfold.widgets import UnfoldAdminSelectWidget, UnfoldBooleanWidget

        self.fields["merchant"].widget = UnfoldAdminSelectWidget(
            choices=self.fields["merchant"].choices
        )
        self.fields["overwrite"].widget = UnfoldBooleanWidget()


class ClientImportConfirmForm(forms.Form):
    batch = forms.IntegerField(widget=forms.HiddenInput())


class PreviewRow:
    def __init__(self, action: str, diff: list):
        self.import_type = {"new": "new", "update": "update"}.get(action, "skip")
        self.diff = diff


class PreviewResult:
    """What the library's preview template reads (`diff_headers`, `valid_rows`)."""

    diff_headers = [_("row"), _("phone"), _("full name"), _("birthday"), _("e-mail"), _("points")]

    def __init__(self, report: dict):
        self.valid_rows = [
            PreviewRow(
                p["action"],
                [p["row"], p["phone"], p["full_name"], p["birthday"], p["email"], p["points"]],
            )
            for p in report.get("preview", [])
        ]

    def has_errors(self):
        return False

    def has_validation_errors(self):
        return False


def dry_run_context(batch: ImportBatch) -> dict:
    report = batch.report or {}
    return {
        "batch": batch,
        "report": report,
        **fix_rows_context(batch),
        "result": PreviewResult(report),
        "preview_errors": report.get("errors", [])[:PREVIEW_ERRORS],
        "confirm_form": ClientImportConfirmForm(initial={"batch": batch.pk}),
    }


def import_confirm(request, batch_id: int):
    """Apply a finished dry run for real (the user must see its merchant)."""
    batch = get_object_or_404(
        ImportBatch.objects.filter(merchant__in=visible_merchants(request.user)), pk=batch_id
    )
    try:
        run = import_batch_confirm(batch=batch, user=request.user)
    except ImportFileError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[batch.pk]))
    queued = run_now_or_later(run)
    run.refresh_from_db()
    if queued and run.status != ImportBatch.Status.FAILED:
        messages.info(request, _("The import runs in the background; progress is shown here."))
        return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[run.pk]))
    if run.status == ImportBatch.Status.DONE:
        messages.success(
            request,
            _(
                "Import done: %(created)s created, %(updated)s updated, %(skipped)s skipped, "
                "%(rejected)s rejected."
            )
            % {
                "created": run.created,
                "updated": run.updated,
                "skipped": run.skipped,
                "rejected": run.rejected,
            },
        )
    else:
        messages.error(request, run.message)
    return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[run.pk]))


@admin.register(ImportBatch)
class ImportBatchAdmin(ImportBatchActionsMixin, ScopedAdmin):
    """Import runs: who, when, which file, counts, status, live progress and the error report."""

    change_form_template = "admin/crm/importbatch/change_form.html"
    list_display = [
        "file_name",
        "merchant",
        "status",
        "progress_display",
        "rows_total",
        "created",
        "updated",
        "skipped",
        "rejected",
        "created_by",
        "created_at",
        "report_link",
    ]
    list_filter = ["merchant", "status", "dry_run"]
    list_select_related = ["merchant", "created_by"]
    search_fields = ["file_name"]
    fields = [
        "merchant",
        "file_name",
        "file_size",
        "dry_run",
        "overwrite",
        "status",
        "progress",
        "rows_total",
        "created",
        "updated",
        "skipped",
        "rejected",
        "message",
        "created_by",
        "created_at",
        "finished_at",
        "dry_run_of",
        "undone_at",
        "undone_by",
        "report_link",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("progress"))
    def progress_display(self, obj):
        return f"{import_batch_progress(obj)['progress']}%"

    @admin.display(description=_("error report"))
    def report_link(self, obj):
        if not obj.pk or obj.status in (ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING):
            return "—"
        url = reverse("admin:crm_importbatch_report", args=[obj.pk])
        count = len((obj.report or {}).get("errors", []))
        return format_html('<a href="{}">{} ({})</a>', url, _("CSV"), count)

    def get_urls(self):
        urls = super().get_urls()
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/report.csv", view(self.report_view), name="crm_importbatch_report"),
            path("<int:pk>/progress/", view(self.progress_view), name="crm_importbatch_progress"),
            path("<int:pk>/confirm/", view(self.confirm_view), name="crm_importbatch_confirm"),
        ] + urls

    def _batch(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def report_view(self, request, pk):
        batch = self._batch(request, pk)
        response = HttpResponse(import_report_csv(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-errors.csv"'
        return response

    def progress_view(self, request, pk):
        import_batches_mark_stale()
        return JsonResponse(import_batch_progress(self._batch(request, pk)))

    def confirm_view(self, request, pk):
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        if not request.user.has_perm("crm.add_client"):
            raise PermissionDenied
        return import_confirm(request, self._batch(request, pk).pk)

    def changelist_view(self, request, extra_context=None):
        import_batches_mark_stale()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        import_batches_mark_stale()
        extra_context = extra_context or {}
        batch = self.get_queryset(request).filter(pk=object_id).first()
        if batch is not None:
            extra_context["batch_progress"] = import_batch_progress(batch)
            extra_context["batch_errors"] = (batch.report or {}).get("errors", [])[:PREVIEW_ERRORS]
            extra_context["can_confirm"] = batch.status == ImportBatch.Status.DRY_RUN and (
                request.user.has_perm("crm.add_client")
            )
            extra_context.update(fix_rows_context(batch) if extra_context["can_confirm"] else {})
            extra_context["undo"] = (batch.report or {}).get("undo")
            extra_context["can_undo"] = not import_run_can_undo(batch) and (
                request.user.has_perm("crm.delete_client")
            )
        return super().change_view(request, object_id, form_url, extra_context)
