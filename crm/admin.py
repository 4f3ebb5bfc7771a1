from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from onboarding.admin_base import ScopedAdmin

from .models import Client, ImportBatch, Review, Segment


@admin.register(Client)
class ClientAdmin(ScopedAdmin):
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
    list_select_related = ["merchant", "tier"]
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


@admin.register(ImportBatch)
class ImportBatchAdmin(ScopedAdmin):
    list_display = [
        "file_name",
        "merchant",
        "status",
        "rows_total",
        "created",
        "updated",
        "skipped",
        "rejected",
        "created_by",
        "created_at",
    ]
    list_filter = ["merchant", "status"]
    list_select_related = ["merchant", "created_by"]
