"""A specialist imports a client file in the admin: upload, dry-run preview, confirm."""

import pytest

from crm.models import Client, ImportBatch
from tests.crm.import_files import sample_rows, write_csv
from tests.factories import MerchantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_import_dry_run_then_confirm(page, live_server, artifacts_dir, tmp_path, settings):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10 * 1024 * 1024
    merchant = MerchantFactory(slug="e2e-import", name="E2E Import Shop")
    MerchantFactory(slug="e2e-foreign", name="Foreign Shop")
    specialist = UserFactory(username="spec-import-e2e", role="specialist")
    merchant.specialists.add(specialist)
    rows = sample_rows() + [["12345", "Bad phone", "", "", "", "", "", ""]]
    path = write_csv(tmp_path / "clients.csv", rows, delimiter=";", bom=True, newline="\r\n")

    page.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/crm/client/")
    page.fill("input[name=username]", "spec-import-e2e")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/crm/client/import/")
    options = page.locator("select[name=merchant] option").all_inner_texts()
    assert "E2E Import Shop" in options and "Foreign Shop" not in options
    page.select_option("select[name=merchant]", label="E2E Import Shop")
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_selector("#import-columns")
    page.get_by_role("button", name="Continue to dry run").click()
    page.wait_for_selector("#import-dry-run")
    page.screenshot(path=str(artifacts_dir / "admin-import-dry-run.png"), full_page=True)
    assert "3 would be created" in page.inner_text("#import-dry-run")
    assert "“12345” is not a valid phone number" in page.inner_text("#import-errors")
    assert Client.objects.count() == 0

    page.get_by_role("button", name="Confirm import").click()
    page.wait_for_url("**/admin/crm/importbatch/*/change/")
    page.screenshot(path=str(artifacts_dir / "admin-import-done.png"), full_page=True)
    assert "Import done: 3 created" in page.content()
    run = ImportBatch.objects.get(dry_run=False)
    assert (run.status, run.created, run.rejected) == ("done", 3, 1)
    assert set(Client.objects.values_list("merchant__slug", flat=True)) == {"e2e-import"}
