"""Which row is the header and which column holds which client field — from headers and content.

Headers are strong evidence (a known spelling, a preset's spelling, or a word that names the
field such as «моб.» or «birth»); the content of a sample of rows (at most SAMPLE_ROWS, never
the whole file) decides when headers do not: the share of values that are valid phone numbers
for the merchant's country (mobile numbers preferred when there are several phone columns),
e-mail addresses, plausible birth dates, names (1–3 words of letters), genders or card codes.
Points are never taken from content alone: a wrong guess would credit money-like balances, so
a points column needs a header that names it, a preset or a hand mapping. Every choice carries
its reason, which the report shows.

How one import applies it (the preset's and the hand mapping's names, the report's lines):
`choice`."""

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from crm.phones import InvalidPhone, normalize_phone, phone_is_mobile

from . import headers as h
from .cleaning import GENDERS, parse_birthday
from .errors import NoPhoneColumn
from .fields import REGISTERED
from .presets import preset_field
from .workbooks import column_letters

SAMPLE_ROWS = 200
MIN_SHARE = 0.6
MOBILE_SAMPLE = 40

# Words that name a field inside a longer header («Моб. тел.», «Mobile number», «Эл. адрес»).
HINTS = {
    h.PHONE: re.compile(r"тел|моб|сот\b|сотов|phone|mobile|\bcell|msisdn|whatsapp"),
    h.EMAIL: re.compile(r"mail|почт|эл\.? ?адрес"),
    h.BIRTHDAY: re.compile(r"рожд|\bд\.? ?р\b|birth|\bdob\b|bday"),
    h.FULL_NAME: re.compile(r"\bфио\b|клиент|покупател|гость|контакт|\bname\b|customer|client"),
    h.FIRST_NAME: re.compile(r"^имя$|^first|given name"),
    h.LAST_NAME: re.compile(r"фамил|^last ?name|surname"),
    h.MIDDLE_NAME: re.compile(r"отчеств|middle|patronym"),
    h.GENDER: re.compile(r"^пол$|\bпол\b|gender|\bsex\b"),
    h.POINTS: re.compile(r"балл|бонус|\bpoints?\b|bonus"),
    h.CARD: re.compile(r"карт|\bcard"),
    h.SOURCE: re.compile(r"источник|канал|\bsource\b|channel"),
}
# A phone column named as a work or home line loses to a mobile one.
LANDLINE = re.compile(r"раб|work|office|стац|городск|домаш|home|fax|факс")
# Dates that are not birthdays.
NOT_BIRTHDAY = re.compile(r"регистр|созда|посещ|покуп|заказ|измен|visit|creat|regist|last|order")
# Name fields read from content alone only when the file has no name column by header.
NAME_PARTS = (h.FIRST_NAME, h.LAST_NAME, h.MIDDLE_NAME)
HEADER_ONLY = (h.POINTS, h.SOURCE, *NAME_PARTS)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NAME = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?(?: [^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?){0,2}")
_DATE_TEXT = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}([ T].*)?")
_CARD = re.compile(r"[0-9A-Za-z\-]{6,24}")
_NUMBER = re.compile(r"-?\d[\d\s\u00a0]*(?:[.,]\d+)?")


@dataclass
class Detection:
    mapping: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    notes: list[int] = field(default_factory=list)  # columns kept as the client's note


def column_label(index: int) -> str:
    """How a column of a file without a header row is named: «column B»."""
    return _("column %(letters)s") % {"letters": column_letters(index + 1)}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_phone(value, region: str) -> str | None:
    if value is None or value == "" or isinstance(value, dt.date | bool):
        return None
    if isinstance(value, str):
        # Names, e-mails and short codes are not phones: skip the costly full parse for them.
        digits = sum(ch.isdigit() for ch in value)
        if digits < 6 or "@" in value or sum(ch.isalpha() for ch in value) > 3:
            return None
        if _DATE_TEXT.fullmatch(value.strip()):
            return None
    try:
        return normalize_phone(value, region)
    except InvalidPhone:
        return None


# --- the header row ----------------------------------------------------------------------------


def _is_title_cell(value) -> bool:
    text = _text(value)
    return (
        bool(text)
        and not isinstance(value, int | float | dt.date)
        and not (_NUMBER.fullmatch(text) or _EMAIL.fullmatch(text) or _DATE_TEXT.fullmatch(text))
    )


def find_header(rows: list, *, region: str, names: frozenset = frozenset()) -> tuple:
    """(header position or None, first data position) among the first non-blank `rows`.

    The header is the first row naming a phone column (or a column a preset or a hand mapping
    names); otherwise the row just above the first row holding a valid phone number, if it is a
    row of text; otherwise the file has no header row. Raises NoPhoneColumn when no row holds
    a phone number."""
    for pos, (_number, cells) in enumerate(rows):
        if h.looks_like_header(cells) or (
            names and any(h.normalize_header(c) in names for c in cells)
        ):
            return pos, pos + 1
    for pos, (_number, cells) in enumerate(rows):
        if any(_is_phone(c, region) for c in cells):
            if pos > 0:
                above = [c for c in rows[pos - 1][1] if _text(c)]
                if len(above) >= 2 and all(_is_title_cell(c) for c in above):
                    return pos - 1, pos
            return None, pos
    seen = [_text(c) for c in rows[0][1] if _text(c)] if rows else []
    raise no_phone_column(region, seen)


def no_phone_column(region: str, columns: list) -> NoPhoneColumn:
    return NoPhoneColumn(
        _(
            "No phone column found: no column is named as one and none holds enough phone "
            "numbers valid for %(region)s. Columns seen: %(columns)s. Choose the phone column "
            "in the mapping step (or pass --map phone=…)."
        )
        % {"region": region, "columns": ", ".join(f"“{c}”" for c in columns[:30]) or "—"}
    )


# --- content -----------------------------------------------------------------------------------


def _shares(values: list, *, region: str, today: dt.date) -> dict:
    """{field: (share, note)} for one column's non-empty sample values."""
    n = len(values)
    texts = [_text(v) for v in values]
    phones = [p for p in (_is_phone(v, region) for v in values) if p]
    # The mobile share of a sample of the valid numbers (the type check is a full parse).
    checked = phones[:MOBILE_SAMPLE]
    mobile = sum(1 for p in checked if phone_is_mobile(p)) / len(checked) if checked else 0
    emails = sum(1 for t in texts if _EMAIL.fullmatch(t))
    births = 0
    for v, t in zip(values, texts, strict=True):
        if not isinstance(v, dt.date) and not _DATE_TEXT.fullmatch(t):
            continue
        try:
            day = parse_birthday(v, today=today)
        except ValueError:
            continue
        if day is not None and 3 <= (today - day).days / 365.25 <= 110:
            births += 1
    names = [t for t in texts if _NAME.fullmatch(t) and t.lower() not in GENDERS]
    multi = sum(1 for t in names if " " in t)
    distinct = len(set(texts)) / n
    genders = sum(1 for t in texts if t.lower() in GENDERS)
    numbers = sum(
        1
        for v, t in zip(values, texts, strict=True)
        if (isinstance(v, int | float) and not isinstance(v, bool)) or _NUMBER.fullmatch(t)
    )
    codes = [
        t
        for t in texts
        if _CARD.fullmatch(t)
        and any(ch.isdigit() for ch in t)
        and not _DATE_TEXT.fullmatch(t)
        and not _is_phone(t, region)
    ]
    # Card codes share one length (a sum of money or a count does not).
    lengths = [len(t) for t in codes]
    cards = lengths.count(max(set(lengths), key=lengths.count)) if lengths else 0
    name_share = len(names) / n
    return {
        h.PHONE: (len(phones) / n * (0.85 + 0.15 * mobile), (len(phones) / n, mobile)),
        h.EMAIL: (emails / n, emails / n),
        h.BIRTHDAY: (births / n, births / n),
        h.FULL_NAME: (
            name_share
            * (0.6 + 0.4 * (multi / len(names) if names else 0))
            * min(1, distinct * 1.25),
            name_share,
        ),
        h.GENDER: (genders / n if len(set(texts)) <= 6 else 0, genders / n),
        h.POINTS: (numbers / n, numbers / n),
        h.CARD: (cards / n * distinct if cards else 0, cards / n),
    }


def _content_reason(field_name: str, note) -> str:
    if field_name == h.PHONE:
        valid, mobile = note
        text = _("%(share)s %% valid numbers") % {"share": round(valid * 100)}
        if mobile:
            text += ", " + _("%(share)s %% mobile") % {"share": round(mobile * 100)}
        return text
    messages = {
        h.EMAIL: _("%(share)s %% e-mail addresses"),
        h.BIRTHDAY: _("%(share)s %% plausible birth dates"),
        h.FULL_NAME: _("%(share)s %% look like names"),
        h.GENDER: _("%(share)s %% gender values"),
        h.POINTS: _("%(share)s %% numbers"),
        h.CARD: _("%(share)s %% card-like codes"),
    }
    message = messages.get(field_name) or _("%(share)s %% values fit")
    return message % {"share": round(note * 100)}


def _registered_hint(field_name: str):
    spec = REGISTERED.get(field_name)
    return spec.hint_pattern() if spec is not None else None


# --- the columns -------------------------------------------------------------------------------


def resolve_column(ref, headers: list) -> int | None:
    """The index of a column named by its header, its letter («B», «column B») or number («2»)."""
    if isinstance(ref, int):
        return ref if 0 <= ref < len(headers) else None
    wanted = h.normalize_header(ref)
    if not wanted:
        return None
    for index, header in enumerate(headers):
        if h.normalize_header(header) == wanted:
            return index
    letters = wanted.removeprefix("column ").removeprefix("столбец ").strip().upper()
    for index in range(len(headers)):
        if column_letters(index + 1) == letters:
            return index
    if wanted.isdigit() and 1 <= int(wanted) <= len(headers):
        return int(wanted) - 1
    return None


def detect_columns(
    *,
    headers: list,
    has_header: bool,
    sample: list,
    region: str,
    today: dt.date,
    chosen: dict | None = None,
    ignored: list | tuple = (),
    preset=None,
    notes: list | tuple = (),
) -> Detection:
    """Choose a column for each field. `chosen` ({field: column}), `ignored` columns and the
    columns kept as a note (`notes`) come from a hand mapping and are taken as given; `preset`
    adds its spellings as exact headers and may name columns to keep as a note."""
    result = Detection()
    width = len(headers)
    taken: set[int] = set()
    for field_name, ref in (chosen or {}).items():
        index = resolve_column(ref, headers)
        if index is None:
            raise NoPhoneColumn(
                _("Column “%(column)s” (for %(field)s) is not in the file. Columns: %(columns)s.")
                % {
                    "column": ref,
                    "field": h.FIELD_LABELS.get(field_name, field_name),
                    "columns": ", ".join(f"“{c}”" for c in headers[:30] if c) or "—",
                }
            )
        result.mapping[field_name] = index
        result.reasons[field_name] = _("chosen by hand")
        taken.add(index)
    skip = {i for i in (resolve_column(r, headers) for r in ignored) if i is not None}
    for ref in notes:
        index = resolve_column(ref, headers)
        if index is None:
            raise NoPhoneColumn(
                _(
                    "Column “%(column)s” (to keep as a note) is not in the file. Columns: %(columns)s."
                )
                % {"column": ref, "columns": ", ".join(f"“{c}”" for c in headers[:30] if c) or "—"}
            )
        if index in taken:
            raise NoPhoneColumn(
                _("Column “%(column)s” cannot be both a field and a note.") % {"column": ref}
            )
        if index not in result.notes:
            result.notes.append(index)
    skip.update(result.notes)

    columns = [[] for _i in range(width)]
    for cells in sample[:SAMPLE_ROWS]:
        for index in range(min(width, len(cells))):
            value = cells[index]
            if value is not None and _text(value) != "":
                columns[index].append(value)
    candidates = []
    for index in range(width):
        if index in taken or index in skip:
            continue
        header = headers[index] if has_header else ""
        norm = h.normalize_header(header)
        shares = _shares(columns[index], region=region, today=today) if columns[index] else {}
        for spec in REGISTERED.values():
            if spec.score is not None and columns[index]:
                share = spec.score(columns[index])
                shares[spec.name] = (share, share)
        for field_name in h.FIELD_LABELS:
            if field_name in result.mapping:
                continue
            preset_hit = preset_field(preset, header) if preset is not None else None
            from_preset = preset_hit is not None and preset_hit[0] == field_name
            exact = bool(norm) and h.field_for_header(header) == field_name
            hint_re = HINTS.get(field_name) or _registered_hint(field_name)
            hint = bool(norm) and hint_re is not None and bool(hint_re.search(norm))
            content, note = shares.get(field_name, (0.0, 0.0))
            named = from_preset or exact or hint
            if field_name in HEADER_ONLY and not named:
                continue
            if field_name == h.BIRTHDAY and NOT_BIRTHDAY.search(norm) and not exact:
                continue
            if not named and content < MIN_SHARE:
                continue
            score = (
                (3.0 - 0.1 * preset_hit[1] if from_preset else 0)
                + 1.0 * exact
                + 0.5 * hint
                + 1.2 * content
            )
            if field_name == h.PHONE and norm and LANDLINE.search(norm):
                score -= 0.3
            if from_preset:
                why = _("preset %(preset)s, header “%(header)s”") % {
                    "preset": preset.label,
                    "header": header,
                }
            elif exact or hint:
                why = _("header “%(header)s”") % {"header": header}
            else:
                why = ""
            if columns[index] and field_name in shares and content > 0:
                evidence = _content_reason(field_name, note)
                why = f"{why}, {evidence}" if why else evidence
            candidates.append((score, -index, field_name, index, why, named))
    candidates.sort(reverse=True)
    named_fields = set()
    for _score, _neg, field_name, index, why, named in candidates:
        if field_name in result.mapping or index in taken:
            continue
        result.mapping[field_name] = index
        result.reasons[field_name] = why
        taken.add(index)
        if named:
            named_fields.add(field_name)
    # A full name guessed from content next to name parts named by headers is a wrong guess.
    if (
        h.FULL_NAME in result.mapping
        and h.FULL_NAME not in named_fields
        and (any(f in result.mapping for f in NAME_PARTS))
    ):
        taken.discard(result.mapping.pop(h.FULL_NAME))
        result.reasons.pop(h.FULL_NAME)
    if preset is not None and preset.notes and has_header:
        keep = {h.normalize_header(n) for n in preset.notes}
        for i in range(width):
            if i not in taken and i not in skip and h.normalize_header(headers[i]) in keep:
                result.notes.append(i)
    taken.update(result.notes)
    result.unknown = [
        (headers[i] if has_header else column_label(i))
        for i in range(width)
        if i not in taken and (has_header and str(headers[i]).strip() or columns[i])
    ]
    return result
