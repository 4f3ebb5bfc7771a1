"""A cashier on a phone-sized screen finds a client by phone, pays part of a check with
points, confirms, then refunds part of it from the purchase list."""

import re
from decimal import Decimal as D

import pytest

from crm.models import Client
from loyalty.models import Purchase, Refund
from loyalty.services.members import client_join
from onboarding.models import StaffMember
from tests.factories import ClientFactory, UserFactory, reference_merchant

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_cashier_purchase_and_refund(page, live_server, live_login, artifacts_dir):
    merchant = reference_merchant("sakura")
    user = UserFactory(username="cashier-e2e", role="cashier")
    StaffMember.objects.create(
        merchant=merchant, user=user, full_name="Кассир", branch=merchant.branches.first()
    )
    member = ClientFactory(merchant=merchant, phone="+79130000001", full_name="Анна")
    client_join(merchant=merchant, client=member)  # 100 welcome points

    page.set_viewport_size({"width": 390, "height": 844})
    base = live_login("cashier-e2e", "pass-Word-123", next_url="/cashier/sakura/")
    page.goto(f"{base}/cashier/sakura/")
    page.fill("input[name=q]", "8 913 000-00-01")
    page.locator("#search button[type=submit]").click()
    page.wait_for_selector("#client-card")
    assert page.locator("#balance").inner_text() == "100"  # whole points print whole

    page.fill("input[name=amount]", "1000")
    page.fill("input[name=points]", "50")
    page.select_option("select[name=payment_type]", "card")
    page.locator("#purchase-form button[type=submit]").click()
    page.wait_for_selector(".messages li")
    page.screenshot(path=str(artifacts_dir / "cashier-purchase.png"), full_page=True)
    assert re.search(r"78[.,]50", page.locator("#balance").inner_text())
    purchase = Purchase.objects.get()
    assert (purchase.points_redeemed, purchase.points_accrued) == (D(50), D("28.50"))

    page.locator(".cashier-nav a").nth(1).click()
    page.locator(f"a[href$='/purchases/{purchase.pk}/refund/']").click()
    page.fill("input[name=amount]", "500")
    page.locator("#refund-form button[type=submit]").click()
    page.wait_for_selector(".messages li")
    page.screenshot(path=str(artifacts_dir / "cashier-refund.png"), full_page=True)
    refund = Refund.objects.get()
    assert refund.amount == D(500) and refund.created_by == user
    member = Client.objects.get(pk=member.pk)
    # Half refunded: 25 points back, 14.25 cashback taken back.
    assert member.balance == D("89.25")
