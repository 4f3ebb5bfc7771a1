"""Presets: the client exports merchants bring when they switch from another system.

Each preset lists, per client field, the column names that system's export uses (in order of
preference: a CRM's mobile phone before its work phone). A preset's names count as exact
headers; the content check still runs for every other column. `documented` says whether the
names come from the system's published documentation or are our best knowledge of real files
(docs/import.md lists which is which)."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from . import headers as h


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    documented: bool
    columns: dict  # field → column names, preferred first
    notes: tuple = ()  # column names kept as the client's note when the file has them

    def spellings(self) -> frozenset:
        return frozenset(h.normalize_header(s) for names in self.columns.values() for s in names)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "uds",
            "UDS",
            False,
            {
                h.PHONE: ("Телефон", "Номер телефона", "Phone"),
                h.FULL_NAME: ("Имя", "Клиент", "Name"),
                h.BIRTHDAY: ("Дата рождения", "Birthday"),
                h.GENDER: ("Пол", "Gender"),
                h.EMAIL: ("Email", "E-mail"),
                h.POINTS: ("Баллы", "Баланс баллов", "Points"),
                h.CARD: ("UID", "Код карты", "Card"),
            },
        ),
        Preset(
            "iiko",
            "iiko (iikoCard)",
            True,
            {
                h.PHONE: ("Телефон", "Telephone"),
                h.FULL_NAME: ("Имя", "Гость", "Name"),
                h.BIRTHDAY: ("День рождения", "Дата рождения", "Birthday", "Birth day"),
                h.EMAIL: ("Email", "E-mail"),
                h.CARD: ("Номер карты", "Карта", "Card No.", "Card number"),
                h.POINTS: ("Баланс", "Balance"),
            },
        ),
        Preset(
            "poster",
            "Poster",
            True,
            {
                h.PHONE: ("Телефон", "Phone", "Phone number"),
                h.FULL_NAME: ("Имя", "ФИО", "Клиент", "Name", "Full name", "Customer"),
                h.BIRTHDAY: ("День рождения", "Дата рождения", "Birthday"),
                h.GENDER: ("Пол", "Sex"),
                h.EMAIL: ("Email", "E-mail"),
                h.CARD: ("Номер карты", "Card number"),
                h.POINTS: ("Бонусы", "Бонусный счёт", "Бонусный счет", "Bonus account", "Bonus"),
            },
            notes=("Комментарий", "Comment"),
        ),
        Preset(
            "evotor",
            "Evotor",
            False,
            {
                h.PHONE: ("Телефон", "Номер телефона"),
                h.FULL_NAME: ("Наименование", "ФИО", "Имя"),
                h.BIRTHDAY: ("Дата рождения",),
                h.EMAIL: ("Email", "E-mail", "Электронная почта"),
                h.CARD: ("Номер карты", "Дисконтная карта", "Штрихкод карты"),
                h.POINTS: ("Бонусы", "Баланс бонусов", "Баллы"),
            },
        ),
        Preset(
            "r_keeper",
            "r_keeper",
            False,
            {
                h.PHONE: ("Телефон", "Мобильный телефон"),
                h.FULL_NAME: ("ФИО", "Владелец карты", "Имя"),
                h.BIRTHDAY: ("Дата рождения", "День рождения"),
                h.EMAIL: ("E-mail", "Email"),
                h.CARD: ("Номер карты", "Код карты", "Карта"),
                h.POINTS: ("Бонусы", "Баланс бонусного счета", "Баланс"),
            },
        ),
        Preset(
            "amocrm",
            "amoCRM",
            False,
            {
                h.PHONE: ("Мобильный телефон", "Рабочий телефон", "Телефон", "Другой телефон"),
                h.FULL_NAME: ("Полное имя", "Имя контакта", "Наименование"),
                h.FIRST_NAME: ("Имя",),
                h.LAST_NAME: ("Фамилия",),
                h.EMAIL: ("Личный email", "Рабочий email", "Email"),
                h.BIRTHDAY: ("День рождения", "Дата рождения"),
            },
        ),
        Preset(
            "bitrix24",
            "Bitrix24",
            True,
            {
                h.PHONE: (
                    "Мобильный телефон",
                    "PERSONAL_MOBILE",
                    "Mobile phone",
                    "Рабочий телефон",
                    "WORK_PHONE",
                    "Work phone",
                    "Домашний телефон",
                    "Телефон",
                ),
                h.FIRST_NAME: ("Имя", "NAME", "First name"),
                h.LAST_NAME: ("Фамилия", "LAST_NAME", "Last name"),
                h.MIDDLE_NAME: ("Отчество", "SECOND_NAME", "Second name"),
                h.BIRTHDAY: ("Дата рождения", "PERSONAL_BIRTHDAY", "Date of birth"),
                h.GENDER: ("Пол", "PERSONAL_GENDER"),
                h.EMAIL: ("Частный e-mail", "Рабочий e-mail", "E-mail", "EMAIL", "Work e-mail"),
                h.SOURCE: ("Источник", "Source"),
            },
            notes=("Комментарий", "COMMENTS", "Comment"),
        ),
        Preset(
            "1c",
            "1C",
            False,
            {
                h.PHONE: ("Мобильный телефон", "Телефон", "Телефон контрагента"),
                h.FULL_NAME: ("Наименование", "Полное наименование", "Контрагент", "Партнер"),
                h.BIRTHDAY: ("Дата рождения",),
                h.GENDER: ("Пол",),
                h.EMAIL: ("Адрес электронной почты", "Электронная почта", "Email"),
                h.CARD: ("Дисконтная карта", "Номер карты", "Штрихкод"),
                h.POINTS: ("Бонусные баллы", "Остаток баллов", "Баллы"),
            },
        ),
    )
}

_LOOKUP = {
    p.name: {
        h.normalize_header(spelling): (field_name, rank)
        for field_name, names in p.columns.items()
        for rank, spelling in enumerate(names)
    }
    for p in PRESETS.values()
}


def preset_get(name: str) -> Preset:
    """The preset of that name (case-insensitive) or ValueError listing the known ones."""
    key = (name or "").strip().lower().replace("-", "_").replace(" ", "_")
    key = {"rkeeper": "r_keeper", "bitrix": "bitrix24", "amo": "amocrm", "1с": "1c"}.get(key, key)
    if key not in PRESETS:
        raise ValueError(
            _("Unknown preset “%(name)s”. Presets: %(names)s.")
            % {"name": name, "names": ", ".join(PRESETS)}
        )
    return PRESETS[key]


def preset_field(preset: Preset, header) -> tuple[str, int] | None:
    """(field, preference rank) that the preset gives this header, or None."""
    return _LOOKUP[preset.name].get(h.normalize_header(header))
