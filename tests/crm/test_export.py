"""Client export: CSV, XLSX and JSON; formula-looking text escaped everywhere; tenancy."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.exporting import clients_export, escape_cell
from crm.importing import clients_import
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

NASTY = ['=HYPERLINK("http://evil","x")', "+SUM(1,2)", "-2+3", "@cmd", "\tx", "Normal"]


@pytest.fixture
def base(merchant):
    ClientFactory(
        merchant=merchant,
        phone="+79131234567",
        full_name=NASTY[0],
        email="a@example.com",
        card_code=NASTY[3],
        source_detail=NASTY[1],
        birthday=dt.date(1990, 2, 1),
        balance=Decimal("12.50"),
    )
    ClientFactory(merchant=merchant, phone="+79131234568", full_name=NASTY[2])
    ClientFactory(merchant=MerchantFactory(), phone="+79131234569", full_name="Someone else's")
    return merchant


def export(merchant, fmt, **kwargs) -> bytes:
    out = io.BytesIO()
    clients_export(merchant=merchant, fmt=fmt, out=out, **kwargs)
    return out.getvalue()


def test_escape_cell():
    assert [escape_cell(v) for v in NASTY] == ["'" + v for v in NASTY[:5]] + ["Normal"]
    assert escape_cell(5) == 5 and escape_cell(None) is None


def test_csv_export_escapes_and_scopes(base):
    data = export(base, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["phone"] for r in rows] == ["+79131234567", "+79131234568"]
    first = rows[0]
    assert first["full_name"] == "'" + NASTY[0]
    assert first["card_code"] == "'@cmd"
    assert first["source_detail"] == "'+SUM(1,2)"
    assert first["birthday"] == "1990-02-01"
    assert rows[1]["full_name"] == "'-2+3"


def test_xlsx_export_has_no_formula_cells(base):
    workbook = openpyxl.load_workbook(io.BytesIO(export(base, "xlsx")))
    sheet = workbook.active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert "'" + NASTY[0] in values and "'@cmd" in values
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c.value for c in sheet[2]], strict=False))
    assert row["phone"] == "+79131234567"
    assert row["birthday"].date() == dt.date(1990, 2, 1)
    assert row["balance"] == 12.5


def test_json_export_contract(base):
    data = json.loads(export(base, "json"))
    assert isinstance(data, list) and len(data) == 2
    for key in ("phone", "full_name", "birthday", "email"):
        assert key in data[0]
    assert data[0]["phone"] == "+79131234567"
    assert data[0]["birthday"] == "1990-02-01"
    assert data[0]["email"] == "a@example.com"
    assert data[0]["full_name"] == "'" + NASTY[0]
    assert data[1]["birthday"] is None


def test_export_then_import_round_trip(base, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(export(base, "csv"))
    target = MerchantFactory(slug="copy")
    report = clients_import(merchant=target, path=str(path))
    assert (report.created, report.rejected) == (2, 0)
    assert "source_kind" in report.unknown_columns
    assert target.clients.get(phone="+79131234567").balance == Decimal("12.50")


def test_a_specialist_cannot_export_another_merchant(base):
    specialist = UserFactory(username="spec-exp", role="specialist")
    base.specialists.add(specialist)
    foreign = MerchantFactory()
    with pytest.raises(PermissionDenied):
        export(foreign, "json", user=specialist)
    assert len(json.loads(export(base, "json", user=specialist))) == 2


def test_export_command(base, tmp_path):
    for fmt in ("csv", "xlsx", "json"):
        out = tmp_path / f"clients.{fmt}"
        call_command("export_clients", merchant=base.slug, format=fmt, output=str(out))
        assert out.stat().st_size > 0
    assert len(json.loads((tmp_path / "clients.json").read_text())) == 2
    with pytest.raises(CommandError):
        call_command("export_clients", merchant="nope", format="csv", output=str(out))
