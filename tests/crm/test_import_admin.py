"""Admin import (upload → dry-run preview → confirm), import runs, report download, export."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import Client, ImportBatch
from loyalty.models import LedgerEntry
from tests.crm.import_files import admin_confirm_columns, sample_rows, write_csv
from tests.factories import ClientFactory, MerchantFactory, UserFactory


@pytest.fixture
def specialist(db):
    return UserFactory(username="spec-import", role="specialist")


@pytest.fixture
def own_merchant(specialist):
    merchant = MerchantFactory(slug="own")
    merchant.specialists.add(specialist)
    return merchant


@pytest.fixture
def spec_client(client, specialist):
    client.force_login(specialist)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _upload(tmp_path, rows=None, name="clients.csv"):
    path = write_csv(tmp_path / name, rows or sample_rows(), delimiter=";")
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def test_import_page_offers_only_visible_merchants(spec_client, own_merchant):
    MerchantFactory(slug="foreign", name="Foreign shop")
    response = spec_client.get(reverse("admin:crm_client_import"))
    assert response.status_code == 200
    html = response.content.decode()
    assert own_merchant.name in html
    assert "Foreign shop" not in html


def test_dry_run_preview_then_confirm(spec_client, own_merchant, tmp_path, settings):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10 * 1024 * 1024
    rows = sample_rows() + [["12", "Bad phone", "", "", "", "", "", ""]]
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {"merchant": own_merchant.pk, "import_file": _upload(tmp_path, rows), "format": "0"},
    )
    response = admin_confirm_columns(spec_client, response)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm import" in html
    assert "3 would be created" in html
    assert "Bad phone" not in html or "is not a phone number" in html
    assert Client.objects.count() == 0  # the dry run wrote nothing
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.DRY_RUN and batch.dry_run
    assert batch.report["errors"][0]["row"] == 5

    response = spec_client.post(reverse("admin:crm_client_process_import"), {"batch": batch.pk})
    assert response.status_code == 302
    run = ImportBatch.objects.exclude(pk=batch.pk).get()
    assert response["Location"] == reverse("admin:crm_importbatch_change", args=[run.pk])
    assert (run.status, run.created, run.rejected, run.dry_run_of_id) == ("done", 3, 1, batch.pk)
    assert Client.objects.filter(merchant=own_merchant, imported=True).count() == 3

    page = spec_client.get(response["Location"])
    assert page.status_code == 200
    report = spec_client.get(reverse("admin:crm_importbatch_report", args=[run.pk]))
    text = report.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "row,column,message"
    assert re.search(r"^5,Телефон,", text, re.M)
    progress = spec_client.get(reverse("admin:crm_importbatch_progress", args=[run.pk])).json()
    assert progress["progress"] == 100 and progress["finished"]


def test_import_into_foreign_merchant_is_refused(spec_client, own_merchant, tmp_path):
    foreign = MerchantFactory(slug="foreign")
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {"merchant": foreign.pk, "import_file": _upload(tmp_path), "format": "0"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ImportBatch.objects.exists()
    # Confirming someone else's dry run is a 404, not an import.
    other = ImportBatch.objects.create(merchant=foreign, status="dry_run", dry_run=True)
    response = spec_client.post(reverse("admin:crm_client_process_import"), {"batch": other.pk})
    assert response.status_code == 404
    assert not Client.objects.filter(merchant=foreign).exists()
    report = spec_client.get(reverse("admin:crm_importbatch_report", args=[other.pk]))
    assert report.status_code == 404


def test_file_level_failure_shows_one_message(spec_client, own_merchant, tmp_path):
    upload = SimpleUploadedFile("clients.csv", b"\x00\x01\x02binary\x00" * 50)
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {"merchant": own_merchant.pk, "import_file": upload, "format": "0"},
    )
    html = response.content.decode()
    assert "binary content" in html
    assert "Confirm import" not in html
    assert not Client.objects.exists()


def test_big_file_runs_as_task_with_progress(
    spec_client, own_merchant, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10
    settings.IMPORT_EAGER_IN_THREAD = False
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {"merchant": own_merchant.pk, "import_file": _upload(tmp_path), "format": "0"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_confirm_columns(spec_client, response)
    batch = ImportBatch.objects.get()
    assert response["Location"] == reverse("admin:crm_importbatch_change", args=[batch.pk])
    assert batch.status == "dry_run" and batch.progress == 100
    page = spec_client.get(response["Location"]).content.decode()
    assert "Confirm import" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = spec_client.post(reverse("admin:crm_importbatch_confirm", args=[batch.pk]))
    run = ImportBatch.objects.exclude(pk=batch.pk).get()
    assert run.status == "done" and run.created == 3
    assert LedgerEntry.objects.filter(client__merchant=own_merchant).count() == 1


def test_admin_export_is_scoped_and_escaped(spec_client, own_merchant):
    foreign = MerchantFactory(slug="foreign")
    ClientFactory(merchant=own_merchant, phone="+79131234567", full_name='=HYPERLINK("x")')
    ClientFactory(merchant=foreign, phone="+79131234568", full_name="Foreign client")
    response = spec_client.post(reverse("admin:crm_client_export"), {"format": "0", "resource": ""})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "Foreign client" not in text
    assert "'=HYPERLINK" in text
    assert "+79131234567" in text
