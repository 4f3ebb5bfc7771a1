"""Cleaning in a second process gives exactly the in-process result, and a cleaner that dies
leaves nothing written; the cleaning shortcuts (remembered cells, plain e-mails) agree with the
full parsers."""

import datetime as dt
import os
import pickle
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from psycopg import pq

from crm.importing import clients_import, readers
from crm.importing import headers as h
from crm.importing import parallel as import_parallel
from crm.importing import service as import_service
from crm.importing import sorting as import_sorting
from crm.importing.cleaning import Record, RowCleaner, parse_email
from crm.importing.errors import ImportFileError
from crm.models import Client
from loyalty.models import LedgerEntry
from tests.conftest import requires_postgres
from tests.crm.import_files import HEADER_RU, write_csv
from tests.factories import ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def _rows(n: int) -> list[list]:
    rows = [HEADER_RU]
    for i in range(n):
        phone = f"8 913 {i:03d}-{i % 100:02d}-{(i * 7) % 100:02d}"
        if i % 17 == 5:
            phone = "12345"  # rejected
        if i % 23 == 7 and i > 30:
            phone = rows[i - 20][0]  # a duplicate of an earlier row
        rows.append(
            [
                phone,
                f"Клиент {i}",
                f"{1 + i % 28:02d}.{1 + i % 12:02d}.19{50 + i % 50}" if i % 37 else "31.02.1990",
                f"User{i}@Example.com" if i % 31 else "not-an-email",
                ["м", "ж", ""][i % 3] if i % 29 else "X",
                f"{i % 500},5" if i % 5 == 0 else "",
                str(100000 + i) if i % 6 == 0 else "",
                "Instagram" if i % 2 else "",
            ]
        )
    return rows


def _readers_in(log):
    """`sorting.write_chunks`, noting the id of each process that runs it in the file `log`."""
    original = import_parallel.write_chunks

    def noting(*args, **kwargs):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        yield from original(*args, **kwargs)

    return noting


def _clients(merchant) -> list[tuple]:
    return sorted(
        Client.objects.filter(merchant=merchant).values_list(
            "phone", "full_name", "birthday", "email", "gender", "card_code", "balance"
        )
    )


def test_second_process_gives_the_in_process_result(tmp_path, settings, monkeypatch):
    log = tmp_path / "readers.log"
    monkeypatch.setattr(import_parallel, "write_chunks", _readers_in(log))
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 120)
    path = write_csv(tmp_path / "c.csv", _rows(700))
    serial, forked = MerchantFactory(slug="serial"), MerchantFactory(slug="forked")
    ClientFactory(merchant=serial, phone="+79130010107", full_name="")
    ClientFactory(merchant=forked, phone="+79130010107", full_name="")

    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    one = clients_import(merchant=serial, path=str(path))
    assert log.read_text().split() == [str(os.getpid())]  # read and cleaned here
    settings.IMPORT_PARALLEL_MIN_BYTES = 1
    assert import_parallel.use_second_process(os.path.getsize(path))
    two = clients_import(merchant=forked, path=str(path))
    readers = log.read_text().split()
    assert len(readers) == 2 and readers[1] != str(os.getpid())  # in a second process

    for name in ("rows_total", "created", "updated", "skipped", "rejected", "duplicates"):
        assert getattr(one, name) == getattr(two, name), name
    assert one.opening_balances == two.opening_balances > 0
    assert one.rejected > 0 and one.duplicates > 0 and one.updated == 1
    assert one.errors == two.errors  # same rows, same columns, same messages, same order
    assert one.preview == two.preview
    assert _clients(serial) == _clients(forked)
    assert (
        LedgerEntry.objects.filter(client__merchant=serial).count()
        == LedgerEntry.objects.filter(client__merchant=forked).count()
        == one.opening_balances
    )


def test_the_first_chunk_is_smaller_and_changes_nothing_else(tmp_path, settings, monkeypatch):
    """The first write chunk holds at most `FIRST_CHUNK_ROWS` new phones (the writes start
    sooner), every later one `CHUNK_ROWS`; clients, counts and messages are those of equal
    chunks."""
    sizes = []
    original = import_parallel.write_chunks

    def noting(*args, **kwargs):
        for chunk in original(*args, **kwargs):
            sizes.append(len(chunk[0]))
            yield chunk

    monkeypatch.setattr(import_parallel, "write_chunks", noting)
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 120)
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    path = write_csv(tmp_path / "c.csv", _rows(700))
    equal, ramped = MerchantFactory(slug="equal"), MerchantFactory(slug="ramped")
    monkeypatch.setattr(import_sorting, "FIRST_CHUNK_ROWS", 1000)
    one = clients_import(merchant=equal, path=str(path))
    assert sizes[:-1] == [120] * (len(sizes) - 1)
    sizes.clear()
    monkeypatch.setattr(import_sorting, "FIRST_CHUNK_ROWS", 30)
    two = clients_import(merchant=ramped, path=str(path))
    assert sizes[0] == 30 and sizes[1:-1] == [120] * (len(sizes) - 2) and sum(sizes) == two.created
    differ = {"merchant", "written_at"}
    assert {k: v for k, v in one.as_dict().items() if k not in differ} == {
        k: v for k, v in two.as_dict().items() if k not in differ
    }
    assert one.created > 0 and one.rejected > 0 and one.duplicates > 0
    assert _clients(equal) == _clients(ramped)


@requires_postgres
def test_the_writer_takes_the_next_chunk_while_the_server_stores_one(
    tmp_path, settings, monkeypatch
):
    """PostgreSQL with a second reading process: each chunk's COPY takes the next chunk from
    the reader while the server stores the rows (`service._OneAhead`); the outcome is the
    in-process one."""
    taken = []
    original = import_service._OneAhead.fetch

    def noting(self):
        copying = connection.connection.info.transaction_status
        original(self)
        taken.append((copying, self.ahead is import_service._END))

    monkeypatch.setattr(import_service._OneAhead, "fetch", noting)
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 120)
    path = write_csv(tmp_path / "c.csv", _rows(700))
    serial, ahead = MerchantFactory(slug="serial"), MerchantFactory(slug="ahead")
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    one = clients_import(merchant=serial, path=str(path))
    assert taken == []
    settings.IMPORT_PARALLEL_MIN_BYTES = 1
    two = clients_import(merchant=ahead, path=str(path))
    # one take per chunk written, each during its COPY (a command in progress on the
    # connection); the last one took the end of the file
    assert len(taken) >= two.created // 120
    assert {status for status, _end in taken} == {pq.TransactionStatus.ACTIVE}
    assert [end for _status, end in taken] == [False] * (len(taken) - 1) + [True]
    differ = {"merchant", "written_at"}
    assert {k: v for k, v in one.as_dict().items() if k not in differ} == {
        k: v for k, v in two.as_dict().items() if k not in differ
    }
    assert _clients(serial) == _clients(ahead)


def test_a_dry_run_in_a_second_process_keeps_the_same_rejected_rows(tmp_path, settings):
    path = write_csv(tmp_path / "c.csv", _rows(400))
    merchant = MerchantFactory()
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    one = clients_import(merchant=merchant, path=str(path), dry_run=True)
    settings.IMPORT_PARALLEL_MIN_BYTES = 1
    two = clients_import(merchant=merchant, path=str(path), dry_run=True)
    assert one.rejected_rows and one.rejected_rows == two.rejected_rows
    assert one.as_dict() == two.as_dict()
    assert not Client.objects.filter(merchant=merchant).exists()


def _hostile_half_way_rows(n: int) -> bytes:
    good = "\n".join(["Телефон,ФИО"] + [f"913{i:07d},Анна" for i in range(n)]) + "\n"
    return good.encode("utf-8") + "9139999999,Пётр\n".encode("cp1251")


def test_a_file_error_met_by_the_second_process_is_raised_and_rolls_back(
    tmp_path, settings, monkeypatch
):
    settings.IMPORT_PARALLEL_MIN_BYTES = 1
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 100)
    monkeypatch.setattr(readers, "SAMPLE_BYTES", 1024)
    path = tmp_path / "mixed.csv"
    path.write_bytes(_hostile_half_way_rows(3000))
    merchant = MerchantFactory()
    with pytest.raises(ImportFileError, match="encoding breaks after row"):
        clients_import(merchant=merchant, path=str(path))
    assert not Client.objects.filter(merchant=merchant).exists()


def _dies_after_two_chunks(table, cleaner, report, size):
    chunks = import_sorting.write_chunks(table, cleaner, report, size)
    yield next(chunks)
    yield next(chunks)
    os._exit(3)  # the reading process killed mid-import, after two chunks were written


def test_a_cleaner_process_that_dies_leaves_nothing_written(tmp_path, settings, monkeypatch):
    settings.IMPORT_PARALLEL_MIN_BYTES = 1
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 20)
    monkeypatch.setattr(import_parallel, "write_chunks", _dies_after_two_chunks)
    merchant = MerchantFactory()
    path = write_csv(tmp_path / "c.csv", _rows(300))
    with pytest.raises(Exception, match="terminated abruptly"):
        clients_import(merchant=merchant, path=str(path))
    assert not Client.objects.filter(merchant=merchant).exists()
    assert not LedgerEntry.objects.exists()


def test_small_files_and_the_switch_stay_in_process(settings):
    settings.IMPORT_PARALLEL_MIN_BYTES = 1024
    assert not import_parallel.use_second_process(1000)
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    assert not import_parallel.use_second_process(10**9)


@pytest.mark.parametrize(
    "text",
    [
        "user@example.com",
        "first.last+tag@mail.example.co.uk",
        "a_b-c@sub-domain.example.org",
        "x@localhost",
        "user@example",
        "user@-example.com",
        "user@example-.com",
        "user@example.c",
        "user@example.123",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "user@exa_mple.com",
        "user@[127.0.0.1]",
        '"quoted user"@example.com',
        "пользователь@пример.рф",
        "user@пример.рф",
        "user@xn--e1afmkfd.xn--p1ai",
        "a" * 250 + "@example.com",
        "user@" + "a" * 64 + ".com",
        "user@" + "a" * 63 + ".com",
        "user@example.com\n",
    ],
)
def test_plain_e_mail_shortcut_agrees_with_the_validator(text):
    cell = text.strip().lower()
    try:
        validate_email(cell)
        expected = cell
    except ValidationError:
        expected = None
    try:
        got = parse_email(text)
    except ValueError:
        got = None
    assert got == expected


def test_remembered_cells_still_report_every_bad_row():
    headers = ["Телефон", "Дата рождения", "Пол", "Баллы"]
    mapping = {h.PHONE: 0, h.BIRTHDAY: 1, h.GENDER: 2, h.POINTS: 3}
    cleaner = RowCleaner(mapping=mapping, headers=headers, region="RU", today=dt.date(2026, 1, 1))
    good = ["+79131234567", "01.02.1990", "ж", "10,5"]
    bad = ["+79131234568", "31.02.1990", "X", "-1"]
    for number in (2, 3):
        record, errors = cleaner.clean(number, good)
        assert record.birthday == dt.date(1990, 2, 1) and record.gender == "f"
        assert str(record.points) == "10.50" and errors == []
    for number in (4, 5):
        record, errors = cleaner.clean(number, bad)
        assert record is None and len(errors) == 3


def test_a_chunk_crosses_the_pipe_exactly():
    day = dt.date(1990, 2, 3)
    records = [
        Record(2, "+79130000001", "Анна", day, "a@b.ru", "f", "01", "Сайт", Decimal("1.50")),
        Record(3, "+79130000002", "", None, "", "", "", "", None, {"consent": "да"}, "Note: x"),
        Record(4, "+79130000003", "a\x1fb", day, "", "m", "", "", Decimal("1E+2"), None, "a\nb"),
        Record(5, "+79130000004", "Пётр", dt.date(1, 1, 1), "", "", "", "", Decimal("0.00")),
    ]
    for chunk in (records, records[:1], records[1:2], []):
        packed = pickle.loads(pickle.dumps(import_parallel.pack_records(chunk)))
        back = import_parallel.unpack_records(packed)
        assert back == chunk
        for got, sent in zip(back, chunk, strict=True):
            assert type(got) is Record
            assert [type(v) for v in got] == [type(v) for v in sent]
            assert [str(v) for v in got] == [str(v) for v in sent]  # Decimal exponents too
