"""A specialist opens the program page, compares two drafts on the merchant's purchases and
makes one the program (DOC_SCREENSHOTS=1 rewrites the docs' picture)."""

import os
import random
from datetime import datetime, time, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from loyalty.forecast.drafts import draft_save
from loyalty.models import Program, Purchase
from loyalty.program import program_for
from tests.factories import ClientFactory, MerchantFactory, UserFactory
from tests.loyalty.test_forecast import DRAFT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "ru-RU", "viewport": {"width": 1366, "height": 900}}


def test_two_drafts_side_by_side_and_make_one_the_program(
    page, live_server, artifacts_dir, settings
):
    settings.LANGUAGE_CODE = "ru"  # the screenshot shows the product as specialists see it
    merchant = MerchantFactory(name="Золотофф", slug="zolotoff-fc", previous_discount_percent=D(7))
    specialist = UserFactory(username="spec-fc", role="specialist")
    merchant.specialists.add(specialist)
    program = program_for(merchant)
    rng = random.Random(7)
    clients = [ClientFactory(merchant=merchant) for _n in range(40)]
    today = merchant.local_today()
    for n in range(400):
        day = today - timedelta(days=rng.randrange(1, 360))
        amount = D(rng.randrange(2000, 40000))
        Purchase.objects.create(
            merchant=merchant,
            client=clients[n % 40] if n % 7 else None,
            source="manual",
            payment_type="card",
            amount=amount,
            paid_money=amount,
            occurred_at=datetime.combine(day, time(13), tzinfo=merchant.tzinfo),
        )
    rich = dict(DRAFT, welcome_points="500", referral_level1_percent="5")
    rich["tiers"] = [
        {
            "name": "Серебро",
            "cashback_percent": "5",
            "max_redemption_percent": "30",
            "spend_threshold": "0",
        },
        {
            "name": "Золото",
            "cashback_percent": "8",
            "max_redemption_percent": "50",
            "spend_threshold": "100000",
        },
    ]
    draft_save(merchant=merchant, name="Скромная", settings=DRAFT, redeem_share_percent=50)
    bold = draft_save(merchant=merchant, name="Щедрая", settings=rich, redeem_share_percent=50)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "spec-fc")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/admin/loyalty/program/{program.pk}/change/")
    page.click("#program-forecast-link")
    page.wait_for_selector("#program-forecast .fc-table")
    text = page.inner_text("#program-forecast")
    assert "Скромная" in text and "Щедрая" in text and "Фактическая скидка" in text
    assert "₽" in text
    if os.environ.get("DOC_SCREENSHOTS") == "1":  # rewrite the docs' picture only on demand
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_SHOTS / "forecast.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir / "forecast.png"), full_page=True)
    page.click(f"button[name=apply][value='{bold.pk}']")
    page.wait_for_url("**/admin/loyalty/program/*/change/")
    program = Program.objects.get(merchant=merchant)
    assert program.welcome_points == D(500)
    assert list(program.tiers.values_list("name", flat=True)) == ["Серебро", "Золото"]
