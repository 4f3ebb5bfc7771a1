"""The owner link in a browser: a specialist creates it on the hub, the owner opens it with
no login (desktop and phone; DOC_SCREENSHOTS=1 rewrites the docs' picture), the specialist revokes it."""

import datetime as dt
import os
from pathlib import Path

import pytest

from onboarding.checklists import template_apply
from onboarding.models import MerchantTask, OwnerLinkUse, TaskStatus
from tests.factories import UserFactory
from tests.reports.conftest import build_small_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "ru-RU", "viewport": {"width": 1280, "height": 900}}


def test_owner_link_created_opened_and_revoked(
    live_server, page, browser, artifacts_dir, standard_checklist
):
    merchant = build_small_merchant()
    merchant.name = "Кофейня Зерно"
    merchant.save()
    template_apply(
        merchant=merchant,
        template=standard_checklist,
        start=merchant.local_today() - dt.timedelta(days=12),
    )
    for task in MerchantTask.objects.filter(merchant=merchant, required=True)[:9]:
        MerchantTask.objects.filter(pk=task.pk).update(status=TaskStatus.DONE)
    specialist = UserFactory(username="spec-owner-link", role="specialist")
    merchant.specialists.add(specialist)

    base = live_server.url
    page.goto(f"{base}/admin/login/?next=/admin/onboarding/merchant/{merchant.pk}/owner-links/")
    page.fill("input[name=username]", "spec-owner-link")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/owner-links/")
    page.fill("input[name=recipient]", "owner@example.com")
    page.click("#owner-link-form button[type=submit]")
    url = page.locator("#owner-link-created a").inner_text()
    assert f"/dashboard/{merchant.slug}/owner/" in url

    # The owner: a fresh browser with no session.
    owner = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    # The owner reads the product's default language (the suite itself runs in English).
    owner.add_cookies([{"name": "django_language", "value": "ru", "url": base}])
    owner_page = owner.new_page()
    owner_page.goto(url)
    assert owner_page.locator("h1").first.inner_text() == "Кофейня Зерно"
    assert owner_page.locator("#tasks-business tbody tr").count() > 0
    assert owner_page.locator("#tasks-specialist tbody tr").count() > 0
    assert owner_page.locator("#next-step").inner_text().startswith("Следующий шаг")
    assert owner_page.locator(".kpi.benefit b").inner_text().replace("\xa0", " ") == "10 290 ₽"
    owner_page.screenshot(path=str(artifacts_dir / "owner-link.png"), full_page=True)
    if os.environ.get("DOC_SCREENSHOTS") == "1":  # rewrite the docs' picture only on demand
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        owner_page.screenshot(path=str(DOC_SHOTS / "owner-link.png"), full_page=True)
    owner_page.set_viewport_size({"width": 390, "height": 844})
    owner_page.reload()
    assert owner_page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    owner_page.screenshot(path=str(artifacts_dir / "owner-link-phone.png"), full_page=True)
    assert OwnerLinkUse.objects.count() == 2

    # Revoked on the hub: the owner's page is gone.
    page.goto(f"{base}/admin/onboarding/merchant/{merchant.pk}/owner-links/")
    page.locator("#owner-links button[name=revoke]").click()
    page.wait_for_load_state()
    assert owner_page.goto(url).status == 404
    owner.close()
