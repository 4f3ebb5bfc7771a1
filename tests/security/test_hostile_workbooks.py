"""Hostile spreadsheets (issue 11, items 1 and 4): a workbook is checked before the reader runs.

Each test patches python-calamine so that reaching the reader fails the test: on the code before
the guard, these files made the reader allocate gigabytes (A1 + XFD1048576: ~512 GiB) and the
process died."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from crm.importing import ImportFileError, clients_import, import_file_run
from crm.importing.workbooks import workbook_check
from crm.models import Client, ImportBatch
from loyalty.importing_history import purchases_import
from tests.security.workbook_files import (
    HEADER_ROW,
    sheet_xml,
    understate_sizes,
    write_xlsx,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader_forbidden(monkeypatch):
    """Fail loudly if a hostile workbook reaches python-calamine."""
    import python_calamine

    def refuse(*args, **kwargs):
        raise AssertionError("the reader was reached with a hostile workbook")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)


def far_corner(path):
    rows = HEADER_ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return write_xlsx(path, sheet_xml(rows))


def test_a1_and_xfd1048576_fails_the_run_with_one_message(merchant, tmp_path, reader_forbidden):
    path = far_corner(tmp_path / "two-cells.xlsx")
    assert path.stat().st_size < 4096
    batch, report = import_file_run(merchant=merchant, path=str(path))
    assert report is None
    assert batch.status == ImportBatch.Status.FAILED
    assert "XFD" in batch.message and "16384" in batch.message and "200" in batch.message
    assert batch.report == {"file_error": batch.message}
    assert not Client.objects.exists()


def test_the_refusal_reads_in_russian(merchant, tmp_path, reader_forbidden):
    path = far_corner(tmp_path / "two-cells.xlsx")
    with translation.override("ru"), pytest.raises(ImportFileError) as error:
        clients_import(merchant=merchant, path=str(path))
    assert "столбц" in str(error.value) and "XFD" in str(error.value)


def test_the_command_line_exits_with_the_message(merchant, tmp_path, reader_forbidden):
    path = far_corner(tmp_path / "two-cells.xlsx")
    with pytest.raises(CommandError, match="XFD"):
        call_command("import_clients", str(path), merchant=merchant.slug, dry_run=True)


def test_declared_dimension_over_the_limit_is_refused(merchant, tmp_path, reader_forbidden):
    path = write_xlsx(tmp_path / "dim.xlsx", sheet_xml(dimension="A1:XFD1048576"))
    with pytest.raises(ImportFileError, match="XFD"):
        clients_import(merchant=merchant, path=str(path))


def test_rows_beyond_the_limit_even_inside_an_early_row(
    merchant, tmp_path, settings, reader_forbidden
):
    settings.IMPORT_MAX_ROWS = 1000
    # The cell claims row 5000 from inside <row r="2">: the cell's own reference counts.
    rows = HEADER_ROW.replace('<c r="B2"', '<c r="A5000"><v>1</v></c><c r="B2"')
    path = write_xlsx(tmp_path / "rows.xlsx", sheet_xml(rows))
    with pytest.raises(ImportFileError, match="5000"):
        clients_import(merchant=merchant, path=str(path))


def test_cells_without_references_are_counted_by_position(merchant, tmp_path, reader_forbidden):
    cells = "".join("<c><v>1</v></c>" for _ in range(250))
    path = write_xlsx(tmp_path / "no-refs.xlsx", sheet_xml(HEADER_ROW + f"<row>{cells}</row>"))
    with pytest.raises(ImportFileError, match="250 columns"):
        clients_import(merchant=merchant, path=str(path))


def test_reader_memory_budget(merchant, tmp_path, settings, reader_forbidden):
    settings.IMPORT_WORKBOOK_MEMORY_BYTES = 1024 * 1024
    rows = HEADER_ROW + '<row r="20000"><c r="GR20000"><v>1</v></c></row>'  # 20 000 × 200
    path = write_xlsx(tmp_path / "area.xlsx", sheet_xml(rows))
    with pytest.raises(ImportFileError, match="too large to read safely"):
        clients_import(merchant=merchant, path=str(path))


def test_shared_strings_bomb_is_refused_by_unpacked_size(
    merchant, tmp_path, settings, reader_forbidden
):
    settings.IMPORT_MAX_DECOMPRESSED_BYTES = 2 * 1024 * 1024
    shared = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + "<si><t>"
        + "A" * (8 * 1024 * 1024)
        + "</t></si></sst>"
    )
    path = write_xlsx(tmp_path / "bomb.xlsx", sheet_xml(), shared=shared)
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(ImportFileError, match="unpacks to"):
        clients_import(merchant=merchant, path=str(path))


def test_zip_member_lying_about_its_size_is_refused(merchant, tmp_path, settings, reader_forbidden):
    shared = "<sst><si><t>" + "B" * (4 * 1024 * 1024) + "</t></si></sst>"
    path = write_xlsx(tmp_path / "liar.xlsx", sheet_xml(), shared=shared)
    understate_sizes(path, "xl/sharedStrings.xml", 100)
    with pytest.raises(ImportFileError, match="cannot be read"):
        clients_import(merchant=merchant, path=str(path))


def test_entity_declarations_are_refused(merchant, tmp_path, reader_forbidden):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" if i else "&lol;"}' * 10 + '">'
            for i in range(1, 9)
        )
        + "]>"
    )
    path = write_xlsx(
        tmp_path / "laughs.xlsx",
        sheet_xml(prolog=laughs).replace('<?xml version="1.0" encoding="UTF-8"?>', ""),
    )
    with pytest.raises(ImportFileError, match="document type declaration"):
        clients_import(merchant=merchant, path=str(path))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "97–2003"),
        ("garbage.xlsx", b"PK\x03\x04" + b"\x07garbage" * 100, "cannot be read"),
    ],
)
def test_unsupported_or_damaged_workbooks(
    merchant, tmp_path, reader_forbidden, name, data, message
):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImportFileError, match=message):
        clients_import(merchant=merchant, path=str(path))


def test_opendocument_is_refused(merchant, tmp_path, reader_forbidden):
    import zipfile

    path = tmp_path / "bomb.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr(
            "content.xml",
            '<table:table-row table:number-rows-repeated="1048576">'
            '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>',
        )
    with pytest.raises(ImportFileError, match=".ods"):
        clients_import(merchant=merchant, path=str(path))


def test_purchase_history_import_is_guarded_too(merchant, tmp_path, reader_forbidden):
    path = far_corner(tmp_path / "history.xlsx")
    with pytest.raises(ImportFileError, match="XFD"):
        purchases_import(merchant=merchant, path=str(path))
    with pytest.raises(CommandError, match="XFD"):
        call_command("import_purchases", str(path), merchant=merchant.slug)


def test_an_ordinary_workbook_still_imports(merchant, tmp_path):
    path = write_xlsx(tmp_path / "ok.xlsx", sheet_xml(dimension="A1:B2"))
    facts = workbook_check(str(path))
    assert (facts.rows, facts.columns, facts.cell_elements) == (2, 2, 4)
    report = clients_import(merchant=merchant, path=str(path))
    assert report.created == 1
    assert Client.objects.get().phone == "+79131234567"


# --- CSV: one endless line, a million columns -------------------------------------------------


def test_csv_line_over_the_limit_is_refused_without_loading_it(merchant, tmp_path, settings):
    settings.IMPORT_MAX_LINE_CHARS = 64 * 1024
    path = tmp_path / "line.csv"
    path.write_bytes(b"phone,name\n79131234567,Anna\n" + b"x" * (1024 * 1024) + b"\n")
    with pytest.raises(ImportFileError, match="longer than 65536 characters"):
        clients_import(merchant=merchant, path=str(path))
    assert not Client.objects.exists()


def test_csv_with_too_many_columns_is_refused(merchant, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("phone,name\n79131234567," + ",".join(["x"] * 5000) + "\n")
    with pytest.raises(ImportFileError, match="5001 columns"):
        clients_import(merchant=merchant, path=str(path))


def test_trailing_empty_columns_are_not_counted(merchant, tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("phone,name" + "," * 400 + "\n79131234567,Anna" + "," * 400 + "\n")
    assert clients_import(merchant=merchant, path=str(path)).created == 1


# --- item 4: big-when-unpacked workbooks go to the worker ---------------------------------------


def test_small_upload_that_unpacks_big_runs_in_the_worker(merchant, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.importing import import_batch_create, import_runs_in_worker

    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 1024 * 1024
    settings.IMPORT_ASYNC_THRESHOLD_UNPACKED_BYTES = 1024 * 1024
    shared = "<sst><si><t>" + "C" * (3 * 1024 * 1024) + "</t></si></sst>"
    bomb = write_xlsx(tmp_path / "small.xlsx", sheet_xml(), shared=shared)
    plain = write_xlsx(tmp_path / "plain.xlsx", sheet_xml())
    batches = [
        import_batch_create(
            merchant=merchant,
            user=None,
            upload=SimpleUploadedFile(p.name, p.read_bytes()),
            dry_run=True,
        )
        for p in (bomb, plain)
    ]
    assert batches[0].file_size < settings.IMPORT_ASYNC_THRESHOLD_BYTES
    assert [import_runs_in_worker(b) for b in batches] == [True, False]
