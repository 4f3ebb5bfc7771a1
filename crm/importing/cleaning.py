"""Row validation: one row of cells → a clean client record, or the list of its errors.

A row with any error is rejected whole (DESIGN.md). Values are cleaned as merchants write them:
phones by `crm.phones.normalize_phone` with the merchant's country as the default region,
birthdays as dd.mm.yyyy / yyyy-mm-dd / Excel dates, e-mails lower-cased and validated, points as
decimals with a comma or a dot. Text is stored exactly as written (formula-looking text too; it is
escaped on export, not on import)."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from crm.phones import InvalidPhone, normalize_phone
from onboarding.money import q

from . import headers as h
from .fields import REGISTERED

EXCEL_EPOCH = dt.date(1899, 12, 30)
OLDEST_BIRTHDAY = dt.date(1900, 1, 1)
MAX_POINTS = Decimal("999999999999.99")
_DMY = re.compile(r"(\d{1,2})[./\-](\d{1,2})[./\-](\d{4}|\d{2})")
_YMD = re.compile(r"(\d{4})[./\-](\d{1,2})[./\-](\d{1,2})")
_TIME_TAIL = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_SPACES = re.compile(r"[\s\u00a0]+")
# A plain ASCII address that Django's `validate_email` always accepts (a strict subset of its
# dot-atom user part, host labels and letter-only top-level domain): such addresses skip the
# validator, every other spelling goes through it.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}",
    re.ASCII,
)
MEMO_LIMIT = 50_000  # distinct cell texts remembered per column (birthdays, genders, points)

GENDERS = {
    "м": "m",
    "муж": "m",
    "муж.": "m",
    "мужской": "m",
    "мужчина": "m",
    "m": "m",
    "male": "m",
    "man": "m",
    "ж": "f",
    "жен": "f",
    "жен.": "f",
    "женский": "f",
    "женщина": "f",
    "f": "f",
    "female": "f",
    "woman": "f",
    "w": "f",
}
NO_GENDER = {"", "-", "—", "не указан", "не указано", "unknown", "n/a", "?"}


class Record(NamedTuple):
    row: int
    phone: str
    full_name: str
    birthday: dt.date | None
    email: str
    gender: str
    card_code: str
    source_detail: str
    points: Decimal | None
    extra: dict | None = None  # registered fields (crm.importing.fields): {attribute: value}
    note: str = ""  # the columns kept as a note, one “Column: value” a line


# The built-in fields an import may fill on a client (Record attributes of the same name).
CLIENT_FIELDS = ("full_name", "birthday", "email", "gender", "card_code", "source_detail")
NOTES = "notes"


def written_fields() -> tuple[str, ...]:
    """Every Client attribute an import writes, by name: the built-in fields, the registered
    ones and the note. The writer, the undo record and the undo read this one list."""
    return (*CLIENT_FIELDS, *(spec.attribute for spec in REGISTERED.values()), NOTES)


def record_value(record: "Record", name: str):
    """A record's value for a written Client attribute."""
    if name == NOTES:
        return record.note
    if name in CLIENT_FIELDS:
        return getattr(record, name)
    return (record.extra or {}).get(name)


def note_line(label: str, value) -> str:
    """One line of a client's note: «Column: value» (the value on one line)."""
    return f"{label}: {' '.join(_text(value).split())}"


def merge_note(new: str, old: str, overwrite: bool) -> str:
    """A client's note after an import: the lines the file brings that the note does not hold
    yet are appended; with "overwrite", a line of the same column is replaced in place. The rest
    of the note is always kept."""
    if not new:
        return old
    if not old:
        return new
    lines = old.split("\n")
    for line in new.split("\n"):
        if line in lines:
            continue
        if overwrite:
            prefix = line.partition(": ")[0] + ": "
            same = next((i for i, o in enumerate(lines) if o.startswith(prefix)), None)
            if same is not None:
                lines[same] = line
                continue
        lines.append(line)
    return "\n".join(lines)


MAX_LENGTHS = {"full_name": 200, "email": 254, "card_code": 64, "source_detail": 120}
_LENGTH_KEYS = {h.FULL_NAME: "full_name", h.CARD: "card_code", h.SOURCE: "source_detail"}


def _text(value) -> str:
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_birthday(value, *, today: dt.date) -> dt.date | None:
    """A birthday from a cell; raises ValueError with the message for the report."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        day = _excel_serial(value)
    else:
        text = _TIME_TAIL.sub("", str(value).strip())
        if not text:
            return None
        day = None
        if text.isdigit() and 4 <= len(text) <= 5:
            day = _excel_serial(int(text))
        elif m := _DMY.fullmatch(text):
            d, mo, y = int(m[1]), int(m[2]), m[3]
            year = int(y) if len(y) == 4 else _two_digit_year(int(y), today)
            day = _date(year, mo, d, text)
        elif m := _YMD.fullmatch(text):
            day = _date(int(m[1]), int(m[2]), int(m[3]), text)
        if day is None:
            raise ValueError(
                _("“%(value)s” is not a date (expected dd.mm.yyyy or yyyy-mm-dd).")
                % {"value": text}
            )
    if day > today:
        raise ValueError(_("Birthday %(date)s is in the future.") % {"date": day.isoformat()})
    if day < OLDEST_BIRTHDAY:
        raise ValueError(_("Birthday %(date)s is too far in the past.") % {"date": day.isoformat()})
    return day


def _two_digit_year(yy: int, today: dt.date) -> int:
    century = today.year // 100 * 100
    return century + yy if century + yy <= today.year else century - 100 + yy


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(_("“%(value)s” is not a real date.") % {"value": text}) from None


def _excel_serial(value) -> dt.date:
    if value != value or not 1 <= value < 2958466:  # NaN or outside Excel's calendar
        raise ValueError(_("“%(value)s” is not a date.") % {"value": value})
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def parse_points(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(_("Points must be a number."))
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = _SPACES.sub("", str(value)).replace(",", ".")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(
                _("“%(value)s” is not a number of points.") % {"value": value}
            ) from None
    if not number.is_finite():
        raise ValueError(_("“%(value)s” is not a number of points.") % {"value": value})
    if number < 0:
        raise ValueError(_("Points cannot be negative (%(value)s).") % {"value": value})
    if number > MAX_POINTS:
        raise ValueError(_("Points %(value)s are too many.") % {"value": value})
    return q(number)


def parse_email(value) -> str:
    text = _text(value).lower()
    if not text:
        return ""
    if len(text) <= 254 and _PLAIN_EMAIL.fullmatch(text):
        return text
    try:
        validate_email(text)
    except ValidationError:
        raise ValueError(_("“%(value)s” is not an e-mail address.") % {"value": text}) from None
    return text


def parse_gender(value) -> str:
    text = _text(value).lower()
    if text in NO_GENDER:
        return ""
    gender = GENDERS.get(text)
    if gender is None:
        raise ValueError(_("“%(value)s” is not a gender (м/ж, m/f).") % {"value": text})
    return gender


def _remembered(memo: dict, parse, value):
    """parse(value), remembering good results for text cells (a column's values repeat: dates,
    genders, amounts). A bad cell raises every time, so each row gets its own message."""
    if type(value) is not str:
        return parse(value)
    try:
        return memo[value]
    except KeyError:
        pass
    result = parse(value)
    if len(memo) < MEMO_LIMIT:
        memo[value] = result
    return result


class RowCleaner:
    """Cleans rows of one file: knows which column holds what and the merchant's region."""

    def __init__(
        self,
        *,
        mapping: dict[str, int],
        headers: list,
        region: str,
        today: dt.date,
        note_columns: list | tuple = (),
    ):
        self.mapping = mapping
        self.headers = headers
        self.region = region
        self.today = today
        # (index, label) of the columns kept as a note; registered fields the file maps.
        self.note_columns = list(note_columns)
        self.extras = [(s, mapping[s.name]) for s in REGISTERED.values() if s.name in mapping]
        used = [*mapping.values(), *(i for i, _label in self.note_columns)]
        self.width = max(used) + 1 if used else 0
        self._birthdays: dict = {}
        self._genders: dict = {}
        self._points: dict = {}
        self._parse_birthday = partial(parse_birthday, today=today)
        # Each field's column, looked up once for the file rather than once a row.
        get = mapping.get
        self._phone_at = get(h.PHONE)
        self._name_at = get(h.FULL_NAME)
        self._name_parts = [
            i for f in (h.LAST_NAME, h.FIRST_NAME, h.MIDDLE_NAME) if (i := get(f)) is not None
        ]
        self._birthday_at = get(h.BIRTHDAY)
        self._email_at = get(h.EMAIL)
        self._gender_at = get(h.GENDER)
        self._points_at = get(h.POINTS)
        self._card_at = get(h.CARD)
        self._source_at = get(h.SOURCE)

    def label(self, field: str) -> str:
        index = self.mapping.get(field)
        if index is not None and index < len(self.headers) and self.headers[index]:
            return self.headers[index]
        return str(h.FIELD_LABELS.get(field, field))

    def _too_long(self, field: str, value: str) -> tuple[str, str]:
        return (
            self.label(field),
            _("Too long: %(length)s characters, at most %(max)s.")
            % {"length": len(value), "max": MAX_LENGTHS[_LENGTH_KEYS[field]]},
        )

    def clean(self, number: int, cells: list) -> tuple[Record | None, list[tuple[str, str]]]:
        """(record, []) for a good row; (None, [(column, message), ...]) for a rejected one."""
        if len(cells) < self.width:
            cells = list(cells) + [None] * (self.width - len(cells))
        errors: list[tuple[str, str]] = []

        if self._phone_at is None:
            raise KeyError(h.PHONE)
        try:
            phone = normalize_phone(cells[self._phone_at], self.region)
        except InvalidPhone as exc:
            errors.append((self.label(h.PHONE), str(exc)))
            phone = ""

        if (i := self._name_at) is not None:
            full_name = _text(cells[i])
        else:
            parts = [_text(cells[i]) for i in self._name_parts]
            full_name = " ".join(p for p in parts if p)

        birthday = None
        if (i := self._birthday_at) is not None:
            try:
                birthday = _remembered(self._birthdays, self._parse_birthday, cells[i])
            except ValueError as exc:
                errors.append((self.label(h.BIRTHDAY), str(exc)))

        email = ""
        if (i := self._email_at) is not None:
            try:
                email = parse_email(cells[i])
            except ValueError as exc:
                errors.append((self.label(h.EMAIL), str(exc)))

        gender = ""
        if (i := self._gender_at) is not None:
            try:
                gender = _remembered(self._genders, parse_gender, cells[i])
            except ValueError as exc:
                errors.append((self.label(h.GENDER), str(exc)))

        points = None
        if (i := self._points_at) is not None:
            try:
                points = _remembered(self._points, parse_points, cells[i])
            except ValueError as exc:
                errors.append((self.label(h.POINTS), str(exc)))

        card_code = _text(cells[i]).lstrip("'") if (i := self._card_at) is not None else ""
        source_detail = _text(cells[i]) if (i := self._source_at) is not None else ""

        if len(full_name) > MAX_LENGTHS["full_name"]:
            errors.append(self._too_long(h.FULL_NAME, full_name))
        if len(card_code) > MAX_LENGTHS["card_code"]:
            errors.append(self._too_long(h.CARD, card_code))
        if len(source_detail) > MAX_LENGTHS["source_detail"]:
            errors.append(self._too_long(h.SOURCE, source_detail))
        extra = None
        if self.extras:
            extra = {}
            for spec, i in self.extras:
                try:
                    extra[spec.attribute] = spec.clean(cells[i])
                except ValueError as exc:
                    errors.append((self.label(spec.name), str(exc)))
        note = ""
        if self.note_columns:
            note = "\n".join(
                note_line(label, cells[i]) for i, label in self.note_columns if _text(cells[i])
            )
        if errors:
            return None, errors
        return (
            Record(
                number,
                phone,
                full_name,
                birthday,
                email,
                gender,
                card_code,
                source_detail,
                points,
                extra,
                note,
            ),
            errors,
        )
