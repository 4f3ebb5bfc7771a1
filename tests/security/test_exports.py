"""Every export escapes text a spreadsheet would run as a formula (= + - @, tab, CR) with a
leading ', writes no formula cell into an XLSX, and is scoped to the user's merchants; the
HTML pages escape user-supplied names."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from crm.models import ImportBatch
from loyalty.models import Tier

pytestmark = pytest.mark.django_db

EVIL = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def assert_no_formula_cells(data: bytes):
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    return texts


def assert_escaped(texts):
    for text in texts:
        assert not text.startswith(("=", "+", "-", "@", "\t", "\r")) or text[1:].isdigit(), text


@pytest.fixture
def evil_world(world):
    a = world["a"]
    person = a["client"]
    person.full_name = EVIL[0]
    person.email = "@evil.example"
    person.source_detail = EVIL[1]
    person.save()
    a["staff"].full_name = EVIL[2]
    a["staff"].save()
    a["branch"].name = EVIL[3]
    a["branch"].save()
    Tier.objects.filter(program__merchant=a["merchant"]).update(name=EVIL[4])
    return world


def test_admin_client_export_csv_and_xlsx(client, evil_world):
    client.force_login(evil_world["spec_a"])
    url = reverse("admin:crm_client_export")
    for index, kind in ((0, "csv"), (1, "xlsx")):
        response = client.post(url, {"format": str(index), "resource": "0", **_all_fields()})
        assert response.status_code == 200, response.content[:500]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if kind == "csv":
            text = body.decode("utf-8-sig")
            assert "Bravo" not in text and "+7913200" not in text
            cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
            assert "'" + EVIL[0] in cells and "'" + EVIL[1] in cells
            assert_escaped([c for c in cells if not c.startswith("+7913")])
        else:
            texts = assert_no_formula_cells(body)
            assert "'" + EVIL[0] in texts
            assert_escaped([t for t in texts if not t.startswith("+7913")])


def _all_fields():
    from crm.resources import ClientResource

    names = ClientResource._meta.fields
    return {f"clientresource_{name}": "on" for name in names}


def test_partner_cannot_export_clients(client, evil_world):
    client.force_login(evil_world["partner_a"])
    response = client.post(reverse("admin:crm_client_export"), {"format": "0", "resource": "0"})
    assert response.status_code == 403


def test_dashboard_xlsx_escapes_names(client, evil_world):
    client.force_login(evil_world["owner_a"])
    response = client.get(reverse("reports:dashboard_xlsx", args=["alpha"]))
    assert response.status_code == 200
    texts = assert_no_formula_cells(response.content)
    assert_escaped(texts)


def test_segment_exports_escape(client, evil_world, monkeypatch):
    person = evil_world["a"]["client"]
    monkeypatch.setattr("reports.exports.segment_client_ids", lambda **kwargs: [person.pk])
    client.force_login(evil_world["owner_a"])
    response = client.get(reverse("reports:segment_export", args=["alpha", "champions", "csv"]))
    cells = [c for row in csv.reader(io.StringIO(response.content.decode())) for c in row]
    assert "'" + EVIL[0] in cells and "'@evil.example" in cells
    assert_escaped(cells)
    response = client.get(reverse("reports:segment_export", args=["alpha", "champions", "xlsx"]))
    texts = assert_no_formula_cells(response.content)
    assert "'" + EVIL[0] in texts
    assert_escaped(texts)


def test_bonus_exports_escape(client, evil_world):
    client.force_login(evil_world["spec_a"])
    a = evil_world["a"]
    # The merchant's month, not the server's: in the last hours of a month (UTC) the
    # purchase is already in the next month in Moscow.
    month = a["merchant"].local_today().replace(day=1).isoformat()
    url = reverse("admin:onboarding_staff_bonus")
    query = {"merchant": a["merchant"].pk, "period": month}
    response = client.get(url, {**query, "export": "csv"})
    text = response.content.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'" + EVIL[2] in cells and "'" + EVIL[3] in cells
    assert_escaped(cells)
    response = client.get(url, {**query, "export": "xlsx"})
    texts = assert_no_formula_cells(response.content)
    assert "'" + EVIL[2] in texts
    assert_escaped(texts)


def test_import_error_report_escapes(client, world):
    batch = world["a"]["batch"]
    batch.status = ImportBatch.Status.DONE
    batch.report = {
        "errors": [{"row": 2, "column": "=phone", "message": '=HYPERLINK("http://x")'}],
        "file_error": "@file",
    }
    batch.save()
    client.force_login(world["spec_a"])
    response = client.get(reverse("admin:crm_importbatch_report", args=[batch.pk]))
    text = response.content.decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'=phone" in cells and "'@file" in cells
    assert_escaped(cells)
    other = world["b"]["batch"]
    assert client.get(reverse("admin:crm_importbatch_report", args=[other.pk])).status_code in (
        302,
        404,
    )


def test_pages_escape_user_supplied_names(client, world):
    a = world["a"]
    script = "<script>alert(1)</script>"
    a["merchant"].name = script
    a["merchant"].save()
    a["branch"].name = script
    a["branch"].save()
    a["client"].full_name = script
    a["client"].save()
    Tier.objects.filter(program__merchant=a["merchant"]).update(name=script)
    client.force_login(world["spec_a"])
    for url in (
        reverse("reports:dashboard", args=["alpha"]),
        reverse("reports:case_study", args=["alpha"]),
        reverse("reports:portfolio"),
        reverse("admin:onboarding_progress"),
        reverse("admin:onboarding_staff_bonus"),
        reverse("admin:onboarding_training_matrix"),
        reverse("admin:crm_client_change", args=[a["client"].pk]),
        reverse("loyalty:cashier", args=["alpha"]) + "?q=%2B79131000001",
    ):
        body = client.get(url).content.decode()
        assert script not in body, url


def test_upload_over_the_limit_is_refused(client, world, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.IMPORT_MAX_UPLOAD_BYTES = 1024
    client.force_login(world["spec_a"])
    before = ImportBatch.objects.count()
    upload = SimpleUploadedFile("big.csv", b"phone\n" + b"+79130000000\n" * 200)
    response = client.post(
        reverse("admin:crm_client_import"),
        {"merchant": world["a"]["merchant"].pk, "import_file": upload, "format": "0"},
    )
    assert response.status_code == 200
    assert "too big" in response.content.decode()
    assert ImportBatch.objects.count() == before


def test_specialist_cannot_import_into_other_merchant(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world["spec_a"])
    before = ImportBatch.objects.count()
    upload = SimpleUploadedFile("a.csv", b"phone\n+79130000000\n")
    response = client.post(
        reverse("admin:crm_client_import"),
        {"merchant": world["b"]["merchant"].pk, "import_file": upload, "format": "0"},
    )
    assert response.status_code == 200
    assert ImportBatch.objects.count() == before
    # Nor confirm merchant B's dry run.
    other = world["b"]["batch"]
    other.status = ImportBatch.Status.DRY_RUN
    other.dry_run = True
    other.save()
    response = client.post(reverse("admin:crm_client_process_import"), {"batch": other.pk})
    assert response.status_code == 404
    assert ImportBatch.objects.filter(dry_run_of=other).count() == 0
