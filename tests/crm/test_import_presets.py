"""Each preset against a small file of the shape that system exports, through `import_clients
--preset` (the files are generated here; docs/import.md says where each shape comes from)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from crm.importing.presets import PRESETS, preset_get
from crm.models import Client
from tests.crm.import_files import write_csv, write_xlsx

pytestmark = pytest.mark.django_db

# name → (header, two rows, expected columns, phone of the first row, what its client holds)
SHAPES = {
    "uds": (
        ["Имя", "Телефон", "Email", "Дата рождения", "Пол", "Баллы", "Дата регистрации"],
        [
            [
                "Анна",
                "+79131234567",
                "anna@example.com",
                "1990-02-01",
                "Женский",
                "120",
                "2024-05-01",
            ],
            ["Пётр", "+79131234568", "", "", "Мужской", "0", "2024-06-01"],
        ],
        {
            "phone": "Телефон",
            "full_name": "Имя",
            "email": "Email",
            "birthday": "Дата рождения",
            "gender": "Пол",
            "points": "Баллы",
        },
        {"full_name": "Анна", "gender": "f", "balance": Decimal("120")},
    ),
    "iiko": (
        [
            "Телефон",
            "Имя",
            "День рождения",
            "E-mail",
            "Номер карты",
            "Комментарий",
            "Дата регистрации",
            "Количество заказов",
            "Сумма заказов",
            "Баланс",
        ],
        [
            [
                "+7 913 123-45-67",
                "Анна Иванова",
                "01.02.1990",
                "anna@example.com",
                "100200300",
                "VIP",
                "01.05.2024 12:00",
                "12",
                "15400",
                "350",
            ],
            [
                "+7 913 123-45-68",
                "Пётр",
                "",
                "",
                "100200301",
                "",
                "02.05.2024 13:00",
                "1",
                "900",
                "0",
            ],
        ],
        {
            "phone": "Телефон",
            "full_name": "Имя",
            "birthday": "День рождения",
            "email": "E-mail",
            "card_code": "Номер карты",
            "points": "Баланс",
        },
        {"full_name": "Анна Иванова", "card_code": "100200300", "balance": Decimal("350")},
    ),
    "poster": (
        [
            "ID",
            "Имя",
            "Телефон",
            "Email",
            "Пол",
            "День рождения",
            "Группа",
            "Номер карты",
            "Бонусы",
            "Сумма покупок",
            "Комментарий",
            "Город",
        ],
        [
            [
                "1",
                "Иванова Анна",
                "79131234567",
                "anna@example.com",
                "ж",
                "01.02.1990",
                "Бонусная",
                "2000000000011",
                "75,50",
                "12000",
                "",
                "Томск",
            ],
            ["2", "Петров Пётр", "79131234568", "", "м", "", "Бонусная", "", "0", "0", "", ""],
        ],
        {
            "phone": "Телефон",
            "full_name": "Имя",
            "email": "Email",
            "gender": "Пол",
            "birthday": "День рождения",
            "card_code": "Номер карты",
            "points": "Бонусы",
        },
        {"full_name": "Иванова Анна", "card_code": "2000000000011", "balance": Decimal("75.50")},
    ),
    "evotor": (
        ["Наименование", "Телефон", "Email", "Номер карты", "Дата рождения", "Бонусы", "Скидка, %"],
        [
            [
                "Иванова Анна",
                "8 913 123 45 67",
                "anna@example.com",
                "0001",
                "01.02.1990",
                "40",
                "5",
            ],
            ["Петров Пётр", "8 913 123 45 68", "", "0002", "", "", "5"],
        ],
        {
            "phone": "Телефон",
            "full_name": "Наименование",
            "email": "Email",
            "card_code": "Номер карты",
            "birthday": "Дата рождения",
            "points": "Бонусы",
        },
        {"full_name": "Иванова Анна", "card_code": "0001", "balance": Decimal("40")},
    ),
    "r_keeper": (
        [
            "Номер карты",
            "Владелец карты",
            "Телефон",
            "Дата рождения",
            "E-mail",
            "Бонусы",
            "Статус карты",
        ],
        [
            ["77001", "Иванова Анна", "+79131234567", "01.02.1990", "", "500", "Активна"],
            ["77002", "Петров Пётр", "+79131234568", "", "", "", "Активна"],
        ],
        {
            "card_code": "Номер карты",
            "full_name": "Владелец карты",
            "phone": "Телефон",
            "birthday": "Дата рождения",
            "email": "E-mail",
            "points": "Бонусы",
        },
        {"full_name": "Иванова Анна", "card_code": "77001", "balance": Decimal("500")},
    ),
    "amocrm": (
        [
            "ID",
            "Имя",
            "Фамилия",
            "Рабочий телефон",
            "Мобильный телефон",
            "Рабочий email",
            "Компания",
            "Ответственный",
            "Теги",
        ],
        [
            [
                "11",
                "Анна",
                "Иванова",
                "+7 495 123-45-67",
                "+7 913 123-45-67",
                "anna@example.com",
                "ООО Ромашка",
                "Менеджер",
                "vip",
            ],
            [
                "12",
                "Пётр",
                "Петров",
                "+7 495 765-43-21",
                "+7 913 123-45-68",
                "",
                "",
                "Менеджер",
                "",
            ],
        ],
        {
            "phone": "Мобильный телефон",
            "first_name": "Имя",
            "last_name": "Фамилия",
            "email": "Рабочий email",
        },
        {"full_name": "Иванова Анна", "email": "anna@example.com"},
    ),
    "bitrix24": (
        [
            "ID",
            "Обращение",
            "Имя",
            "Отчество",
            "Фамилия",
            "Дата рождения",
            "Рабочий телефон",
            "Мобильный телефон",
            "Рабочий e-mail",
            "Частный e-mail",
            "Источник",
        ],
        [
            [
                "1",
                "г-жа",
                "Анна",
                "Сергеевна",
                "Иванова",
                "01.02.1990",
                "+7 495 123-45-67",
                "+7 913 123-45-67",
                "anna@work.example",
                "anna@example.com",
                "Сайт",
            ],
            ["2", "", "Пётр", "", "Петров", "", "", "+7 913 123-45-68", "", "", "Звонок"],
        ],
        {
            "phone": "Мобильный телефон",
            "first_name": "Имя",
            "middle_name": "Отчество",
            "last_name": "Фамилия",
            "birthday": "Дата рождения",
            "email": "Частный e-mail",
            "source_detail": "Источник",
        },
        {"full_name": "Иванова Анна Сергеевна", "email": "anna@example.com"},
    ),
    "1c": (
        [
            "Наименование",
            "Полное наименование",
            "Мобильный телефон",
            "Адрес электронной почты",
            "Дата рождения",
            "Пол",
            "Дисконтная карта",
            "Бонусные баллы",
        ],
        [
            [
                "Иванова А. С.",
                "Иванова Анна Сергеевна",
                "8(913)123-45-67",
                "anna@example.com",
                dt.datetime(1990, 2, 1),
                "Женский",
                "2500000000012",
                99,
            ],
            ["Петров П.", "Петров Пётр", "8(913)123-45-68", "", None, "Мужской", "", None],
        ],
        {
            "full_name": "Наименование",
            "phone": "Мобильный телефон",
            "email": "Адрес электронной почты",
            "birthday": "Дата рождения",
            "gender": "Пол",
            "card_code": "Дисконтная карта",
            "points": "Бонусные баллы",
        },
        {"full_name": "Иванова А. С.", "gender": "f", "balance": Decimal("99")},
    ),
}


def test_every_preset_has_a_shape():
    assert set(SHAPES) == set(PRESETS)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_preset_imports_its_shape(name, merchant, tmp_path):
    header, rows, columns, first = SHAPES[name]
    if name == "1c":  # 1C saves spreadsheets with a title above the table
        path = write_xlsx(tmp_path / "export.xlsx", [header, *rows], title="Контрагенты")
    else:
        path = write_csv(tmp_path / "export.csv", [header, *rows], delimiter=";", bom=True)
    out = tmp_path / "report.json"
    call_command(
        "import_clients",
        str(path),
        "--merchant",
        merchant.slug,
        "--preset",
        name,
        "--report-json",
        str(out),
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["columns"] == columns
    assert report["preset"] == name
    assert (report["created"], report["rejected"]) == (2, 0)
    client = Client.objects.get(merchant=merchant, phone="+79131234567")
    for field_name, value in first.items():
        assert getattr(client, field_name) == value, field_name
    assert Client.objects.filter(merchant=merchant, phone="+79131234568").exists()


def test_preset_names_are_forgiving():
    assert preset_get("R-Keeper").name == "r_keeper"
    assert preset_get("Bitrix").name == "bitrix24"
    with pytest.raises(ValueError, match="Presets: uds, iiko"):
        preset_get("square")
