"""Columns kept as the client's note («Column: value», one a line): the command line, the admin's
column step (saved and reused per merchant), presets, how a re-import merges with a note, the
dry-run report, and undo putting the previous note back."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm.importing import import_file_run
from crm.importing.cleaning import merge_note
from crm.importing.mapping import NOTE, mapping_from_cli, mapping_propose
from crm.importing.undo import import_run_undo
from crm.models import Client, ImportBatch, ImportMapping, ImportPriorValue
from tests.crm.import_files import admin_confirm_columns, write_csv
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

ROWS = [
    ["Телефон", "ФИО", "Город", "Комментарий", "Менеджер"],
    ["89131234567", "Иванова Анна", "Томск", "любит кофе\nбез сахара", "Оля"],
    ["89131234568", "Петров Пётр", "", "", "Оля"],
]


def cli(path, merchant, *args, report=None):
    extra = ["--report-json", str(report)] if report else []
    call_command("import_clients", str(path), "--merchant", merchant.slug, *args, *extra)


def test_cli_note_columns_become_lines_of_the_note(merchant, tmp_path, capsys):
    path = write_csv(tmp_path / "c.csv", ROWS)
    report_path = tmp_path / "r.json"
    cli(path, merchant, "--note", "Город", "--note", "Комментарий", report=report_path)
    anna = Client.objects.get(merchant=merchant, phone="+79131234567")
    assert anna.notes == "Город: Томск\nКомментарий: любит кофе без сахара"
    # Empty cells add no line; a client with none gets no note.
    assert Client.objects.get(merchant=merchant, phone="+79131234568").notes == ""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["note_columns"] == ["Город", "Комментарий"]
    assert report["unknown_columns"] == ["Менеджер"]
    assert "Kept as the client's note: Город, Комментарий." in capsys.readouterr().out


def test_dry_run_reports_note_columns_and_writes_nothing(merchant, tmp_path, capsys):
    path = write_csv(tmp_path / "c.csv", ROWS)
    report_path = tmp_path / "r.json"
    cli(path, merchant, "--note", "C", "--dry-run", report=report_path)  # a column letter
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["note_columns"] == ["Город"]
    assert report["preview"][0]["note"] == "Город: Томск"
    assert "Kept as the client's note: Город." in capsys.readouterr().out
    assert not Client.objects.exists()


def test_cli_note_refuses_a_missing_column_or_one_that_is_a_field(merchant, tmp_path):
    path = write_csv(tmp_path / "c.csv", ROWS)
    with pytest.raises(CommandError, match="“Район” \\(to keep as a note\\) is not in the file"):
        cli(path, merchant, "--note", "Район")
    with pytest.raises(CommandError, match="cannot be both a field and a note"):
        cli(path, merchant, "--map", "full_name=ФИО", "--note", "ФИО")
    with pytest.raises(ValueError, match="cannot be both a field and a note"):
        mapping_from_cli(["phone=Телефон"], notes=["телефон"])
    assert mapping_from_cli([], notes=["Город", "Город"])["notes"] == ["Город"]
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("old", "new", "overwrite", "merged"),
    [
        ("", "Город: Томск", False, "Город: Томск"),
        ("VIP", "", False, "VIP"),
        ("VIP", "Город: Томск", False, "VIP\nГород: Томск"),
        ("VIP\nГород: Томск", "Город: Томск", False, "VIP\nГород: Томск"),
        ("VIP\nГород: Томск", "Город: Омск", False, "VIP\nГород: Томск\nГород: Омск"),
        ("Город: Томск\nVIP", "Город: Омск\nСтатус: gold", True, "Город: Омск\nVIP\nСтатус: gold"),
    ],
)
def test_merge_note_never_drops_what_the_note_held(old, new, overwrite, merged):
    assert merge_note(new, old, overwrite) == merged


def test_reimport_appends_to_an_existing_note_and_is_idempotent(merchant, tmp_path):
    existing = ClientFactory(merchant=merchant, phone="+79131234567", notes="VIP, звонить днём")
    path = write_csv(tmp_path / "c.csv", ROWS)
    cli(path, merchant, "--note", "Город")
    existing.refresh_from_db()
    assert existing.notes == "VIP, звонить днём\nГород: Томск"
    cli(path, merchant, "--note", "Город")
    existing.refresh_from_db()
    assert existing.notes == "VIP, звонить днём\nГород: Томск"
    moved = [ROWS[0], ["89131234567", "Иванова Анна", "Омск", "", ""]]
    cli(write_csv(tmp_path / "m.csv", moved), merchant, "--note", "Город", "--overwrite")
    existing.refresh_from_db()
    assert existing.notes == "VIP, звонить днём\nГород: Омск"


def test_undo_restores_the_note_unless_it_changed_since(merchant, tmp_path):
    user = UserFactory(username="spec-notes-undo", role="specialist")
    merchant.specialists.add(user)
    kept = ClientFactory(merchant=merchant, phone="+79131234567", notes="VIP")
    edited = ClientFactory(merchant=merchant, phone="+79131234568", notes="")
    rows = [ROWS[0], ["89131234567", "", "Томск", "", ""], ["89131234568", "", "Омск", "", ""]]
    batch, _report = import_file_run(
        merchant=merchant,
        path=str(write_csv(tmp_path / "c.csv", rows)),
        user=user,
        mapping={"columns": {}, "ignore": [], "preset": "", "notes": ["Город"]},
    )
    assert batch.status == "done" and batch.updated == 2
    assert ImportPriorValue.objects.get(client=kept).values == {
        "notes": ["VIP", "VIP\nГород: Томск"]
    }
    Client.objects.filter(pk=edited.pk).update(notes="Город: Омск\nперезвонить")
    outcome = import_run_undo(batch=batch, user=user)
    assert outcome["restored"] == 1
    kept.refresh_from_db()
    edited.refresh_from_db()
    assert kept.notes == "VIP"
    assert edited.notes == "Город: Омск\nперезвонить"


def test_preset_keeps_its_comment_column_as_a_note(merchant, tmp_path):
    rows = [
        ["Имя", "Телефон", "Комментарий", "Группа"],
        ["Анна", "+79131234567", "аллергия на орехи", "Гости"],
    ]
    report_path = tmp_path / "r.json"
    cli(write_csv(tmp_path / "p.csv", rows), merchant, "--preset", "poster", report=report_path)
    assert Client.objects.get(phone="+79131234567").notes == "Комментарий: аллергия на орехи"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["note_columns"] == ["Комментарий"]
    assert report["unknown_columns"] == ["Группа"]


@pytest.fixture
def spec_client(client, settings):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10 * 1024 * 1024
    user = UserFactory(username="spec-notes", role="specialist")
    merchant = MerchantFactory(slug="notes-shop")
    merchant.specialists.add(user)
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.merchant = merchant
    return client


def upload(spec_client, tmp_path, name="c.csv"):
    path = write_csv(tmp_path / name, ROWS, delimiter=";")
    return spec_client.post(
        reverse("admin:crm_client_import"),
        {
            "merchant": spec_client.merchant.pk,
            "import_file": SimpleUploadedFile(name, path.read_bytes()),
            "format": "0",
        },
    )


def test_column_step_keeps_a_column_as_note_saves_and_reuses_it(spec_client, tmp_path):
    merchant = spec_client.merchant
    response = upload(spec_client, tmp_path)
    html = spec_client.get(response["Location"]).content.decode()
    assert f'<option value="{NOTE}">— keep as note —</option>' in html
    dry_run = admin_confirm_columns(spec_client, response, {2: NOTE, 3: NOTE})
    html = dry_run.content.decode()
    assert "Kept as the client's note (“Column: value”, one a line): Город, Комментарий" in html
    batch = ImportBatch.objects.get()
    assert batch.mapping["notes"] == [2, 3] and batch.mapping["ignore"] == [4]
    assert batch.report["note_columns"] == ["Город", "Комментарий"]
    saved = ImportMapping.objects.get(merchant=merchant)
    assert saved.mapping["notes"] == [2, 3]

    # The same columns again: "keep as note" is proposed for them.
    response = upload(spec_client, tmp_path, name="again.csv")
    again = ImportBatch.objects.exclude(pk=batch.pk).get()
    proposal = mapping_propose(batch=again)
    assert proposal.saved
    assert [c.field for c in proposal.columns] == ["phone", "full_name", NOTE, NOTE, ""]
    assert proposal.columns[2].reason == "kept as a note"

    spec_client.post(reverse("admin:crm_client_process_import"), {"batch": batch.pk})
    run = ImportBatch.objects.get(dry_run_of=batch)
    assert (run.status, run.created) == ("done", 2)
    anna = Client.objects.get(merchant=merchant, phone="+79131234567")
    assert anna.notes == "Город: Томск\nКомментарий: любит кофе без сахара"


def test_note_is_on_the_client_admin_page(spec_client):
    client = ClientFactory(merchant=spec_client.merchant, notes="Город: Томск")
    user = UserFactory(username="admin-notes", is_staff=True, is_superuser=True)
    spec_client.force_login(user)
    html = spec_client.get(reverse("admin:crm_client_change", args=[client.pk])).content.decode()
    assert 'name="notes"' in html and "Город: Томск" in html


def test_export_carries_the_note_escaped(merchant):
    from crm.resources import ClientResource

    ClientFactory(merchant=merchant, phone="+79131234567", notes="=HYPERLINK(1)\nГород: Томск")
    data = ClientResource().export(Client.objects.filter(merchant=merchant))
    assert data.dict[0]["notes"] == "'=HYPERLINK(1)\nГород: Томск"
