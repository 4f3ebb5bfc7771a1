"""The campaign form shows only the parameters of the chosen kind."""

import pytest
from playwright.sync_api import expect

from tests.factories import MerchantFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_campaign_fields_follow_kind(page, live_server):
    merchant = MerchantFactory(name="Kind shop")
    specialist = UserFactory(username="spec-kind", role="specialist")
    merchant.specialists.add(specialist)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/loyalty/campaign/add/")
    page.fill("input[name=username]", "spec-kind")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/loyalty/campaign/add/")

    page.select_option("select[name=kind]", "birthday")
    expect(page.locator("input[name=days_before]")).to_be_visible()
    expect(page.locator("input[name=days_after_last_purchase]")).to_be_hidden()
    expect(page.locator("input[name=min_check_amount]")).to_be_hidden()

    page.select_option("select[name=kind]", "winback")
    expect(page.locator("input[name=days_after_last_purchase]")).to_be_visible()
    expect(page.locator("input[name=days_before]")).to_be_hidden()

    page.select_option("select[name=reward_form]", "points")
    expect(page.locator("input[name=certificate_valid_days]")).to_be_hidden()
    page.select_option("select[name=reward_form]", "certificate")
    expect(page.locator("input[name=certificate_valid_days]")).to_be_visible()
