"""Files whose headers the synonym list does not know: columns found by content, files without a
header row, data on a later sheet, CRM exports with several phones, hand mappings — all through
the `import_clients` command, as a specialist runs it."""

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.importing import clients_import
from crm.importing.detect import detect_columns, find_header
from crm.importing.errors import NoPhoneColumn
from crm.models import Client, ImportBatch
from tests.crm.import_files import write_csv

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def cli(merchant, path, tmp_path, *args):
    report_path = tmp_path / "report.json"
    call_command(
        "import_clients",
        str(path),
        "--merchant",
        merchant.slug,
        "--report-json",
        str(report_path),
        *args,
    )
    return json.loads(report_path.read_text(encoding="utf-8"))


def clients(merchant):
    return {c.phone: c for c in Client.objects.filter(merchant=merchant).order_by("phone")}


def reasons(report):
    return {line["field"]: line for line in report["column_reasons"]}


def test_odd_russian_headers_found_by_content(merchant, tmp_path):
    rows = [
        ["Клиент", "Моб. тел.", "Д.р.", "Эл. адрес"],
        ["Иванова Анна", "8 913 123-45-67", "01.02.1990", "anna@example.com"],
        ["Петров Пётр", "+7 913 123 45 68", "31.12.1985", "petr@example.com"],
        ["Сидоров Иван", "9131234569", "", ""],
    ]
    report = cli(merchant, write_csv(tmp_path / "a.csv", rows, delimiter=";"), tmp_path)
    assert report["columns"] == {
        "phone": "Моб. тел.",
        "full_name": "Клиент",
        "birthday": "Д.р.",
        "email": "Эл. адрес",
    }
    assert report["created"] == 3 and report["rejected"] == 0
    phone = reasons(report)["phone"]
    assert phone["column"] == "Моб. тел."
    assert "100 % valid numbers" in phone["reason"]
    anna = clients(merchant)["+79131234567"]
    assert (anna.full_name, anna.birthday, anna.email) == (
        "Иванова Анна",
        dt.date(1990, 2, 1),
        "anna@example.com",
    )


def test_english_headers_name_mobile_number_dob(merchant, tmp_path):
    rows = [
        ["Name", "Mobile number", "DOB"],
        ["Anna Smith", "+7 913 123 45 67", "1990-02-01"],
        ["John Doe", "+7 913 123 45 68", "1985-12-31"],
    ]
    report = cli(merchant, write_csv(tmp_path / "b.csv", rows), tmp_path)
    assert report["columns"] == {"phone": "Mobile number", "full_name": "Name", "birthday": "DOB"}
    assert set(clients(merchant)) == {"+79131234567", "+79131234568"}


def test_headers_nobody_could_guess_content_decides(merchant, tmp_path):
    rows = [
        ["Колонка 1", "Колонка 2", "Колонка 3", "Колонка 4"],
        ["Анна Иванова", "anna@example.com", "89131234567", "12.03.1991"],
        ["Пётр Петров", "petr@example.com", "89131234568", "01.01.1980"],
        ["Иван Сидоров", "ivan@example.com", "89131234569", "05.05.1975"],
    ]
    report = cli(merchant, write_csv(tmp_path / "c.csv", rows), tmp_path)
    assert report["columns"] == {
        "phone": "Колонка 3",
        "full_name": "Колонка 1",
        "birthday": "Колонка 4",
        "email": "Колонка 2",
    }
    assert "100 % plausible birth dates" in reasons(report)["birthday"]["reason"]
    assert report["has_header"] is True and report["header_row"] == 1


def test_file_without_header_row(merchant, tmp_path):
    rows = [
        ["89131234567", "Иванова Анна", "anna@example.com", "01.02.1990"],
        ["89131234568", "Петров Пётр", "", "31.12.1985"],
        ["89131234569", "Сидоров Иван", "ivan@example.com", ""],
    ]
    report = cli(merchant, write_csv(tmp_path / "d.csv", rows, delimiter=";"), tmp_path)
    assert report["has_header"] is False and report["header_row"] == 0
    assert report["rows_total"] == 3 and report["created"] == 3
    assert report["columns"]["phone"] == "column A"
    assert report["columns"]["full_name"] == "column B"
    assert clients(merchant)["+79131234567"].email == "anna@example.com"
    assert clients(merchant)["+79131234568"].birthday == dt.date(1985, 12, 31)


def test_title_row_then_data_without_header(merchant, tmp_path):
    rows = [
        ["Выгрузка клиентов на 01.06.2026"],
        ["89131234567", "Иванова Анна"],
        ["89131234568", "Петров Пётр"],
    ]
    report = cli(merchant, write_csv(tmp_path / "e.csv", rows), tmp_path)
    assert report["has_header"] is False and report["created"] == 2


def test_data_on_second_sheet(merchant, tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    intro = workbook.active
    intro.title = "Инструкция"
    intro.append(["Эта выгрузка содержит клиентов магазина."])
    intro.append(["Сформировано", "01.06.2026"])
    data = workbook.create_sheet("Клиенты")
    data.append(["Отчёт по клиентам"])
    data.append([])
    data.append(["Покупатель", "Сотовый тел.", "Бонусы"])
    data.append(["Иванова Анна", 79131234567, 150])
    data.append(["Петров Пётр", 79131234568, 0])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    report = cli(merchant, path, tmp_path)
    assert report["sheet"] == "Клиенты" and report["header_row"] == 3
    assert report["columns"] == {
        "phone": "Сотовый тел.",
        "full_name": "Покупатель",
        "points": "Бонусы",
    }
    assert clients(merchant)["+79131234567"].balance == 150


def test_crm_export_mobile_beats_work_phone(merchant, tmp_path):
    rows = [
        ["Контакт", "Рабочий тел.", "Моб. номер", "Компания"],
        ["Иванова Анна", "+7 495 123-45-67", "+7 913 123-45-67", "ООО Ромашка"],
        ["Петров Пётр", "+7 495 765-43-21", "+7 913 123-45-68", "ИП Петров"],
        ["Сидоров Иван", "+7 812 555-12-12", "+7 913 123-45-69", ""],
    ]
    report = cli(merchant, write_csv(tmp_path / "g.csv", rows), tmp_path)
    assert report["columns"]["phone"] == "Моб. номер"
    assert "100 % mobile" in reasons(report)["phone"]["reason"]
    assert "Рабочий тел." in report["unknown_columns"]
    assert set(clients(merchant)) == {"+79131234567", "+79131234568", "+79131234569"}


def test_two_unnamed_phone_columns_mobile_wins(merchant, tmp_path):
    rows = [
        ["+74951234567", "+79131234567", "Иванова Анна"],
        ["+74957654321", "+79131234568", "Петров Пётр"],
    ]
    report = cli(merchant, write_csv(tmp_path / "h.csv", rows), tmp_path)
    assert report["columns"]["phone"] == "column B"


def test_points_never_taken_from_content_alone(merchant, tmp_path):
    rows = [
        ["Телефон", "Сумма покупок"],
        ["89131234567", "15000"],
        ["89131234568", "250"],
    ]
    report = cli(merchant, write_csv(tmp_path / "i.csv", rows), tmp_path)
    assert "points" not in report["columns"]
    assert report["unknown_columns"] == ["Сумма покупок"]
    assert clients(merchant)["+79131234567"].balance == 0


def test_map_flag_decides_what_content_cannot(merchant, tmp_path):
    rows = [
        ["Поле 1", "Поле 2", "Остаток"],
        ["89131234567", "Анна", "100"],
        ["89131234568", "Пётр", "7,5"],
    ]
    path = write_csv(tmp_path / "j.csv", rows, delimiter=";")
    report = cli(merchant, path, tmp_path, "--map", "points=Остаток", "--map", "full_name=B")
    assert report["columns"]["points"] == "Остаток"
    assert report["columns"]["full_name"] == "Поле 2"
    assert reasons(report)["points"]["reason"] == "chosen by hand"
    assert clients(merchant)["+79131234568"].balance == 7.5
    assert ImportBatch.objects.get().mapping["columns"] == {
        "points": "Остаток",
        "full_name": "B",
    }


def test_map_flag_chooses_the_phone_column_over_content(merchant, tmp_path):
    rows = [
        ["Телефон", "Второй"],
        ["89131234567", "89131234570"],
        ["89131234568", "89131234571"],
    ]
    path = write_csv(tmp_path / "k.csv", rows)
    report = cli(merchant, path, tmp_path, "--map", "phone=Второй", "--ignore", "Телефон")
    assert report["columns"] == {"phone": "Второй"}
    assert set(clients(merchant)) == {"+79131234570", "+79131234571"}


def test_map_flag_errors_are_clear_and_write_nothing(merchant, tmp_path):
    path = write_csv(tmp_path / "l.csv", [["Телефон"], ["89131234567"]])
    with pytest.raises(CommandError, match="Unknown field “telephone”"):
        cli(merchant, path, tmp_path, "--map", "telephone=Телефон")
    with pytest.raises(CommandError, match="Column “Мобильный” \\(for phone\\) is not in the file"):
        cli(merchant, path, tmp_path, "--map", "phone=Мобильный")
    with pytest.raises(CommandError, match="Unknown preset “square”"):
        cli(merchant, path, tmp_path, "--preset", "square")
    assert not Client.objects.exists()


def test_no_phone_anywhere_is_refused_with_the_columns_seen(merchant, tmp_path):
    rows = [["Имя", "Город"], ["Анна", "Москва"], ["Пётр", "Казань"]]
    with pytest.raises(CommandError, match="No phone column found.*“Имя”, “Город”"):
        cli(merchant, write_csv(tmp_path / "m.csv", rows), tmp_path)
    assert not Client.objects.exists()


def test_kazakh_merchant_phone_validity_is_for_its_country(tmp_path):
    from tests.factories import MerchantFactory

    merchant = MerchantFactory(country="KZ", currency="KZT", time_zone="Asia/Almaty")
    rows = [["Номер", "Кто"], ["87011234567", "Айгерим"], ["87021234568", "Ерлан"]]
    report = clients_import(
        merchant=merchant, path=str(write_csv(tmp_path / "kz.csv", rows)), dry_run=True
    )
    assert report.columns == {"phone": "Номер", "full_name": "Кто"}
    assert report.created == 2


def test_gender_and_card_found_by_content():
    headers = ["A", "B", "C", "D"]
    sample = [
        ["89131234567", "ж", "CARD-000101", "Иванова Анна"],
        ["89131234568", "м", "CARD-000102", "Петров Пётр"],
        ["89131234569", "ж", "CARD-000103", "Сидорова Ольга"],
    ]
    found = detect_columns(
        headers=headers, has_header=False, sample=sample, region="RU", today=TODAY
    )
    assert found.mapping == {"phone": 0, "gender": 1, "card_code": 2, "full_name": 3}


def test_header_finder_needs_a_phone():
    rows = [(1, ["Имя", "Город"]), (2, ["Анна", "Москва"])]
    with pytest.raises(NoPhoneColumn):
        find_header(rows, region="RU")
    rows = [(1, ["Отчёт"]), (2, ["Кто", "Куда звонить"]), (3, ["Анна", "+79131234567"])]
    assert find_header(rows, region="RU") == (1, 2)
