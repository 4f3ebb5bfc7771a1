"""The import's column step in the admin, between upload and dry run: each column of the file
with three sample values and the field it goes to (found by headers and content, or the
merchant's saved mapping for these columns), changeable, "ignore" or "keep as note" for any
column; a preset can be applied. The choice is saved for the merchant and the dry run starts with it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from onboarding.access import visible_merchants

from .importing import ImportFileError
from .importing.fixes import import_row_fix
from .importing.headers import FIELD_LABELS
from .importing.mapping import (
    NOTE,
    mapping_apply,
    mapping_propose,
    mapping_refuse,
    preset_choices,
)
from .importing.undo import import_run_undo, undo_summary
from .models import ImportBatch


class ImportColumnsMixin:
    """Adds `…/client/import/<batch>/columns/` to the client admin."""

    import_columns_template = "admin/crm/client/import_columns.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_columns_view)
        return [
            path("import/<int:pk>/columns/", view, name="crm_client_import_columns"),
            *super().get_urls(),
        ]

    def _pending_batch(self, request, pk) -> ImportBatch:
        if not self.has_import_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(
            ImportBatch.objects.filter(merchant__in=visible_merchants(request.user)).select_related(
                "merchant"
            ),
            pk=pk,
        )
        if batch.status != ImportBatch.Status.PENDING or not batch.dry_run or not batch.file:
            raise Http404(_("This upload's columns can no longer be chosen."))
        return batch

    def import_columns_start(self, request, batch: ImportBatch, form):
        """After the upload: to the column step, or the file's error on the upload form."""
        try:
            mapping_propose(batch=batch)
        except ImportFileError as exc:
            mapping_refuse(batch=batch, message=str(exc))
            form.add_error("import_file", str(exc))
            return None
        return HttpResponseRedirect(reverse("admin:crm_client_import_columns", args=[batch.pk]))

    def import_columns_view(self, request, pk):
        batch = self._pending_batch(request, pk)
        preset = request.POST.get("preset") or request.GET.get("preset") or ""
        try:
            proposal = mapping_propose(batch=batch, preset=preset)
        except ImportFileError as exc:
            mapping_refuse(batch=batch, message=str(exc))
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:crm_client_import"))
        error = ""
        if request.method == "POST" and "apply" in request.POST:
            choices = {}
            for column in proposal.columns:
                choices[column.index] = request.POST.get(f"column-{column.index}", "")
                column.field = choices[column.index]
            try:
                mapping_apply(
                    batch=batch,
                    user=request.user,
                    choices=choices,
                    headers=[c.header for c in proposal.columns],
                )
            except ImportFileError as exc:
                error = str(exc)
            else:
                return self.import_dry_run_start(request, batch)
        context = self.admin_site.each_context(request)
        context.update(
            title=_("Import clients: columns"),
            opts=self.model._meta,
            batch=batch,
            proposal=proposal,
            fields=[(f, str(label).capitalize()) for f, label in FIELD_LABELS.items()],
            presets=preset_choices(),
            note_choice=NOTE,
            preset=preset,
            error=error,
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_columns_template], context)


class ImportBatchActionsMixin:
    """Fix a rejected row of a dry run (`…/importbatch/<id>/fix/`, JSON for the page's script,
    a redirect otherwise) and undo a finished run (`…/importbatch/<id>/undo/`)."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/fix/", view(self.fix_view), name="crm_importbatch_fix"),
            path("<int:pk>/undo/", view(self.undo_view), name="crm_importbatch_undo"),
            *super().get_urls(),
        ]

    def _batch_for_import(self, request, pk) -> ImportBatch:
        if request.method != "POST" or not request.user.has_perm("crm.add_client"):
            raise PermissionDenied
        return get_object_or_404(
            ImportBatch.objects.filter(merchant__in=visible_merchants(request.user)), pk=pk
        )

    def fix_view(self, request, pk):
        batch = self._batch_for_import(request, pk)
        try:
            row = int(request.POST.get("row", ""))
        except ValueError:
            return JsonResponse(
                {"ok": False, "errors": [{"message": _("No row given.")}]}, status=400
            )
        try:
            result = import_row_fix(batch=batch, user=request.user, row=row, values=request.POST)
        except ImportFileError as exc:
            result = {"ok": False, "row": row, "errors": [{"column": "", "message": str(exc)}]}
        if "json" in request.headers.get("Accept", ""):
            return JsonResponse(result)
        if result["ok"]:
            messages.success(request, _("Row %(row)s fixed; it will be imported.") % {"row": row})
        else:
            messages.error(request, "; ".join(e["message"] for e in result["errors"]))
        return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[batch.pk]))

    def undo_view(self, request, pk):
        batch = self._batch_for_import(request, pk)
        if not request.user.has_perm("crm.delete_client"):
            raise PermissionDenied
        try:
            outcome = import_run_undo(batch=batch, user=request.user)
        except ImportFileError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, undo_summary(outcome))
        return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[batch.pk]))
