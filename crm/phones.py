"""Phone numbers to E.164 — the one place that decides what a valid phone is.

`normalize_phone("8 913 123-45-67", "RU") == "+79131234567"`. Accepts the spellings merchants
and cashiers really type: spaces, brackets, dashes, a leading apostrophe (Excel), a trailing
".0" (numbers stored as floats), national prefixes (8 in RU/KZ), numbers without the country code.

Imports normalise hundreds of thousands of numbers, so the common spellings of the countries we
serve take a fast path: the digits are split into country code and national number by the same
rules `phonenumbers` applies, and the national number is checked against `phonenumbers`' own
metadata patterns (precompiled once). Anything the fast path does not recognise, and every number
it would reject, goes through `phonenumbers.parse` — so the result and the error message are
always exactly those of `phonenumbers` (tests/crm/test_phones.py compares both paths).
"""

import re
from functools import cache

import phonenumbers
from django.utils.translation import gettext as _
from phonenumbers import PhoneMetadata
from phonenumbers import phonenumberutil as pnu

_JUNK = re.compile(r"[\s()\-.\u00a0'’`]")
_DIGITS = re.compile(r"\+?\d+")

# Mobile and fixed line first: validity is "any type matches", and these are the common ones.
_TYPE_DESCS = (
    "mobile",
    "fixed_line",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


class InvalidPhone(ValueError):
    """The text is not a valid phone number for the region."""


def _desc_matcher(desc):
    if desc is None or not desc.national_number_pattern:
        return None
    return (frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern))


def _matches(matcher, nsn: str) -> bool:
    if matcher is None:
        return False
    lengths, pattern = matcher
    if lengths and len(nsn) not in lengths:
        return False
    return pattern.fullmatch(nsn) is not None


@cache
def _region_rules(region: str):
    """(general matcher, type matchers, leading-digits regex) for one region, or None."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None:
        return None
    types = [m for m in (_desc_matcher(getattr(metadata, n, None)) for n in _TYPE_DESCS) if m]
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
    return _desc_matcher(metadata.general_desc), types, leading


def _is_valid_region_nsn(region: str, nsn: str) -> bool:
    rules = _region_rules(region)
    if rules is None:
        return False
    general, types, _leading = rules
    return _matches(general, nsn) and any(_matches(m, nsn) for m in types)


def _with_lengths(matcher) -> str:
    """A matcher as one pattern text: its possible lengths as a look-ahead, then its pattern."""
    lengths, pattern = matcher
    guard = ""
    if lengths:  # a length below 1 (metadata's -1: "none") is never a number's
        allowed = "|".join(f".{{{n}}}" for n in sorted(lengths) if n > 0)
        guard = f"(?=(?:{allowed})\\Z)" if allowed else "(?!)"
    return f"{guard}(?:{pattern.pattern})"


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


@cache
def _region_validity(region: str):
    """`_is_valid_region_nsn(region, ·)` as one compiled pattern's `fullmatch` (the general
    pattern as a look-ahead, then the types as alternatives, each behind its lengths), or None
    when the region's patterns cannot be joined (a back-reference would be renumbered).

    One regex call instead of a Python loop over the types: a national number is valid exactly
    when some type matches all of it, and `fullmatch` tries every alternative before failing
    (tests/crm/test_phones.py compares both for every region)."""
    rules = _region_rules(region)
    if rules is None:
        return None
    general, types, _leading = rules
    parts = [m for m in (general, *types) if m is not None]
    if any(_BACKREFERENCE.search(m[1].pattern) for m in parts):
        return None
    if general is None or not types:
        return re.compile("(?!)")  # never valid, as `_is_valid_region_nsn` answers
    alternatives = "|".join(f"(?:{_with_lengths(m)})" for m in types)
    return re.compile(rf"(?=(?:{_with_lengths(general)})\Z)(?:{alternatives})")


def _valid_in_region(region: str, nsn: str) -> bool:
    pattern = _region_validity(region)
    if pattern is None:
        return _is_valid_region_nsn(region, nsn)
    return pattern.fullmatch(nsn) is not None


class _Parsing:
    """One region's metadata for the national-prefix and length steps of `phonenumbers.parse`,
    with the patterns compiled once (phonenumbers looks each pattern up on every call)."""

    def __init__(self, metadata):
        general = metadata.general_desc
        pattern = general.national_number_pattern if general is not None else None
        self.general = re.compile(pattern) if pattern else None
        prefix = metadata.national_prefix_for_parsing
        self.prefix = re.compile(prefix) if prefix else None
        self.transform = metadata.national_prefix_transform_rule
        self.lengths = tuple(general.possible_length) if general is not None else None
        self.local = tuple(general.possible_length_local_only) if general is not None else ()

    def viable(self, number: str) -> bool:
        """pnu._match_national_number(number, general_desc, False)."""
        return self.general is not None and self.general.fullmatch(number) is not None

    def strip_prefix(self, number: str) -> str:
        """The number of pnu._maybe_strip_national_prefix_carrier_code(number, metadata)."""
        if not number or self.prefix is None:
            return number
        match = self.prefix.match(number)
        if not match:
            return number
        viable = self.viable(number)
        groups = match.groups()
        if not self.transform or groups[len(groups) - 1] is None:
            stripped = number[match.end() :]
        else:
            stripped = self.prefix.sub(self.transform, number, count=1)
        if viable and not self.viable(stripped):
            return number
        return stripped

    def length(self, number: str):
        """pnu._test_number_length(number, metadata) for an unknown number type."""
        if self.lengths is None:
            return pnu.ValidationResult.INVALID_LENGTH
        actual = len(number)
        if actual in self.local:
            return pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY
        if self.lengths[0] == actual:
            return pnu.ValidationResult.IS_POSSIBLE
        if self.lengths[0] > actual:
            return pnu.ValidationResult.TOO_SHORT
        if self.lengths[-1] < actual:
            return pnu.ValidationResult.TOO_LONG
        if actual in self.lengths[1:]:
            return pnu.ValidationResult.IS_POSSIBLE
        return pnu.ValidationResult.INVALID_LENGTH


@cache
def _country_rules(region: str):
    """(country code as text, regions sharing it, the region's parsing rules, the parsing rules
    of the code's main region, the international-prefix regex) or None for an unknown region."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or not metadata.country_code:
        return None
    code = metadata.country_code
    regions = tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()))
    main = PhoneMetadata.metadata_for_region(pnu.region_code_for_country_code(code), None)
    idd = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    return str(code), regions, _Parsing(metadata), _Parsing(main or metadata), idd


_BAD_LENGTH = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)


def _is_valid_nsn(regions: tuple, nsn: str) -> bool:
    """phonenumbers.is_valid_number for a country code shared by `regions`."""
    for region in regions:
        rules = _region_rules(region)
        if rules is None:
            continue
        leading = rules[2]
        if leading is not None:
            if leading.match(nsn):
                return _valid_in_region(region, nsn)
        elif _valid_in_region(region, nsn):
            return True
    return False


def _fast_e164(text: str, region: str) -> str | None:
    """E.164 for the plain spellings (digits, optional '+', separators) or None to fall back.

    The split into country code and national number follows `phonenumbers.parse` step by step
    (the national-prefix and length steps of `_Parsing` are those of its helpers, with the
    patterns compiled once); only the costly object building and the validity check are
    replaced by the precompiled metadata patterns."""
    # `_DIGITS.fullmatch` without the regex: `\d` is exactly `str.isdecimal` (category Nd).
    compact = text if text.isdecimal() else _JUNK.sub("", text)
    if not (compact.isdecimal() or (compact[:1] == "+" and compact[1:].isdecimal())):
        return None
    rules = _country_rules(region)
    if rules is None:
        return None
    code, regions, metadata, main, idd = rules
    if compact[0] == "+":
        digits = compact[1:]
        if not digits.startswith(code):
            return None  # another country: phonenumbers decides
        nsn, meta = digits[len(code) :], main
    else:
        if idd is not None and idd.match(compact):
            return None  # starts like an international call prefix
        nsn, meta = compact, metadata
        if compact.startswith(code):
            potential = metadata.strip_prefix(compact[len(code) :])
            if (not metadata.viable(compact) and metadata.viable(potential)) or metadata.length(
                compact
            ) == pnu.ValidationResult.TOO_LONG:
                nsn = potential
            else:
                nsn = compact
    potential = meta.strip_prefix(nsn)
    if meta.length(potential) not in _BAD_LENGTH:
        nsn = potential
    if not 2 <= len(nsn) <= 17 or nsn[0] == "0" or not _is_valid_nsn(regions, nsn):
        return None
    return f"+{code}{nsn}"


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
    fast = _fast_e164(text, region)
    if fast is not None:
        return fast
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


def phone_is_mobile(e164: str) -> bool:
    """Whether a valid E.164 number is a mobile one (or one its country does not tell apart)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
