"""One import's column choice: the preset's and the hand mapping's column names gathered
before the file is opened (the header finder needs them), `detect`'s scoring applied to the
opened table, and what the report says of the choice (each field's column and reason, the
columns kept as the client's note)."""

import datetime as dt

from django.utils.translation import gettext as _

from . import headers as h
from .detect import Detection, column_label, detect_columns, no_phone_column
from .errors import ImportFileError
from .presets import preset_get


def note_columns(detection: Detection, headers: list, has_header: bool) -> list[tuple[int, str]]:
    """(index, label) of the columns kept as a note, in file order; the label starts each line."""
    return [
        (i, str(headers[i]).strip() if has_header and str(headers[i]).strip() else column_label(i))
        for i in sorted(detection.notes)
    ]


def reason_lines(detection: Detection, headers: list) -> list[dict]:
    """The report's explanation: one line per chosen field, in field order."""
    lines = []
    for field_name in h.FIELD_LABELS:
        index = detection.mapping.get(field_name)
        if index is None:
            continue
        column = headers[index] if index < len(headers) else column_label(index)
        lines.append(
            {
                "field": field_name,
                "column": column,
                "index": index,
                "reason": detection.reasons.get(field_name, ""),
                "text": _("%(field)s: «%(column)s», %(reason)s")
                % {
                    "field": h.FIELD_LABELS[field_name],
                    "column": column,
                    "reason": detection.reasons.get(field_name, ""),
                },
            }
        )
    return lines


class ColumnChoice:
    """The column choice of one import, prepared before the file is opened (the header finder
    needs the preset's and the hand mapping's column names) and applied to the opened table."""

    def __init__(self, *, region: str, today: dt.date, column_map, ignored, preset: str, notes=()):
        self.region, self.today = region, today
        self.column_map = {k: v for k, v in (column_map or {}).items() if v not in (None, "")}
        self.ignored = list(ignored or ())
        self.notes = list(notes or ())
        try:
            self.preset = preset_get(preset) if preset else None
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
        names = {h.normalize_header(v) for v in self.column_map.values() if isinstance(v, str)}
        names |= {h.normalize_header(v) for v in self.notes if isinstance(v, str)}
        if self.preset is not None:
            names |= self.preset.spellings()
        self.names = frozenset(n for n in names if n)

    def __call__(self, table) -> Detection:
        detection = detect_columns(
            headers=table.headers,
            has_header=table.has_header,
            sample=table.sample,
            region=self.region,
            today=self.today,
            chosen=self.column_map,
            ignored=self.ignored,
            preset=self.preset,
            notes=self.notes,
        )
        if h.PHONE not in detection.mapping:
            raise no_phone_column(self.region, [c for c in table.headers if c])
        return detection
