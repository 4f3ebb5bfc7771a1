"""Header synonyms: which column of a merchant's file holds which client field.

A header matches after trimming, collapsing inner spaces and ignoring case (and `ё` = `е`,
trailing `*`/`:` ignored). `detect` weighs these against the content of the columns."""

import re

from django.utils.translation import gettext_lazy as _

PHONE = "phone"
FULL_NAME = "full_name"
FIRST_NAME = "first_name"
LAST_NAME = "last_name"
MIDDLE_NAME = "middle_name"
BIRTHDAY = "birthday"
EMAIL = "email"
GENDER = "gender"
POINTS = "points"
CARD = "card_code"
SOURCE = "source_detail"

# Field → spellings seen in merchants' files (Russian and English), already normalised.
SYNONYMS: dict[str, tuple[str, ...]] = {
    PHONE: (
        "телефон",
        "номер телефона",
        "тел",
        "тел.",
        "телефон клиента",
        "мобильный телефон",
        "мобильный",
        "сотовый",
        "номер",
        "phone",
        "phone number",
        "mobile",
        "mobile phone",
        "tel",
        "telephone",
        "msisdn",
    ),
    FULL_NAME: (
        "фио",
        "ф.и.о.",
        "ф.и.о",
        "фамилия имя отчество",
        "клиент",
        "имя клиента",
        "full name",
        "fullname",
        "name",
        "client",
        "customer",
        "customer name",
    ),
    FIRST_NAME: ("имя", "first name", "firstname", "given name"),
    LAST_NAME: ("фамилия", "last name", "lastname", "surname", "family name"),
    MIDDLE_NAME: ("отчество", "middle name", "patronymic"),
    BIRTHDAY: (
        "дата рождения",
        "др",
        "д.р.",
        "день рождения",
        "birthday",
        "birth date",
        "date of birth",
        "dob",
        "birthdate",
    ),
    EMAIL: ("email", "e-mail", "e mail", "почта", "эл. почта", "электронная почта", "mail"),
    GENDER: ("пол", "gender", "sex"),
    POINTS: (
        "баллы",
        "бонусы",
        "бонусные баллы",
        "баланс",
        "баланс баллов",
        "points",
        "bonus",
        "bonuses",
        "balance",
    ),
    CARD: ("карта", "номер карты", "карта клиента", "card", "card number", "card code"),
    SOURCE: ("источник", "канал", "source", "source detail", "channel"),
}

FIELD_LABELS = {
    PHONE: _("phone"),
    FULL_NAME: _("full name"),
    FIRST_NAME: _("first name"),
    LAST_NAME: _("last name"),
    MIDDLE_NAME: _("middle name"),
    BIRTHDAY: _("birthday"),
    EMAIL: _("e-mail"),
    GENDER: _("gender"),
    POINTS: _("points"),
    CARD: _("card"),
    SOURCE: _("source"),
}

_SPACES = re.compile(r"\s+")


def normalize_header(value) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\ufeff", "").replace("_", " ")
    text = _SPACES.sub(" ", text).strip().lower().replace("ё", "е")
    return text.rstrip("*:").strip()


LOOKUP = {spelling: field for field, spellings in SYNONYMS.items() for spelling in spellings}


def field_for_header(value) -> str | None:
    return LOOKUP.get(normalize_header(value))


def looks_like_header(cells: list) -> bool:
    """A row is the header if it names the phone column."""
    return any(field_for_header(c) == PHONE for c in cells)
