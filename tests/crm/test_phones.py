"""crm.phones: the fast path for common spellings gives exactly phonenumbers' answer."""

import random

import phonenumbers
import pytest
from phonenumbers import PhoneMetadata

from crm.phones import (
    InvalidPhone,
    _fast_e164,
    _is_valid_region_nsn,
    _region_validity,
    _valid_in_region,
    normalize_phone,
    phone_or_none,
)


def reference(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


SHAPES = [
    "{d10}",
    "8{d10}",
    "7{d10}",
    "+7{d10}",
    "+7 ({d3}) {d3}-{d2}-{d2}",
    "8 ({d3}) {d3} {d2} {d2}",
    "{d9}",
    "995{d9}",
    "+995 {d9}",
    "0{d9}",
    "8{d9}",
    "+{d11}",
    "{d11}",
    "{d12}",
    "+375{d9}",
    "+44 {d10}",
]


def test_fast_path_agrees_with_phonenumbers():
    rnd = random.Random(20240601)

    def digits(n, lead="3456789"):
        return rnd.choice(lead) + "".join(rnd.choice("0123456789") for _ in range(n - 1))

    hits = 0
    for _ in range(30000):
        shape = rnd.choice(SHAPES)
        text = shape.format(
            d10=digits(10),
            d3=digits(3),
            d2=digits(2, "0123456789"),
            d9=digits(9),
            d11=digits(11),
            d12=digits(12),
        )
        region = rnd.choice(["RU", "KZ", "GE", "BY"])
        fast = _fast_e164(text, region)
        if fast is not None:
            hits += 1
            assert fast == reference(text, region), (text, region)
        assert phone_or_none(text, region) == reference(text.lstrip("'"), region), (text, region)
    assert hits > 1000  # the fast path is really taken


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("+7 (913) 123-45-67", "RU", "+79131234567"),
        ("8 913 123 45 67", "RU", "+79131234567"),
        ("9131234567", "RU", "+79131234567"),
        ("'+79131234567", "RU", "+79131234567"),
        (79131234567.0, "RU", "+79131234567"),
        ("79131234567.0", "RU", "+79131234567"),
        (89131234567, "RU", "+79131234567"),
        ("8 (701) 123-45-67", "KZ", "+77011234567"),
        ("+7 701 123 4567", "RU", "+77011234567"),  # a KZ number typed for a RU merchant
        ("555 123 456", "GE", "+995555123456"),
        ("+995 32 212 34 56", "GE", "+995322123456"),
        ("+44 20 7946 0958", "RU", "+442079460958"),
    ],
)
def test_normalize_examples(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", None, "abc", "12345", "+7 (013) 123-45-67", float("nan")])
def test_invalid(raw):
    with pytest.raises(InvalidPhone):
        normalize_phone(raw, "RU")
    assert phone_or_none(raw, "RU") is None


def test_joined_validity_pattern_agrees_with_the_types_one_by_one():
    """For every region phonenumbers knows: its example numbers, each with a digit changed, one
    added or one dropped, and random digit strings — the one joined pattern answers exactly as
    the general pattern and the types checked one by one."""
    rnd = random.Random(20261130)
    checked = valid = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        assert _region_validity(region) is not None, region  # no region falls back
        metadata = PhoneMetadata.metadata_for_region(region)
        examples = [
            desc.example_number
            for desc in (metadata.general_desc, metadata.mobile, metadata.fixed_line)
            if desc is not None and desc.example_number
        ]
        numbers = list(examples)
        for example in examples:
            for _ in range(20):
                at = rnd.randrange(len(example))
                numbers.append(example[:at] + rnd.choice("0123456789") + example[at + 1 :])
                numbers.append(example + rnd.choice("0123456789"))
                numbers.append(example[:-1])
        numbers += [
            "".join(rnd.choice("0123456789") for _ in range(rnd.randint(2, 17))) for _ in range(60)
        ]
        for nsn in numbers:
            expected = _is_valid_region_nsn(region, nsn)
            assert _valid_in_region(region, nsn) is expected, (region, nsn)
            checked += 1
            valid += expected
    assert checked > 40000
    assert valid > 5000  # both answers are really met
