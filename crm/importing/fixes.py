"""Fixes in the preview: rejected rows of a dry run corrected in the page, re-validated at once
and kept with the run (`ImportBatch.fixes`: {row number: {field: value}}); the uploaded file stays
as it was, and the confirmed import reads the file with the fixes laid over its rows.

A dry run keeps the cells of its first rejected rows (`report["rejected_rows"]`) so a fix is
validated against the whole row, by the same `RowCleaner` the import uses."""

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import ImportBatch
from onboarding.access import visible_merchants

from .cleaning import RowCleaner
from .errors import ImportFileError
from .headers import FIELD_LABELS

KEEP_REJECTED = 200
# What a person can fix in the page (the values a row is most often rejected for).
FIXABLE = ("phone", "birthday", "email", "gender", "points")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value).strip()


class RecordingCleaner(RowCleaner):
    """A RowCleaner that also keeps the mapped cells of the first KEEP_REJECTED rejected rows."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rejected: list[dict] = []

    def clean(self, number: int, cells: list):
        record, errors = super().clean(number, cells)
        if record is None and len(self.rejected) < KEEP_REJECTED:
            self.rejected.append(
                {
                    "row": number,
                    "values": {
                        f: _cell_text(cells[i]) if i < len(cells) else ""
                        for f, i in self.mapping.items()
                    },
                    "errors": [{"column": c, "message": m} for c, m in errors],
                }
            )
        return record, errors


def rows_with_fixes(rows, fixes: dict | None, mapping: dict[str, int]):
    """The file's rows with the fixes laid over the cells of the fields they correct."""
    if not fixes:
        yield from rows
        return
    wanted = {int(row): values for row, values in fixes.items()}
    for number, cells in rows:
        fix = wanted.get(number)
        if fix:
            cells = list(cells)
            for field_name, value in fix.items():
                index = mapping.get(field_name)
                if index is None:
                    continue
                if index >= len(cells):
                    cells.extend([None] * (index + 1 - len(cells)))
                cells[index] = value
        yield number, cells


def import_row_fix(*, batch: ImportBatch, user, row: int, values: dict) -> dict:
    """Validate a fix of one rejected row of a finished dry run and keep it if the row is now
    valid. Returns {"ok": bool, "row": n, "errors": [{column, message}], "values": {...}};
    raises ImportFileError when the run cannot take fixes."""
    if user is not None and not visible_merchants(user).filter(pk=batch.merchant_id).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    if batch.status != ImportBatch.Status.DRY_RUN:
        raise ImportFileError(_("Rows can be fixed only in a finished dry run."))
    report = batch.report or {}
    entry = next((r for r in report.get("rejected_rows", []) if r["row"] == row), None)
    if entry is None:
        raise ImportFileError(_("Row %(row)s is not among the rejected rows.") % {"row": row})
    mapping = {line["field"]: line["index"] for line in report.get("column_reasons", [])}
    fix = {
        f: str(values[f]).strip()
        for f in FIXABLE
        if f in values and f in mapping and str(values[f]).strip() != entry["values"].get(f, "")
    }
    merged = {**entry["values"], **fix}
    headers = [""] * (max(mapping.values()) + 1)
    for line in report.get("column_reasons", []):
        headers[line["index"]] = line["column"]
    cells = [None] * len(headers)
    for field_name, index in mapping.items():
        cells[index] = merged.get(field_name, "")
    cleaner = RowCleaner(
        mapping=mapping,
        headers=headers,
        region=batch.merchant.country,
        today=batch.merchant.local_today(),
    )
    record, errors = cleaner.clean(row, cells)
    result = {
        "ok": record is not None,
        "row": row,
        "errors": [{"column": c, "message": m} for c, m in errors],
        "values": merged,
    }
    if record is not None:
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
            if locked.status != ImportBatch.Status.DRY_RUN:
                raise ImportFileError(_("Rows can be fixed only in a finished dry run."))
            fixes = dict(locked.fixes or {})
            fixes[str(row)] = fix
            locked.fixes = fixes
            locked.save(update_fields=["fixes"])
        batch.fixes = fixes
    return result


def fixable_fields(report: dict) -> list[tuple[str, str]]:
    """(field, label) of the fixable fields this run's file has columns for."""
    mapped = {line["field"] for line in report.get("column_reasons", [])}
    return [(f, str(FIELD_LABELS[f])) for f in FIXABLE if f in mapped]


def fix_rows_context(batch: ImportBatch) -> dict:
    """What the dry-run pages show to fix rejected rows: each kept row with its values (the
    fix applied, when there is one) and the fields that can be edited."""
    report = batch.report or {}
    fixes = batch.fixes or {}
    fields = fixable_fields(report)
    rows = []
    for entry in report.get("rejected_rows", []):
        fix = fixes.get(str(entry["row"]))
        values = {**entry["values"], **(fix or {})}
        rows.append(
            {
                "row": entry["row"],
                "cells": [(f, label, values.get(f, "")) for f, label in fields],
                "errors": entry["errors"],
                "fixed": fix is not None,
            }
        )
    return {"fix_rows": rows, "fix_fields": fields, "fixed_count": len(fixes)}
