"""The admin's column step between upload and dry run: proposal, changes, saved per merchant."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import Client, ImportBatch, ImportMapping
from tests.crm.import_files import admin_confirm_columns, write_csv
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

ROWS = [
    ["Клиент", "Моб. тел.", "Д.р.", "Заметка"],
    ["Иванова Анна", "8 913 123-45-67", "01.02.1990", "любит кофе"],
    ["Петров Пётр", "8 913 123-45-68", "31.12.1985", ""],
]


@pytest.fixture
def specialist(db):
    return UserFactory(username="spec-columns", role="specialist")


@pytest.fixture
def own_merchant(specialist):
    merchant = MerchantFactory(slug="own-columns")
    merchant.specialists.add(specialist)
    return merchant


@pytest.fixture
def spec_client(client, specialist, settings):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10 * 1024 * 1024
    client.force_login(specialist)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def upload(spec_client, merchant, tmp_path, rows=ROWS, name="clients.csv"):
    path = write_csv(tmp_path / name, rows, delimiter=";")
    return spec_client.post(
        reverse("admin:crm_client_import"),
        {
            "merchant": merchant.pk,
            "import_file": SimpleUploadedFile(name, path.read_bytes()),
            "format": "0",
        },
    )


def test_column_step_proposes_fields_with_samples_and_reasons(spec_client, own_merchant, tmp_path):
    response = upload(spec_client, own_merchant, tmp_path)
    batch = ImportBatch.objects.get()
    assert response["Location"] == reverse("admin:crm_client_import_columns", args=[batch.pk])
    assert batch.status == "pending" and not Client.objects.exists()
    html = spec_client.get(response["Location"]).content.decode()
    assert "Моб. тел." in html and "8 913 123-45-67" in html and "8 913 123-45-68" in html
    assert '<option value="phone" selected>' in html
    assert '<option value="full_name" selected>' in html
    assert '<option value="birthday" selected>' in html
    assert "100 % valid numbers" in html
    assert "Column names are in row 1." in html


def test_changed_choice_runs_the_dry_run_and_is_saved_then_reused(
    spec_client, own_merchant, tmp_path
):
    response = upload(spec_client, own_merchant, tmp_path)
    dry_run = admin_confirm_columns(spec_client, response, {2: ""})  # ignore the birthday
    html = dry_run.content.decode()
    assert "2 would be created" in html
    batch = ImportBatch.objects.get()
    assert batch.status == "dry_run"
    assert batch.mapping == {
        "columns": {"full_name": 0, "phone": 1},
        "ignore": [2, 3],
        "preset": "",
    }
    assert batch.report["columns"] == {"phone": "Моб. тел.", "full_name": "Клиент"}
    saved = ImportMapping.objects.get(merchant=own_merchant)
    assert saved.headers == ROWS[0] and saved.mapping == batch.mapping

    # The same columns again: the saved choice is proposed.
    response = upload(spec_client, own_merchant, tmp_path, name="again.csv")
    html = spec_client.get(response["Location"]).content.decode()
    assert "The mapping saved for files with these columns is applied." in html
    assert '<option value="birthday" selected>' not in html

    # Confirming the dry run applies the same mapping.
    response = spec_client.post(reverse("admin:crm_client_process_import"), {"batch": batch.pk})
    run = ImportBatch.objects.get(dry_run_of=batch)
    assert (run.status, run.created) == ("done", 2)
    assert run.mapping == batch.mapping
    assert Client.objects.get(phone="+79131234567").birthday is None


def test_phone_must_be_chosen_once(spec_client, own_merchant, tmp_path):
    response = upload(spec_client, own_merchant, tmp_path)
    page = admin_confirm_columns(spec_client, response, {1: ""})
    assert page.status_code == 200
    assert "Choose the column that holds the phone number." in page.content.decode()
    page = admin_confirm_columns(spec_client, response, {0: "phone"})
    assert "The field “phone” is chosen for two columns; keep one." in page.content.decode()
    batch = ImportBatch.objects.get()
    assert batch.status == "pending" and batch.mapping == {}
    assert not ImportMapping.objects.exists()


def test_russian_column_step(spec_client, own_merchant, tmp_path):
    response = upload(spec_client, own_merchant, tmp_path)
    spec_client.cookies["django_language"] = "ru"
    html = spec_client.get(response["Location"]).content.decode()
    assert "Перейти к пробному запуску" in html
    assert "действительных номеров" in html


def test_preset_can_be_applied_on_the_column_step(spec_client, own_merchant, tmp_path):
    rows = [
        ["Имя", "Фамилия", "Рабочий телефон", "Мобильный телефон"],
        ["Анна", "Иванова", "+7 495 123-45-67", "+7 913 123-45-67"],
    ]
    response = upload(spec_client, own_merchant, tmp_path, rows=rows)
    html = spec_client.get(response["Location"] + "?preset=amocrm").content.decode()
    assert '<option value="amocrm" selected>' in html
    assert "preset amoCRM" in html


def test_other_merchants_upload_is_not_reachable(client, own_merchant, tmp_path, settings):
    foreign = MerchantFactory(slug="foreign-columns")
    batch = ImportBatch.objects.create(merchant=foreign, dry_run=True, file_name="x.csv")
    batch.file.save("x.csv", SimpleUploadedFile("x.csv", b"phone\n+79131234567\n"))
    outsider = UserFactory(username="spec-outsider", role="specialist")
    own_merchant.specialists.add(outsider)
    client.force_login(outsider)
    url = reverse("admin:crm_client_import_columns", args=[batch.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"apply": "", "column-0": "phone"}).status_code == 404
    batch.refresh_from_db()
    assert batch.mapping == {} and batch.status == "pending"


def test_unreadable_upload_is_refused_on_the_upload_form(spec_client, own_merchant):
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {
            "merchant": own_merchant.pk,
            "import_file": SimpleUploadedFile("x.csv", b"\x00\x01binary\x00" * 40),
            "format": "0",
        },
    )
    assert response.status_code == 200
    assert "binary content" in response.content.decode()
    batch = ImportBatch.objects.get()
    assert batch.status == "failed" and not batch.file
