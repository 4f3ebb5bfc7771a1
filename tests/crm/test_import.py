"""The import service against the difficulties merchants' files really have."""

import datetime as dt
import json
import zipfile
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from crm.importing import ImportFileError, clients_import, import_batches_mark_stale
from crm.importing import service as import_service
from crm.importing.writer import ClientWriter
from crm.models import Client, ClientSource, ImportBatch
from loyalty.models import LedgerEntry, LedgerKind
from tests.crm.import_files import HEADER_RU, sample_rows, write_csv, write_xlsx
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(merchant, path, **kwargs):
    return clients_import(merchant=merchant, path=str(path), **kwargs)


def phones(merchant):
    return set(Client.objects.filter(merchant=merchant).values_list("phone", flat=True))


SAMPLE_PHONES = {"+79131234567", "+79131234568", "+79131234569"}


# --- encodings, delimiters, line ends, quoting ---------------------------------------------


@pytest.mark.parametrize(
    "encoding,bom,delimiter,newline",
    [
        ("utf-8", False, ",", "\n"),
        ("utf-8", True, ";", "\r\n"),
        ("cp1251", False, ";", "\r\n"),
        ("cp1251", False, "\t", "\n"),
        ("utf-8", False, "\t", "\r\n"),
    ],
    ids=[
        "utf8-comma-lf",
        "utf8bom-semicolon-crlf",
        "cp1251-semicolon-crlf",
        "cp1251-tab",
        "utf8-tab",
    ],
)
def test_csv_encodings_and_delimiters(merchant, tmp_path, encoding, bom, delimiter, newline):
    path = write_csv(
        tmp_path / "c.csv",
        sample_rows(),
        encoding=encoding,
        bom=bom,
        delimiter=delimiter,
        newline=newline,
    )
    report = run(merchant, path)
    assert (report.rows_total, report.created, report.rejected) == (3, 3, 0)
    assert report.delimiter == delimiter
    anna = Client.objects.get(merchant=merchant, phone="+79131234567")
    assert anna.full_name == "Иванова Анна"  # Cyrillic survived the encoding
    assert anna.birthday == dt.date(1990, 2, 1)
    assert anna.email == "anna@example.com"
    assert anna.gender == "f"
    assert anna.source_detail == "2ГИС"
    assert (anna.imported, anna.source) == (True, ClientSource.IMPORT)
    assert not report.unknown_columns


def test_quoted_fields_with_delimiters_and_newlines_keep_row_numbers(merchant, tmp_path):
    rows = [
        ["Телефон", "ФИО", "Комментарий"],
        ["+79131234567", "Иванова; Анна", "line one\nline two\r\nline three"],
        ["bad", "Петров", 'said "hi", left'],
        ["89131234568", "Сидоров", ""],
    ]
    path = write_csv(tmp_path / "q.csv", rows, delimiter=";", newline="\r\n")
    report = run(merchant, path)
    assert report.created == 2
    assert Client.objects.get(phone="+79131234567").full_name == "Иванова; Анна"
    # The multi-line record is one spreadsheet row: the bad phone is on row 3.
    assert report.errors == [
        {"row": 3, "column": "Телефон", "message": "“bad” is not a phone number."}
    ]
    assert report.unknown_columns == ["Комментарий"]


def test_xlsx_with_title_row_real_dates_and_numeric_phones(merchant, tmp_path):
    rows = [
        ["Номер телефона", "Имя", "Фамилия", "ДР", "Бонусы"],
        [79131234567, "Анна", "Иванова", dt.date(1990, 2, 1), 150],
        [89131234568.0, "Пётр", "Петров", dt.datetime(1985, 12, 31, 0, 0), 12.5],
        ["'+79131234569", "Иван", "", "31.02.1990", ""],
    ]
    path = write_xlsx(tmp_path / "c.xlsx", rows, title="Клиенты на 01.06.2024")
    report = run(merchant, path)
    assert report.header_row == 3  # title row 1, blank row 2
    assert report.created == 2
    anna = Client.objects.get(phone="+79131234567")
    assert (anna.full_name, anna.birthday, anna.balance) == (
        "Иванова Анна",
        dt.date(1990, 2, 1),
        Decimal("150.00"),
    )
    assert Client.objects.get(phone="+79131234568").birthday == dt.date(1985, 12, 31)
    # The real sheet row of the impossible date.
    assert report.errors == [
        {"row": 6, "column": "ДР", "message": "“31.02.1990” is not a real date."}
    ]


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ["Телефон", "ФИО", "Дата рождения", "Email"],
        ["  номер   ТЕЛЕФОНА ", "фио", "ДР", "E-mail"],
        ["Phone", "Full name", "Birthday", "Почта"],
        ["PHONE:", "Name", "birth date", "e-mail"],
    ],
)
def test_header_synonyms_case_and_space_insensitive(merchant, tmp_path, header):
    rows = [header, ["89131234567", "Анна", "01.02.1990", "A@B.RU"]]
    report = run(merchant, write_csv(tmp_path / "h.csv", rows))
    assert report.created == 1
    client = Client.objects.get()
    assert (client.full_name, client.birthday, client.email) == (
        "Анна",
        dt.date(1990, 2, 1),
        "a@b.ru",
    )


def test_first_and_last_name_columns_and_unknown_columns(merchant, tmp_path):
    rows = [
        ["Фамилия", "Имя", "Отчество", "Телефон", "Пол", "Карта", "Любимое блюдо", "Пол"],
        ["Иванова", "Анна", "Сергеевна", "9131234567", "Ж", "'00123", "суши", "м"],
    ]
    report = run(merchant, write_csv(tmp_path / "n.csv", rows))
    client = Client.objects.get()
    assert client.full_name == "Иванова Анна Сергеевна"
    assert (client.gender, client.card_code) == ("f", "00123")
    assert report.unknown_columns == ["Любимое блюдо", "Пол"]


def test_no_phone_column_names_the_columns_seen(merchant, tmp_path):
    rows = [["ФИО", "Мобила", "Дата"], ["Анна", "12345", "01.01.1990"]]
    with pytest.raises(ImportFileError) as exc:
        run(merchant, write_csv(tmp_path / "x.csv", rows))
    assert "“ФИО”, “Мобила”, “Дата”" in str(exc.value)
    assert not Client.objects.exists()


# --- phones, dates, e-mails ----------------------------------------------------------------


@pytest.mark.parametrize(
    "country,raw,expected",
    [
        ("RU", "+7 (913) 123-45-67", "+79131234567"),
        ("RU", "8 913 123 45 67", "+79131234567"),
        ("RU", "9131234567", "+79131234567"),
        ("RU", "'+79131234567", "+79131234567"),
        ("RU", "79131234567.0", "+79131234567"),
        ("KZ", "8 701 123 45 67", "+77011234567"),
        ("KZ", "+7 (701) 123-45-67", "+77011234567"),
        ("KZ", "7011234567", "+77011234567"),
        ("GE", "555 12 34 56", "+995555123456"),
        ("GE", "+995 555 123 456", "+995555123456"),
        ("GE", "995555123456", "+995555123456"),
    ],
)
def test_phone_formats_by_merchant_country(tmp_path, country, raw, expected):
    merchant = MerchantFactory(country=country)
    report = run(merchant, write_csv(tmp_path / "p.csv", [["Телефон"], [raw]]))
    assert report.created == 1, report.errors
    assert phones(merchant) == {expected}


def test_invalid_phones_are_row_errors(merchant, tmp_path):
    rows = [
        ["Телефон", "ФИО"],
        ["12345", "a"],
        ["", "b"],
        ["+7 (013) 123-45-67", "c"],
        ["9131234567", "d"],
    ]
    report = run(merchant, write_csv(tmp_path / "p.csv", rows))
    assert (report.created, report.rejected) == (1, 3)
    assert [e["row"] for e in report.errors] == [2, 3, 4]
    assert all(e["column"] == "Телефон" for e in report.errors)


def test_birthdays_formats_and_bad_dates(merchant, tmp_path):
    future = (dt.date.today() + dt.timedelta(days=400)).strftime("%d.%m.%Y")
    rows = [
        ["Телефон", "Дата рождения"],
        ["9131234501", "01.02.1990"],
        ["9131234502", "1990-02-01"],
        ["9131234503", "32905"],  # an Excel serial copied as text
        ["9131234504", "1.2.90"],
        ["9131234505", "30.02.2001"],
        ["9131234506", future],
        ["9131234507", "вчера"],
        ["9131234508", ""],
    ]
    report = run(merchant, write_csv(tmp_path / "d.csv", rows))
    born = dict(Client.objects.values_list("phone", "birthday"))
    assert born["+79131234501"] == born["+79131234502"] == dt.date(1990, 2, 1)
    assert born["+79131234503"] == dt.date(1990, 2, 1)
    assert born["+79131234504"] == dt.date(1990, 2, 1)
    assert born["+79131234508"] is None
    assert [(e["row"], e["column"]) for e in report.errors] == [
        (6, "Дата рождения"),
        (7, "Дата рождения"),
        (8, "Дата рождения"),
    ]
    assert "future" in report.errors[1]["message"]


def test_emails_lower_cased_and_validated(merchant, tmp_path):
    rows = [
        ["Телефон", "Почта"],
        ["9131234501", " Anna@Example.COM "],
        ["9131234502", "not-an-email"],
    ]
    report = run(merchant, write_csv(tmp_path / "e.csv", rows))
    assert Client.objects.get().email == "anna@example.com"
    assert report.errors == [
        {"row": 3, "column": "Почта", "message": "“not-an-email” is not an e-mail address."}
    ]


def test_a_row_with_any_error_is_rejected_whole(merchant, tmp_path):
    rows = [["Телефон", "ДР", "Email"], ["9131234501", "99.99.1990", "ok@example.com"]]
    report = run(merchant, write_csv(tmp_path / "w.csv", rows))
    assert (report.created, report.rejected) == (0, 1)
    assert not Client.objects.exists()


# --- duplicates, existing clients, opening balance ----------------------------------------


def test_duplicates_in_file_first_occurrence_wins(merchant, tmp_path):
    rows = [
        ["Телефон", "ФИО"],
        ["+7 913 123-45-67", "First"],
        ["89131234567", "Second"],
        ["9131234567", "Third"],
    ]
    report = run(merchant, write_csv(tmp_path / "d.csv", rows))
    assert (report.created, report.skipped, report.duplicates, report.rejected) == (1, 2, 2, 0)
    assert Client.objects.get().full_name == "First"
    assert [e["row"] for e in report.errors] == [3, 4]
    assert "row 2" in report.errors[0]["message"]


def test_existing_clients_fill_empty_fields_and_never_overwrite(merchant, tmp_path):
    ClientFactory(merchant=merchant, phone="+79131234567", full_name="Old name", email="")
    other = MerchantFactory()
    ClientFactory(merchant=other, phone="+79131234568", full_name="Other merchant's")
    rows = [
        ["Телефон", "ФИО", "Email"],
        ["89131234567", "New name", "new@example.com"],
        ["89131234568", "Created here", ""],
    ]
    report = run(merchant, write_csv(tmp_path / "x.csv", rows))
    assert (report.created, report.updated) == (1, 1)
    existing = Client.objects.get(merchant=merchant, phone="+79131234567")
    assert (existing.full_name, existing.email) == ("Old name", "new@example.com")
    assert existing.source == ClientSource.ORGANIC and not existing.imported
    assert Client.objects.get(merchant=other).full_name == "Other merchant's"

    # Same file again: nothing left to fill.
    again = run(merchant, write_csv(tmp_path / "x.csv", rows))
    assert (again.created, again.updated, again.skipped) == (0, 0, 2)


def test_overwrite_option_replaces_fields(merchant, tmp_path):
    ClientFactory(merchant=merchant, phone="+79131234567", full_name="Old name")
    rows = [["Телефон", "ФИО", "Email"], ["89131234567", "New name", ""]]
    report = run(merchant, write_csv(tmp_path / "o.csv", rows), overwrite=True)
    assert report.updated == 1
    client = Client.objects.get()
    assert client.full_name == "New name"
    assert client.email == ""  # an empty cell never blanks a field


def test_opening_balance_once_and_ledger_equals_balance(merchant, tmp_path):
    ClientFactory(merchant=merchant, phone="+79131234569", full_name="Existing")
    rows = [
        ["Телефон", "Баллы"],
        ["9131234567", "1 500,50"],
        ["9131234568", "0"],
        ["9131234569", "70"],
        ["9131234570", "-5"],
    ]
    path = write_csv(tmp_path / "b.csv", rows, delimiter=";")
    first = run(merchant, path)
    assert first.opening_balances == 2
    assert first.errors[0]["row"] == 5 and first.errors[0]["column"] == "Баллы"
    again = run(merchant, path)
    assert again.opening_balances == 0
    assert run(merchant, path, overwrite=True).opening_balances == 0

    entries = LedgerEntry.objects.filter(merchant=merchant)
    assert sorted(entries.values_list("points", flat=True)) == [
        Decimal("70.00"),
        Decimal("1500.50"),
    ]
    assert set(entries.values_list("kind", flat=True)) == {LedgerKind.OPENING_BALANCE}
    for client in Client.objects.filter(merchant=merchant):
        total = client.ledger.aggregate(s=Sum("points"))["s"] or Decimal("0.00")
        assert client.balance == total


def test_formula_text_is_stored_as_written(merchant, tmp_path):
    rows = [["Телефон", "ФИО", "Карта"], ["9131234567", '=HYPERLINK("http://x","y")', "@SUM(1)"]]
    run(merchant, write_csv(tmp_path / "f.csv", rows))
    client = Client.objects.get()
    assert client.full_name == '=HYPERLINK("http://x","y")'
    assert client.card_code == "@SUM(1)"


# --- dry run, bad files, rollback ---------------------------------------------------------


def test_dry_run_counts_everything_and_writes_nothing(merchant, tmp_path):
    ClientFactory(merchant=merchant, phone="+79131234567", full_name="", email="")
    rows = sample_rows() + [
        ["9131234569", "dup", "", "", "", "", "", ""],
        ["1", "", "", "", "", "", "", ""],
    ]
    before = Client.objects.count()
    report = run(merchant, write_csv(tmp_path / "d.csv", rows), dry_run=True)
    assert (report.created, report.updated, report.skipped, report.rejected) == (2, 1, 1, 1)
    assert report.opening_balances == 1
    assert Client.objects.count() == before
    assert Client.objects.get(phone="+79131234567").full_name == ""
    assert not LedgerEntry.objects.exists()
    assert [p["action"] for p in report.preview] == ["update", "new", "new"]


def test_bad_files_write_nothing(merchant, tmp_path, settings):
    ClientFactory(merchant=merchant)
    before = Client.objects.count()
    good_xlsx = write_xlsx(tmp_path / "good.xlsx", [["Телефон"], ["9131234567"]])
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good_xlsx.read_bytes()[:1500])
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\xef\xbb\xbf\r\n\r\n")
    fake_xlsx = tmp_path / "fake.xlsx"
    fake_xlsx.write_text("Телефон\n9131234567\n")
    cases = {
        truncated: "damaged or truncated",
        binary: "binary content",
        empty: "The file is empty.",
        blank: "The file is empty.",
        fake_xlsx: "not an Excel workbook",
    }
    for path, message in cases.items():
        with pytest.raises(ImportFileError) as exc:
            run(merchant, path)
        assert message in str(exc.value), (path, str(exc.value))
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ImportFileError, match="too big"):
        run(merchant, write_csv(tmp_path / "big.csv", sample_rows()))
    assert Client.objects.count() == before


def test_failure_half_way_leaves_no_partial_rows(merchant, tmp_path, monkeypatch):
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 2)
    rows = [["Телефон", "Баллы"]] + [[f"91312345{i:02d}", "10"] for i in range(10)]
    path = write_csv(tmp_path / "h.csv", rows)
    calls = {"n": 0}
    original = ClientWriter.apply

    def failing_apply(self, records, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(self, records, **kwargs)

    monkeypatch.setattr(ClientWriter, "apply", failing_apply)
    with pytest.raises(RuntimeError):
        run(merchant, path)
    assert calls["n"] == 3  # two chunks had been written before the failure
    assert not Client.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_encoding_break_half_way_rolls_back(merchant, tmp_path, monkeypatch):
    """UTF-8 for the first thousands of rows, then a Windows-1251 row: detected only after
    several chunks were written, and everything is rolled back."""
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 100)
    from crm.importing import readers

    monkeypatch.setattr(readers, "SAMPLE_BYTES", 1024)
    good = "\n".join(["Телефон,ФИО"] + [f"913{i:07d},Анна" for i in range(3000)]) + "\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(good.encode("utf-8") + "9139999999,Пётр\n".encode("cp1251"))
    calls = {"n": 0}
    original = ClientWriter.apply

    def counting_apply(self, records, **kwargs):
        calls["n"] += 1
        return original(self, records, **kwargs)

    monkeypatch.setattr(ClientWriter, "apply", counting_apply)
    with pytest.raises(ImportFileError, match="encoding breaks after row"):
        run(merchant, path)
    assert calls["n"] > 5
    assert not Client.objects.exists()


# --- tenancy, runs, command ----------------------------------------------------------------


def test_a_specialist_cannot_import_into_another_merchant(tmp_path):
    specialist = UserFactory(username="spec-x", role="specialist")
    own, foreign = MerchantFactory(), MerchantFactory()
    own.specialists.add(specialist)
    path = write_csv(tmp_path / "t.csv", sample_rows())
    with pytest.raises(ImportFileError, match="cannot import"):
        run(foreign, path, user=specialist)
    assert run(own, path, user=specialist).created == 3
    assert not Client.objects.filter(merchant=foreign).exists()


def test_stale_running_batch_is_marked(merchant):
    from django.utils import timezone

    old = timezone.now() - dt.timedelta(hours=2)
    batch = ImportBatch.objects.create(merchant=merchant, status="running", heartbeat_at=old)
    fresh = ImportBatch.objects.create(
        merchant=merchant, status="running", heartbeat_at=timezone.now()
    )
    assert import_batches_mark_stale() == 1
    batch.refresh_from_db()
    fresh.refresh_from_db()
    assert (batch.status, fresh.status) == ("stale", "running")
    assert "Nothing was written" in batch.message


def test_celery_task_runs_a_batch(merchant, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.importing import import_batch_create
    from crm.tasks import import_batch_task

    upload = SimpleUploadedFile("c.csv", write_csv(tmp_path / "c.csv", sample_rows()).read_bytes())
    batch = import_batch_create(merchant=merchant, user=None, upload=upload)
    result = import_batch_task.apply(args=[batch.pk]).get()
    assert result == {"id": batch.pk, "status": "done"}
    batch.refresh_from_db()
    assert (batch.created, batch.progress, batch.rows_total) == (3, 100, 3)
    # A redelivered task does nothing for a finished batch.
    import_batch_task.apply(args=[batch.pk])
    assert Client.objects.count() == 3


def test_command_report_json_and_exit_codes(merchant, tmp_path, capsys):
    rows = sample_rows() + [
        ["bad", "", "", "x@", "", "", "", ""],
        ["9131234567", "", "", "", "", "", "", ""],
    ]
    path = write_csv(tmp_path / "c.csv", rows + [], delimiter=";")
    report_path = tmp_path / "r.json"
    call_command("import_clients", str(path), merchant=merchant.slug, report_json=str(report_path))
    data = json.loads(report_path.read_text())
    for key in ("rows_total", "created", "updated", "skipped", "errors", "unknown_columns"):
        assert key in data
    assert (data["rows_total"], data["created"], data["skipped"]) == (5, 3, 1)
    assert {"row": 5, "column": "Телефон", "message": "“bad” is not a phone number."} in data[
        "errors"
    ]
    assert all(set(e) == {"row", "column", "message"} for e in data["errors"])
    assert ImportBatch.objects.get().status == "done"

    call_command("import_clients", str(path), merchant=merchant.slug, dry_run=True)
    assert Client.objects.count() == 3

    with pytest.raises(CommandError, match="No merchant"):
        call_command("import_clients", str(path), merchant="nope")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(CommandError, match="empty"):
        call_command(
            "import_clients", str(bad), merchant=merchant.slug, report_json=str(report_path)
        )
    assert json.loads(report_path.read_text())["file_error"] == "The file is empty."


def test_command_exit_status_from_the_command_line(merchant, tmp_path, capsys, monkeypatch):
    """As `manage.py import_clients` runs it: exit 1 with one line on a file not processed,
    exit 0 when processed with row errors."""
    from django.db import connections

    from crm.management.commands.import_clients import Command

    monkeypatch.setattr(connections, "close_all", lambda: None)  # keep the test's connection

    bad = tmp_path / "x.csv"
    bad.write_bytes(b"\x00\x01" * 100)
    with pytest.raises(SystemExit) as exc:
        Command().run_from_argv(
            ["manage.py", "import_clients", str(bad), "--merchant", merchant.slug]
        )
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "binary content" in err

    rows = [["Телефон"], ["9131234567"], ["bad"]]
    good = write_csv(tmp_path / "g.csv", rows)
    Command().run_from_argv(["manage.py", "import_clients", str(good), "--merchant", merchant.slug])
    assert "1 rejected" in capsys.readouterr().out


def test_header_row_one_and_xlsx_is_detected_by_content(merchant, tmp_path):
    xlsx = write_xlsx(tmp_path / "real.xlsx", [HEADER_RU, ["9131234567"] + [""] * 7])
    renamed = tmp_path / "export.csv"
    renamed.write_bytes(xlsx.read_bytes())
    assert zipfile.is_zipfile(renamed)
    report = run(merchant, renamed)
    assert (report.header_row, report.created) == (1, 1)


def test_phone_created_meanwhile_is_left_alone(merchant, tmp_path, monkeypatch):
    """Someone creates a phone between the look-up and the insert: the import keeps going,
    their client is untouched and the row counts as skipped."""
    ClientFactory(merchant=merchant, phone="+79131234568", full_name="Created at the till")
    monkeypatch.setattr(ClientWriter, "_existing", lambda self, phones: {})
    report = run(merchant, write_csv(tmp_path / "r.csv", sample_rows()))
    assert (report.created, report.skipped) == (2, 1)
    assert Client.objects.get(phone="+79131234568").full_name == "Created at the till"
    anna = Client.objects.get(phone="+79131234567")
    assert anna.balance == Decimal("150.00") == anna.ledger.get().points
