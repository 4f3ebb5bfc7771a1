"""Phone numbers to E.164 — the one place that decides what a valid phone is.

`normalize_phone("8 913 123-45-67", "RU") == "+79131234567"`. Accepts the spellings merchants
and cashiers really type: spaces, brackets, dashes, a leading apostrophe (Excel), a trailing
".0" (numbers stored as floats), national prefixes (8 in RU/KZ), numbers without the country code.
"""

import re

import phonenumbers
from django.utils.translation import gettext as _

_JUNK = re.compile(r"[\s()\-.\u00a0'’`]")


class InvalidPhone(ValueError):
    """The text is not a valid phone number for the region."""


def normalize_phone(raw, region: str) -> str:
    """Return the E.164 form of `raw` (str, int or float) or raise InvalidPhone."""
    if raw is None:
        raise InvalidPhone(_("Phone is empty."))
    if isinstance(raw, float):
        if raw != raw or raw <= 0:  # NaN or nonsense
            raise InvalidPhone(_("Phone is empty."))
        raw = str(int(raw))
    text = str(raw).strip().lstrip("'’`")
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if not text:
        raise InvalidPhone(_("Phone is empty."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(_("“%(phone)s” is not a phone number.") % {"phone": text}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            _("“%(phone)s” is not a valid phone number for %(region)s.")
            % {"phone": text, "region": region}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_or_none(raw, region: str) -> str | None:
    try:
        return normalize_phone(raw, region)
    except InvalidPhone:
        return None
