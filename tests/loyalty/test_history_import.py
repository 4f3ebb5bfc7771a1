"""Purchase-history import: CSV/XLSX, rows rejected whole with their spreadsheet row number,
no points moved, client figures exact, re-import records nothing twice."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from crm.models import Client
from loyalty.importing_history import purchases_import
from loyalty.models import LedgerEntry, Purchase
from tests.factories import ClientFactory, reference_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


CSV = (
    "Телефон;Дата;Сумма;Оплачено баллами;Филиал\n"
    "8 913 000-00-01;05.03.2024 14:30;12000,50;500;ТЦ Планета\n"
    "+7 913 000 00 01;20.06.2024;25000;0;\n"
    "8 913 000-00-02;2024-07-01 10:00;18000;0;ТЦ Сити Молл\n"
    "8 913 000-00-02;2024-07-01 10:00;18000;0;ТЦ Сити Молл\n"  # identical row: skipped
    "8 999 000-00-09;01.01.2024;100;0;\n"  # unknown client
    "8 913 000-00-01;31.02.2024;100;0;\n"  # no such date
    "8 913 000-00-01;01.02.2024;100;200;\n"  # points above the check
    "8 913 000-00-01;01.02.2024;100;0;Нет такого\n"  # unknown branch
)


@pytest.fixture
def zolotoff():
    merchant = reference_merchant("zolotoff")
    ClientFactory(merchant=merchant, phone="+79130000001", balance=0)
    ClientFactory(merchant=merchant, phone="+79130000002")
    return merchant


def write(tmp_path, text, name="history.csv", encoding="cp1251"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_csv_history_import(tmp_path, zolotoff):
    report = purchases_import(merchant=zolotoff, path=write(tmp_path, CSV))
    assert (report.rows_total, report.created, report.skipped, report.rejected) == (8, 3, 1, 4)
    assert [e["row"] for e in report.errors] == [6, 7, 8, 9]
    assert (
        "import the client base first" in report.errors[0]["message"] or report.errors[0]["message"]
    )
    first = Client.objects.get(phone="+79130000001")
    assert (first.purchases_count, first.total_spent, first.balance) == (2, D("37000.50"), 0)
    assert first.tier.position == 2  # 37 000 ≥ 30 000
    tz = zolotoff.tzinfo
    assert first.first_purchase_at == dt.datetime(2024, 3, 5, 14, 30, tzinfo=tz)
    assert first.last_purchase_at == dt.datetime(2024, 6, 20, 12, 0, tzinfo=tz)
    march = Purchase.objects.get(client=first, amount=D("12000.50"))
    assert (march.points_redeemed, march.paid_money, march.points_accrued, march.source) == (
        D(500),
        D("11500.50"),
        0,
        "import",
    )
    assert march.branch.name == "ТЦ Планета"
    assert not LedgerEntry.objects.exists()  # balances come as opening balances, not from history
    again = purchases_import(merchant=zolotoff, path=write(tmp_path, CSV))
    assert (again.created, again.skipped) == (0, 4)
    assert Purchase.objects.count() == 3


def test_xlsx_history_import_and_dry_run(tmp_path, zolotoff):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["История покупок"])
    sheet.append(["Phone", "Date", "Amount", "Points paid", "Branch"])
    sheet.append([79130000001, dt.datetime(2024, 5, 1, 9, 15), 5000, 0, "пр. Металлургов"])
    sheet.append([79130000002, dt.date(2024, 5, 2), "abc", 0, None])
    path = tmp_path / "history.xlsx"
    book.save(path)
    dry = purchases_import(merchant=zolotoff, path=str(path), dry_run=True)
    assert (dry.created, dry.rejected, dry.errors[0]["row"]) == (1, 1, 4)
    assert not Purchase.objects.exists()
    report = purchases_import(merchant=zolotoff, path=str(path))
    assert report.created == 1
    assert Purchase.objects.get().occurred_at == dt.datetime(
        2024, 5, 1, 9, 15, tzinfo=zolotoff.tzinfo
    )


def test_command(tmp_path, zolotoff, capsys):
    out = tmp_path / "report.json"
    call_command(
        "import_purchases",
        write(tmp_path, CSV),
        "--merchant",
        "zolotoff",
        "--report-json",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["created"] == 3 and len(data["errors"]) == 4
    with pytest.raises(CommandError):
        call_command("import_purchases", write(tmp_path, CSV), "--merchant", "nope")
    missing = write(tmp_path, "Телефон;Сумма\n89130000001;100\n", name="bad.csv")
    with pytest.raises(CommandError):
        call_command("import_purchases", missing, "--merchant", "zolotoff")
