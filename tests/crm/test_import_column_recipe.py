"""The recipe "Adding an import column" (docs/import.md) followed in a few lines: a toy column —
the client's consent to messages, a field the import did not fill — registered at test time,
recognised by its header, cleaned, written, offered on the mapping step and undone."""

import datetime as dt
import json

import pytest
from django.core.management import call_command

from crm.importing import import_file_run
from crm.importing import writer as writer_module
from crm.importing.fields import FieldSpec, register_field, unregister_field
from crm.importing.headers import FIELD_LABELS
from crm.importing.undo import import_run_undo
from crm.models import Client
from tests.crm.import_files import write_csv
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def yes_no(value):
    """The recipe's cleaning step: a cell → the value, or ValueError with the row's message."""
    text = str(value or "").strip().lower()
    if not text:
        return None  # an empty cell: a new client gets the model's default, nobody is blanked
    if text in ("да", "yes", "1"):
        return True
    if text in ("нет", "no", "0"):
        return False
    raise ValueError(f"“{value}” is not yes or no.")


@pytest.fixture
def consent_column():
    # The recipe: one spec (the model field `Client.consent` already exists).
    spec = register_field(
        FieldSpec(
            name="consent",
            label="consent",
            synonyms=("Согласие на рассылку", "Consent"),
            hint=r"согласи|consent",
            clean=yes_no,
        )
    )
    yield spec
    unregister_field("consent")
    assert "consent" not in FIELD_LABELS


def test_toy_column_is_recognised_cleaned_and_written(consent_column, merchant, tmp_path):
    existing = ClientFactory(merchant=merchant, phone="+79131234569", consent=True)
    rows = [
        ["Телефон", "ФИО", "Согласие на SMS-рассылку"],  # named by the hint, not a synonym
        ["89131234567", "Анна", "да"],
        ["89131234568", "Пётр", "нет"],
        ["89131234566", "Иван", ""],
        ["89131234565", "Олег", "может быть"],
        ["89131234569", "", "нет"],
    ]
    report_path = tmp_path / "r.json"
    call_command(
        "import_clients",
        str(write_csv(tmp_path / "c.csv", rows)),
        "--merchant",
        merchant.slug,
        "--overwrite",
        "--report-json",
        str(report_path),
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["columns"]["consent"] == "Согласие на SMS-рассылку"
    assert report["errors"] == [
        {
            "row": 5,
            "column": "Согласие на SMS-рассылку",
            "message": "“может быть” is not yes or no.",
        }
    ]
    consent = dict(Client.objects.filter(merchant=merchant).values_list("phone", "consent"))
    assert consent == {
        "+79131234567": True,
        "+79131234568": False,
        "+79131234566": True,  # empty cell: the model's default
        "+79131234569": False,  # overwritten
    }
    existing.refresh_from_db()
    assert existing.consent is False


def test_toy_column_by_hand_mapping_and_undo(consent_column, merchant, tmp_path):
    existing = ClientFactory(merchant=merchant, phone="+79131234567", consent=True)
    rows = [["Телефон", "Флаг"], ["89131234567", "нет"]]
    batch, report = import_file_run(
        merchant=merchant,
        path=str(write_csv(tmp_path / "c.csv", rows)),
        overwrite=True,
        mapping={"columns": {"consent": "Флаг"}, "ignore": [], "preset": ""},
    )
    assert report.columns == {"phone": "Телефон", "consent": "Флаг"}
    existing.refresh_from_db()
    assert existing.consent is False
    import_run_undo(batch=batch, user=None)
    existing.refresh_from_db()
    assert existing.consent is True


def test_written_fields_are_named_so_their_order_does_not_matter(merchant, tmp_path, monkeypatch):
    """A new column cannot shift another one: reverse the writer's field list and every value
    still lands in its own column (dates converted by field name on SQLite)."""
    names = writer_module.written_fields()
    monkeypatch.setattr(writer_module, "written_fields", lambda: tuple(reversed(names)))
    ClientFactory(merchant=merchant, phone="+79131234567", full_name="", birthday=None, email="")
    rows = [
        ["Телефон", "ФИО", "Дата рождения", "Email", "Город"],
        ["89131234567", "Анна", "01.02.1990", "anna@example.com", "Томск"],
        ["89131234568", "Пётр", "31.12.1985", "petr@example.com", "Омск"],
    ]
    import_file_run(
        merchant=merchant,
        path=str(write_csv(tmp_path / "c.csv", rows)),
        mapping={"columns": {}, "ignore": [], "preset": "", "notes": ["Город"]},
    )
    values = {
        c.phone: (c.full_name, c.birthday, c.email, c.notes)
        for c in Client.objects.filter(merchant=merchant)
    }
    assert values == {
        "+79131234567": ("Анна", dt.date(1990, 2, 1), "anna@example.com", "Город: Томск"),
        "+79131234568": ("Пётр", dt.date(1985, 12, 31), "petr@example.com", "Город: Омск"),
    }
