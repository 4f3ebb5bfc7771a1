"""An owner logs in through the real form, sees the cards and SVG charts of their own
dashboard (screenshot saved) and gets a 404 for another merchant's dashboard."""

from datetime import date

import pytest

from tests.factories import MerchantFactory, UserFactory
from tests.reports.conftest import build_small_merchant, buy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_dashboard_renders_and_is_isolated(live_server, page, artifacts_dir):
    small = build_small_merchant()
    small.name = "Hand-built shop"
    small.save()
    other = MerchantFactory(slug="someone-else", name="Someone else")
    buy(other, None, 100, day=date(2025, 1, 1))
    owner = UserFactory(username="owner-e2e", role="owner")
    small.owners.add(owner)

    base = live_server.url
    page.goto(f"{base}/accounts/login/?next=/dashboard/{small.slug}/")
    page.fill("input[name=username]", "owner-e2e")
    page.fill("input[name=password]", "pass-Word-123")
    # the login form's own button (the top bar has language buttons of type submit too)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/{small.slug}/")
    assert page.locator("h1").first.inner_text() == "Hand-built shop"
    assert page.locator(".kpi").count() >= 10
    assert page.locator("svg.chart").count() >= 8
    assert page.locator("svg.chart rect").count() > 5
    benefit = page.locator(".kpi.benefit b").inner_text()
    assert benefit == "₽10,290"  # English: the sign leads, commas group
    page.screenshot(path=str(artifacts_dir / "dashboard-owner.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=str(artifacts_dir / "dashboard-owner-phone.png"), full_page=True)

    response = page.goto(f"{base}/dashboard/{other.slug}/")
    assert response.status == 404
    response = page.goto(f"{base}/dashboard/{other.slug}/export.xlsx")
    assert response.status == 404
