"""Admin of the CRM: clients (list, search by any phone spelling, export), reviews and segments.
The client import (upload, column step, dry run, fixes, confirm, undo) and its runs are in
admin_import_runs.py and admin_import.py; importing this module registers them."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from unfold.contrib.import_export.forms import ExportForm

from onboarding.admin_base import ScopedAdmin

from .admin_import import ImportColumnsMixin
from .admin_import_runs import (
    ClientImportConfirmForm,
    ClientImportForm,
    dry_run_context,
    import_confirm,
)
from .importing import (
    ImportFileError,
    import_batch_create,
    run_now_or_later,
)
from .importing.headers import FIELD_LABELS, SYNONYMS
from .models import Client, ImportBatch, Review, Segment
from .resources import ClientResource, SpreadsheetCSV
from .selectors import client_search_phones


@admin.register(Client)
class ClientAdmin(ImportColumnsMixin, ImportExportMixin, ScopedAdmin):
    """The client base: list, search, import and export. loyalty extends it with the balance,
    purchases and ledger (`loyalty.admin_client.LoyaltyClientAdmin`) and registers that."""

    import_form_class = ClientImportForm
    confirm_form_class = ClientImportConfirmForm
    export_form_class = ExportForm
    resource_classes = [ClientResource]
    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [SpreadsheetCSV, base_formats.XLSX, base_formats.JSON]
    import_template_name = "admin/crm/client/import.html"

    list_display = [
        "phone",
        "full_name",
        "merchant",
        "tier",
        "balance",
        "total_spent",
        "last_purchase_at",
        "source",
    ]
    list_filter = ["merchant", "source", "imported", "tier"]
    search_fields = ["phone", "full_name", "email", "card_code"]
    search_help_text = _("Phone in any format, name, e-mail or card code.")
    list_select_related = ["merchant", "tier"]

    def get_search_results(self, request, queryset, search_term):
        """A term that is a phone number (in any spelling) is an indexed exact match on
        the E.164 phone for the regions of the user's merchants, not a substring scan."""
        phones = client_search_phones(search_term, user=request.user)
        if phones:
            return queryset.filter(phone__in=phones), False
        return super().get_search_results(request, queryset, search_term)

    readonly_fields = [
        "balance",
        "total_spent",
        "purchases_count",
        "first_purchase_at",
        "last_purchase_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["referred_by"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "merchant",
                    "phone",
                    "full_name",
                    "birthday",
                    "gender",
                    "email",
                    "card_code",
                    "consent",
                    "notes",
                ]
            },
        ),
        (
            _("Program"),
            {
                "fields": [
                    "tier",
                    "tier_locked",
                    "joined_at",
                    "source",
                    "source_detail",
                    "referred_by",
                    "imported",
                ]
            },
        ),
        (
            _("Figures"),
            {
                "fields": [
                    "balance",
                    "total_spent",
                    "purchases_count",
                    "first_purchase_at",
                    "last_purchase_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    # --- permissions: import = may add clients; export = may change them (PII) -------------

    def has_import_permission(self, request):
        return self.has_add_permission(request)

    def has_export_permission(self, request):
        return self.has_change_permission(request)

    # --- import: the library's upload → dry-run preview → confirm, through crm.importing ---

    def create_import_form(self, request):
        kwargs = self.get_import_form_kwargs(request)
        # Opened from the merchant's journey: the merchant comes in the URL, chosen already.
        merchant = request.GET.get("merchant", "")
        if merchant.isdigit():
            kwargs.setdefault("initial", {})["merchant"] = int(merchant)
        return self.get_import_form_class(request)(
            self.get_import_formats(),
            self.get_import_resource_classes(request),
            user=request.user,
            **kwargs,
        )

    def _import_context(self, request, form, **extra):
        context = self.admin_site.each_context(request)
        context.update(
            title=_("Import clients"),
            form=form,
            opts=self.model._meta,
            media=self.media + form.media,
            fields_list=[
                (str(FIELD_LABELS[f]), list(SYNONYMS[f][:3])) for f in FIELD_LABELS if f in SYNONYMS
            ],
            import_error_display=self.import_error_display,
            **extra,
        )
        request.current_app = self.admin_site.name
        return context

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                batch = import_batch_create(
                    merchant=form.cleaned_data["merchant"],
                    user=request.user,
                    upload=upload,
                    file_name=upload.name,
                    dry_run=True,
                    overwrite=form.cleaned_data["overwrite"],
                )
            except ImportFileError as exc:
                form.add_error("import_file", str(exc))
            else:
                response = self.import_columns_start(request, batch, form)
                if response is not None:
                    return response
        return TemplateResponse(
            request, [self.import_template_name], self._import_context(request, form)
        )

    def import_dry_run_start(self, request, batch: ImportBatch):
        """Run the dry run of a mapped upload: its preview, or its run page when it is big."""
        form = self.create_import_form(request)
        queued = run_now_or_later(batch)
        batch.refresh_from_db()
        if queued and batch.status != ImportBatch.Status.FAILED:
            messages.info(
                request,
                _(
                    "The file is big: the dry run runs in the background. Confirm it here "
                    "when it is done."
                ),
            )
            return HttpResponseRedirect(reverse("admin:crm_importbatch_change", args=[batch.pk]))
        if batch.status == ImportBatch.Status.FAILED:
            messages.error(request, batch.message)  # unreadable, or the queue was not reachable
            return TemplateResponse(
                request, [self.import_template_name], self._import_context(request, form)
            )
        return TemplateResponse(
            request,
            [self.import_template_name],
            self._import_context(request, form, **dry_run_context(batch)),
        )

    def process_import(self, request, **kwargs):
        if request.method != "POST" or not self.has_import_permission(request):
            raise PermissionDenied
        form = ClientImportConfirmForm(request.POST)
        if not form.is_valid():
            return HttpResponseRedirect(reverse("admin:crm_client_import"))
        return import_confirm(request, form.cleaned_data["batch"])


@admin.register(Review)
class ReviewAdmin(ScopedAdmin):
    list_display = ["merchant", "client", "platform", "rating", "created_at"]
    list_filter = ["merchant", "platform", "rating"]
    search_fields = ["client__phone", "text"]
    list_select_related = ["merchant", "client"]
    raw_id_fields = ["client", "purchase"]


@admin.register(Segment)
class SegmentAdmin(ScopedAdmin):
    list_display = ["name", "merchant", "kind"]
    list_filter = ["merchant", "kind"]
