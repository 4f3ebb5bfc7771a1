"""A specialist imports a file the synonym list does not know: the column step proposes fields by
content, one is changed by hand, another is kept as the client's note, a rejected row is fixed in
the preview, and the confirm applies the file with the fix and the notes."""

import pytest

from crm.models import Client, ImportBatch, ImportMapping
from tests.crm.import_files import write_csv
from tests.factories import MerchantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_column_step_and_fix_in_preview(page, live_server, artifacts_dir, tmp_path, settings):
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10 * 1024 * 1024
    merchant = MerchantFactory(slug="e2e-columns", name="E2E Columns Shop")
    specialist = UserFactory(username="spec-columns-e2e", role="specialist")
    merchant.specialists.add(specialist)
    rows = [
        ["Клиент", "Моб. тел.", "Д.р.", "Город"],
        ["Иванова Анна", "8 913 123-45-67", "01.02.1990", "Томск"],
        ["Петров Пётр", "8 913 123-45-68", "31.12.1985", "Омск"],
        ["Сидоров Иван", "12345", "05.05.1975", "Томск"],
    ]
    path = write_csv(tmp_path / "export.csv", rows, delimiter=";", bom=True)

    page.set_extra_http_headers({"Accept-Language": "en"})
    page.goto(f"{live_server.url}/admin/login/?next=/admin/crm/client/")
    page.fill("input[name=username]", "spec-columns-e2e")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/crm/client/import/")
    page.select_option("select[name=merchant]", label="E2E Columns Shop")
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("form button[type=submit]").last.click()

    # The column step: proposals with samples and reasons.
    page.wait_for_selector("#import-columns")
    table = page.locator("#import-columns-table")
    assert "8 913 123-45-67" in table.inner_text()
    assert page.locator("select[name=column-1]").input_value() == "phone"
    assert page.locator("select[name=column-0]").input_value() == "full_name"
    assert page.locator("select[name=column-2]").input_value() == "birthday"
    assert "100 % plausible birth dates" in table.inner_text()
    # The birthday is not imported (changed by hand); the city is kept as the client's note.
    page.select_option("select[name=column-2]", value="")
    assert page.locator("select[name=column-3]").input_value() == ""
    page.select_option("select[name=column-3]", label="— keep as note —")
    page.screenshot(path=str(artifacts_dir / "admin-import-columns.png"), full_page=True)
    page.get_by_role("button", name="Continue to dry run").click()

    page.wait_for_selector("#import-dry-run")
    assert "2 would be created" in page.inner_text("#import-dry-run")
    assert "phone: «Моб. тел.»" in page.inner_text("#import-column-reasons")
    assert "Kept as the client's note" in page.inner_text("#import-note-columns")
    assert "Город" in page.inner_text("#import-note-columns")
    saved = ImportMapping.objects.get(merchant=merchant)
    assert saved.mapping["columns"] == {"full_name": 0, "phone": 1}
    assert saved.mapping["notes"] == [3]

    # Fix the rejected row in place: a wrong fix first, then a right one.
    form = page.locator("#import-fixes form[data-row='4']")
    form.locator("input[name=phone]").fill("8 913 123")
    form.get_by_role("button", name="Check").click()
    status = form.locator(".import-fix-status")
    status.filter(has_text="not a valid phone number").wait_for()
    form.locator("input[name=phone]").fill("8 913 123-45-69")
    form.get_by_role("button", name="Check").click()
    status.filter(has_text="Fixed: will be imported.").wait_for()
    page.screenshot(path=str(artifacts_dir / "admin-import-fixed.png"), full_page=True)
    dry = ImportBatch.objects.get(dry_run=True)
    assert dry.fixes == {"4": {"phone": "8 913 123-45-69"}}

    page.get_by_role("button", name="Confirm import").click()
    page.wait_for_url("**/admin/crm/importbatch/*/change/")
    assert "Import done: 3 created" in page.content()
    ivan = Client.objects.get(merchant=merchant, phone="+79131234569")
    assert ivan.full_name == "Сидоров Иван" and ivan.birthday is None
    assert ivan.notes == "Город: Томск"
    assert Client.objects.get(merchant=merchant, phone="+79131234568").notes == "Город: Омск"

    # The note is on the client's admin page.
    page.goto(f"{live_server.url}/admin/crm/client/{ivan.pk}/change/")
    assert page.locator("textarea[name=notes]").input_value() == "Город: Томск"
