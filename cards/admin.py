"""The specialist's side of the client site: partner certificate batches (create, print,
export), consent history and feedback requests, and the card-page links of a merchant."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from onboarding.access import can_edit_merchant, visible_merchants
from onboarding.admin_base import ScopedAdmin, ScopedTabularInline

from .errors import CardError
from .forms import PartnerBatchForm
from .models import ConsentRecord, FeedbackRequest, PartnerBatch, PartnerCode
from .partners import partner_batch_create, partner_codes_csv


def card_page_links(merchant) -> str:
    """Links to the merchant's public card page and its till poster (HTML, PNG, PDF)."""
    return format_html(
        '<a href="{}" target="_blank">{}</a> · <a href="{}" target="_blank">{}</a> · '
        '<a href="{}">PNG</a> · <a href="{}">PDF</a>',
        reverse("cards:join", args=[merchant.slug]),
        _("Card page"),
        reverse("cards:poster", args=[merchant.slug]),
        _("Poster"),
        reverse("cards:poster_file", args=[merchant.slug, "png"]),
        reverse("cards:poster_file", args=[merchant.slug, "pdf"]),
    )


class PartnerCodeInline(ScopedTabularInline):
    model = PartnerCode
    fields = ["code", "redeemed_at", "redeemed_by", "redeemed_via", "certificate"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("redeemed_by", "certificate")


@admin.register(PartnerBatch)
class PartnerBatchAdmin(ScopedAdmin):
    list_display = ["partner_name", "merchant", "size", "redeemed", "created_at", "files"]
    list_filter = [("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["partner_name"]
    list_select_related = ["merchant"]
    readonly_fields = ["merchant", "partner_name", "campaign", "size", "created_by", "created_at"]
    fields = readonly_fields
    inlines = [PartnerCodeInline]

    def get_queryset(self, request):
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .annotate(_redeemed=Count("codes", filter=Q(codes__redeemed_at__isnull=False)))
        )

    @admin.display(description=_("redeemed"))
    def redeemed(self, obj):
        return obj._redeemed

    @admin.display(description=_("Codes"))
    def files(self, obj):
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}" target="_blank">{}</a>',
            reverse("admin:cards_partnerbatch_csv", args=[obj.pk]),
            reverse("admin:cards_partnerbatch_print", args=[obj.pk]),
            _("Print"),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/codes.csv",
                self.admin_site.admin_view(self.csv_view),
                name="cards_partnerbatch_csv",
            ),
            path(
                "<int:pk>/print/",
                self.admin_site.admin_view(self.print_view),
                name="cards_partnerbatch_print",
            ),
            *super().get_urls(),
        ]

    def _batch(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request).select_related("merchant"), pk=pk)

    def csv_view(self, request, pk):
        batch = self._batch(request, pk)
        response = HttpResponse(
            "\ufeff" + partner_codes_csv(batch=batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{batch.merchant.slug}-partner-{batch.pk}.csv"'
        )
        return response

    def print_view(self, request, pk):
        batch = self._batch(request, pk)
        join = request.build_absolute_uri(reverse("cards:join", args=[batch.merchant.slug]))
        return render(
            request,
            "cards/partner_print.html",
            {"batch": batch, "codes": batch.codes.order_by("pk"), "join": join},
        )

    def add_view(self, request, form_url="", extra_context=None):
        """A batch is created by the service (campaign + N codes), not by a model form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        merchants = visible_merchants(request.user).order_by("name")
        form = PartnerBatchForm(request.POST or None)
        merchant_id = request.POST.get("merchant") or request.GET.get("merchant")
        if request.method == "POST" and form.is_valid():
            merchant = merchants.filter(pk=merchant_id).first() if merchant_id else None
            if merchant is None or not can_edit_merchant(request.user, merchant):
                form.add_error(None, _("Choose a merchant you work with."))
            else:
                try:
                    batch = partner_batch_create(
                        merchant=merchant, created_by=request.user, **form.cleaned_data
                    )
                except CardError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(
                        request,
                        _("%(n)s codes created for %(partner)s.")
                        % {"n": batch.size, "partner": batch.partner_name},
                    )
                    return redirect("admin:cards_partnerbatch_change", batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("New partner certificate batch"),
            "form": form,
            "merchants": merchants,
            "merchant_id": str(merchant_id or ""),
            "opts": self.model._meta,
        }
        return render(request, "cards/admin_partner_batch_add.html", context)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ScopedAdmin):
    list_display = ["created_at", "client", "given", "source", "ip"]
    list_filter = ["given"]
    search_fields = ["client__phone", "source"]
    list_select_related = ["client"]
    readonly_fields = ["client", "given", "source", "ip", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(FeedbackRequest)
class FeedbackRequestAdmin(ScopedAdmin):
    list_display = ["created_at", "client", "merchant", "sequence", "answered_at", "review"]
    list_filter = [("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["client__phone"]
    list_select_related = ["client", "merchant", "review"]
    readonly_fields = [
        "merchant",
        "client",
        "sequence",
        "purchase",
        "review",
        "created_at",
        "answered_at",
        "dismissed_at",
    ]

    def has_add_permission(self, request):
        return False
