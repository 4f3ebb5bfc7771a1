"""A specialist logs in, opens a demo merchant's program, changes a tier's cashback and saves."""

import pytest

from demo.reference import REFERENCE_MERCHANTS
from demo.seeding import _merchant
from loyalty.models import Tier
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_specialist_changes_tier_cashback(page, live_server, artifacts_dir):
    merchant = _merchant(REFERENCE_MERCHANTS[0])
    specialist = UserFactory(username="spec-e2e", role="specialist")
    merchant.specialists.add(specialist)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "spec-e2e")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/onboarding/merchant/")
    page.locator("a[href*='/admin/loyalty/program/'][href$='/change/']").first.click()
    page.wait_for_url("**/admin/loyalty/program/*/change/")
    field = page.locator("input[name='tiers-1-cashback_percent']")
    field.fill("6")
    page.locator("button[name='_continue']").first.click()
    page.wait_for_load_state()
    page.screenshot(path=str(artifacts_dir / "admin-program-saved.png"), full_page=True)
    assert page.locator("input[name='tiers-1-cashback_percent']").input_value() in ("6.00", "6,00")
    tier = Tier.objects.get(program__merchant=merchant, position=2)
    assert str(tier.cashback_percent) == "6.00"
