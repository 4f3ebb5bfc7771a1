"""django-import-export resources for clients.

`ClientResource` drives the admin's export (every text cell escaped like `crm.exporting`).
The admin's import does not go through a ModelResource: it routes the library's upload →
dry-run preview → confirm flow to `crm.importing` (one transaction per file, set-based, ~25×
faster than the library's per-row resource; see docs/import.md)."""

import re
from decimal import Decimal

from import_export import fields, resources
from import_export.formats import base_formats
from import_export.widgets import ForeignKeyWidget

from onboarding.models import Merchant

from .exporting import csv_cell, csv_dialect, escape_cell
from .models import Client


class ClientResource(resources.ModelResource):
    merchant = fields.Field(
        attribute="merchant", column_name="merchant", widget=ForeignKeyWidget(Merchant, "slug")
    )

    class Meta:
        model = Client
        fields = (
            "merchant",
            "phone",
            "full_name",
            "birthday",
            "email",
            "gender",
            "card_code",
            "source",
            "source_detail",
            "balance",
            "imported",
            "joined_at",
            "created_at",
            "notes",
        )
        export_order = fields
        import_id_fields = ("merchant", "phone")

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if field.attribute == "phone":
            return value  # E.164: `+` and digits, never a formula
        return escape_cell(value)


_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


def _with_decimal_mark(value, decimal_mark: str):
    if isinstance(value, Decimal | float):
        return csv_cell(value, decimal_mark=decimal_mark)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return value.replace(".", decimal_mark)
    return value


class SpreadsheetCSV(base_formats.CSV):
    """The admin's CSV export (django-import-export) in the same dialect as our own CSVs
    (`crm.exporting`): BOM, the UI language's separator and decimal mark. Here, with the admin's
    resources, so that `crm.exporting` — read by the client import and the reports — does not
    load django-import-export's formats (and openpyxl) in every process."""

    def export_data(self, dataset, **kwargs):
        delimiter, decimal_mark = csv_dialect()
        if decimal_mark != ".":
            for index, row in enumerate(dataset):
                dataset[index] = tuple(_with_decimal_mark(v, decimal_mark) for v in row)
        kwargs.setdefault("delimiter", delimiter)
        return "\ufeff" + super().export_data(dataset, **kwargs)
