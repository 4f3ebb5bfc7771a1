"""The column mapping of an import run: what the specialist (admin mapping step) or the command
line (`--map`, `--preset`, `--ignore`) decided, saved per merchant and reused for files with the
same columns.

A run's mapping is `ImportBatch.mapping`: {"columns": {field: column}, "ignore": [column, ...],
"notes": [column, ...], "preset": name}; a column is its header text or its index. "notes" are the
columns kept as the client's note («Column: value», one a line). Anything left open is decided by
`detect` (headers, then content)."""

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ImportBatch, ImportMapping
from onboarding.access import visible_merchants

from . import headers as h
from .choice import ColumnChoice, reason_lines
from .errors import ImportFileError
from .presets import PRESETS
from .readers import open_table

IGNORE = ""
NOTE = "__note__"  # the mapping step's choice "keep as note"
SAMPLES_PER_COLUMN = 3
# Names the command line accepts for each field, besides the field's own name.
FIELD_ALIASES = {
    "name": h.FULL_NAME,
    "fio": h.FULL_NAME,
    "card": h.CARD,
    "source": h.SOURCE,
    "dob": h.BIRTHDAY,
    "mail": h.EMAIL,
    "e-mail": h.EMAIL,
}


def run_options(batch: ImportBatch) -> dict:
    """The keyword arguments of `clients_import` that carry a run's column choice."""
    mapping = batch.mapping or {}
    return {
        "column_map": mapping.get("columns") or None,
        "ignore_columns": mapping.get("ignore") or (),
        "note_columns": mapping.get("notes") or (),
        "preset": mapping.get("preset") or "",
        "fixes": batch.fixes or None,
    }


def mapping_from_cli(
    items: list[str], *, ignore: list[str] = (), preset: str = "", notes: list[str] = ()
) -> dict:
    """{"columns", "ignore", "notes", "preset"} from `--map field=column` items and `--note
    column` ones; ValueError with a clear message for an unknown field, a repeated field, a
    missing '=' or a column both mapped and kept as a note."""
    columns: dict[str, str] = {}
    for item in items or ():
        key, sep, column = item.partition("=")
        if not sep or not column.strip():
            raise ValueError(
                _('--map takes field=column, e.g. phone="Моб. тел." (got “%(item)s”).')
                % {"item": item}
            )
        field_name = key.strip().lower().replace(" ", "_")
        field_name = FIELD_ALIASES.get(field_name, field_name)
        if field_name not in h.FIELD_LABELS:
            raise ValueError(
                _("Unknown field “%(field)s”. Fields: %(fields)s.")
                % {"field": key.strip(), "fields": ", ".join(h.FIELD_LABELS)}
            )
        if field_name in columns:
            raise ValueError(_("Field “%(field)s” is mapped twice.") % {"field": field_name})
        columns[field_name] = column.strip().strip('"“”«»')
    kept = []
    for column in notes or ():
        column = column.strip().strip('"“”«»')
        if not column:
            raise ValueError(_('--note takes a column, e.g. --note "Комментарий".'))
        if h.normalize_header(column) in {h.normalize_header(c) for c in columns.values()}:
            raise ValueError(
                _("Column “%(column)s” cannot be both a field and a note.") % {"column": column}
            )
        if column not in kept:
            kept.append(column)
    mapping = {"columns": columns, "ignore": list(ignore or ()), "preset": preset or ""}
    if kept:
        mapping["notes"] = kept
    return mapping


def columns_key(headers: list) -> str:
    text = "\x1f".join(h.normalize_header(c) for c in headers)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ColumnRow:
    index: int
    header: str
    samples: list
    field: str  # "" = ignored, NOTE = kept as a note
    reason: str


@dataclass
class MappingProposal:
    columns: list  # ColumnRow, in file order
    has_header: bool
    header_row: int
    sheet: str
    saved: bool  # the choice comes from the merchant's saved mapping
    reasons: list  # choice.reason_lines


def mapping_propose(*, batch: ImportBatch, preset: str = "") -> MappingProposal:
    """What the mapping step shows for a stored upload: each column with three sample values
    and its field — from the merchant's saved mapping for these columns if there is one, else
    from the detection. Raises ImportFileError when the file cannot be read."""
    merchant = batch.merchant
    saved = None
    options = run_options(batch)
    if preset:
        options["preset"] = preset
    choose = ColumnChoice(
        region=merchant.country,
        today=merchant.local_today(),
        column_map=options["column_map"],
        ignored=options["ignore_columns"],
        preset=options["preset"],
        notes=options["note_columns"],
    )
    table = open_table(
        batch.file.path, file_name=batch.file_name, region=merchant.country, names=choose.names
    )
    try:
        if not options["column_map"] and not preset:
            saved = ImportMapping.objects.filter(
                merchant=merchant, columns_key=columns_key(table.headers)
            ).first()
            if saved is not None:
                choose = ColumnChoice(
                    region=merchant.country,
                    today=merchant.local_today(),
                    column_map={f: int(i) for f, i in saved.mapping.get("columns", {}).items()},
                    ignored=[int(i) for i in saved.mapping.get("ignore", [])],
                    preset="",
                    notes=[int(i) for i in saved.mapping.get("notes", [])],
                )
        try:
            detection = choose(table)
        except ImportFileError:
            detection = None
        fields = {i: f for f, i in detection.mapping.items()} if detection else {}
        if detection:
            fields.update({i: NOTE for i in detection.notes})
        reasons = detection.reasons if detection else {}
        rows = []
        for index, header in enumerate(table.headers):
            samples = []
            for cells in table.sample:
                value = cells[index] if index < len(cells) else None
                text = "" if value is None else str(value).strip()
                if text:
                    samples.append(text[:60])
                if len(samples) >= SAMPLES_PER_COLUMN:
                    break
            field_name = fields.get(index, IGNORE)
            reason = _("kept as a note") if field_name == NOTE else reasons.get(field_name, "")
            rows.append(ColumnRow(index, header, samples, field_name, reason))
        return MappingProposal(
            columns=rows,
            has_header=table.has_header,
            header_row=table.header_row,
            sheet=table.sheet,
            saved=saved is not None,
            reasons=reason_lines(detection, table.headers) if detection else [],
        )
    finally:
        if table.close:
            table.close()


def mapping_apply(*, batch: ImportBatch, user, choices: dict, headers: list) -> dict:
    """Record the specialist's choice ({column index: field, "" to ignore, NOTE to keep as the
    client's note}) on a queued dry run and save it for the merchant. Raises ImportFileError (nothing saved) when the phone column is not
    chosen, a field is chosen twice, or the user may not see the merchant."""
    if user is not None and not visible_merchants(user).filter(pk=batch.merchant_id).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    if batch.status != ImportBatch.Status.PENDING or not batch.dry_run:
        raise ImportFileError(_("The columns can be chosen only before the dry run starts."))
    columns: dict[str, int] = {}
    ignore: list[int] = []
    notes: list[int] = []
    for index, field_name in sorted(choices.items()):
        if not field_name:
            ignore.append(index)
            continue
        if field_name == NOTE:
            notes.append(index)
            continue
        if field_name not in h.FIELD_LABELS:
            raise ImportFileError(_("Unknown field “%(field)s”.") % {"field": field_name})
        if field_name in columns:
            raise ImportFileError(
                _("The field “%(field)s” is chosen for two columns; keep one.")
                % {"field": h.FIELD_LABELS[field_name]}
            )
        columns[field_name] = index
    if h.PHONE not in columns:
        raise ImportFileError(_("Choose the column that holds the phone number."))
    mapping = {"columns": columns, "ignore": ignore, "preset": ""}
    if notes:
        mapping["notes"] = notes
    with transaction.atomic():
        ImportBatch.objects.filter(pk=batch.pk).update(mapping=mapping)
        ImportMapping.objects.update_or_create(
            merchant_id=batch.merchant_id,
            columns_key=columns_key(headers),
            defaults={"headers": list(headers), "mapping": mapping, "updated_by": user},
        )
    batch.mapping = mapping
    return mapping


def preset_choices() -> list[tuple[str, str]]:
    return [(p.name, p.label) for p in PRESETS.values()]


def mapping_refuse(*, batch: ImportBatch, message: str) -> None:
    """End an upload that cannot be mapped (unreadable file): failed with the message, its
    stored file deleted — as a dry run that failed."""
    from .batches import import_upload_discard  # batches imports this module

    now = timezone.now()
    ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.PENDING).update(
        status=ImportBatch.Status.FAILED,
        message=message,
        report={"file_error": message},
        finished_at=now,
        heartbeat_at=now,
    )
    batch.refresh_from_db()
    import_upload_discard(batch=batch)
