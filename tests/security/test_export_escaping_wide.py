"""Export escaping, widened (issue 11, item 18): formula signs after whitespace, line breaks or
invisible characters, fullwidth and small forms, tab/CR prefixes and `|` are escaped in the CSV
and XLSX exports (crm.exporting.escape_cell is the one rule of every export)."""

import csv
import io

import openpyxl
import pytest

from crm.exporting import clients_export, escape_cell
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    " =1+1",
    "  +1",
    '\n=HYPERLINK("http://x")',
    "\r\n-2",
    "\t@SUM(A1)",
    "\r=1",
    "\u3000=1",
    "\xa0@cmd",
    "\u200b=1",
    "\ufeff+1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
    "｜cmd",
    "﹦1",
    "|cmd",
    " |cmd",
    "=cmd|' /C calc'!A0",
]
SAFE = ["Иванова Анна", "  Анна", "a=b", "ok|x", "1-2", "e@mail"]


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_cell_escapes(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", SAFE)
def test_escape_cell_leaves_plain_text(value):
    assert escape_cell(value) == value


@pytest.fixture
def hostile_base(merchant):
    for i, value in enumerate(HOSTILE + SAFE):
        ClientFactory(merchant=merchant, phone=f"+7913123{i:04d}", full_name=value)
    return merchant


def _names(rows):
    return {r[1] for r in rows[1:]}


def test_csv_export_escapes_every_variant(hostile_base):
    out = io.BytesIO()
    clients_export(merchant=hostile_base, fmt="csv", out=out)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    names = _names(rows)
    assert {"'" + v for v in HOSTILE} <= names
    assert set(SAFE) <= names


def test_xlsx_export_escapes_every_variant_and_holds_no_formula(hostile_base):
    out = io.BytesIO()
    clients_export(merchant=hostile_base, fmt="xlsx", out=out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)

    def flat(text):  # a CR is stored as the escape _x000D_, which openpyxl returns as is
        return text.replace("_x000D_", "\r")

    names = {flat(n) for n in _names(rows) if n}
    assert {flat("'" + v) for v in HOSTILE} <= names
    assert set(SAFE) <= names
