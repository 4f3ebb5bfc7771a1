"""Import columns added by registration: one `FieldSpec` says everything the importer needs to
know about a client field beyond the built-in ones (docs/import.md, "Adding an import column").

A registered field is recognised by its headers (`synonyms`, `hint`) and, if it has a `score`,
by content; it is offered on the mapping step and to `--map`; `clean` turns a cell into the value
(a ValueError rejects the row with its message); the writer fills `client_field` by name with the
same rule as every other field (an existing client's empty field is filled, or overwritten with
"overwrite"; an empty cell never blanks a field) or with the spec's own `merge`, and the run's
undo restores it. Registering only updates the header tables of `headers` (labels and exact
spellings); every other module reads `REGISTERED`."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import headers as h

EMPTY = ("", None)


def text_value(value) -> str:
    """A cell as trimmed text (the default cleaning of a registered field)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def keep_or_fill(new, old, overwrite: bool):
    """The import's rule for a field of an existing client: an empty cell never blanks it, a
    filled field changes only with "overwrite"."""
    if new in EMPTY or (old not in EMPTY and not overwrite):
        return old
    return new


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the key in mappings, reports and `--map NAME=COLUMN`
    label: object  # shown on the mapping step and in reports (a lazy translation)
    synonyms: tuple = ()  # exact headers (any case; normalised by headers.normalize_header)
    hint: str = ""  # a regular expression for a word naming the field inside a longer header
    clean: Callable = text_value  # cell → value; ValueError(message) rejects the row
    client_field: str = ""  # the Client attribute it fills (default: `name`)
    score: Callable | None = None  # content: non-empty sample values → share 0…1, or None
    merge: Callable = keep_or_fill  # (new, old, overwrite) → the value to store

    @property
    def attribute(self) -> str:
        return self.client_field or self.name

    def hint_pattern(self):
        return re.compile(self.hint) if self.hint else None


REGISTERED: dict[str, FieldSpec] = {}


def register_field(spec: FieldSpec) -> FieldSpec:
    """Add a field to the import (at start-up, or in a test). Refuses a name already taken."""
    if spec.name in h.FIELD_LABELS:
        raise ValueError(f"import field “{spec.name}” already exists")
    REGISTERED[spec.name] = spec
    h.FIELD_LABELS[spec.name] = spec.label
    for spelling in spec.synonyms:
        h.LOOKUP.setdefault(h.normalize_header(spelling), spec.name)
    return spec


def unregister_field(name: str) -> None:
    spec = REGISTERED.pop(name, None)
    if spec is None:
        return
    h.FIELD_LABELS.pop(name, None)
    for spelling in spec.synonyms:
        if h.LOOKUP.get(h.normalize_header(spelling)) == name:
            del h.LOOKUP[h.normalize_header(spelling)]


# --- the registered fields ------------------------------------------------------------------
# Add a field here (docs/import.md, "Adding an import column"), e.g.
#   register_field(FieldSpec(name="discount", label=_("discount"), synonyms=("Скидка", "Discount"),
#                            hint=r"скидк|discount", clean=parse_percent))
# None is registered yet: the built-in fields live in `headers`, `detect` and `cleaning`.
