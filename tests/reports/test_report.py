import json
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from loyalty.models import CampaignKind, RewardForm
from loyalty.program import TierSpec, campaign_configure, program_configure
from onboarding.models import PointAItem
from reports.models import CaseStudy
from tests.factories import UserFactory


@pytest.fixture
def case_merchant(small_merchant):
    m = small_merchant
    m.launch_date = date(2025, 1, 1)
    m.save()
    PointAItem.objects.create(merchant=m, kind="state", text="Direct discounts", position=1)
    PointAItem.objects.create(merchant=m, kind="goal", text="Digitise clients", position=1)
    program_configure(
        merchant=m,
        tiers=[TierSpec("Silver", D(1), D(10)), TierSpec("Gold", D(2), D(20), D(100000))],
        welcome_points=D(500),
        referral_level1_percent=D("1.5"),
    )
    campaign_configure(
        merchant=m, kind=CampaignKind.BIRTHDAY, name="Birthday gift",
        reward_form=RewardForm.CERTIFICATE, reward_points=D(5000), days_before=7,
        certificate_valid_days=22, redemption_cap_percent=D(5),
    )  # fmt: skip
    return m


def test_report_json_has_the_seed_structure(case_merchant, capsys):
    call_command("merchant_report", case_merchant.slug, "--format", "json", "--date", "2025-03-01")
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"merchant", "point_a", "program", "actions", "point_b", "benefit"}
    assert data["point_a"] == {"state": ["Direct discounts"], "goals": ["Digitise clients"]}
    assert [t["name"] for t in data["program"]["tiers"]] == ["Silver", "Gold"]
    assert data["program"]["campaigns"][0]["name"] == "Birthday gift"
    assert data["merchant"]["months"] == 2
    assert data["point_b"]["sales"]["card_purchases"] == 5
    assert data["point_b"]["sales"]["card_revenue"] == "11800.00"
    assert data["benefit"]["total"] == "10290.00"
    assert "specialist" in data["actions"] and "business" in data["actions"]


def test_report_html_contains_point_a_and_point_b(case_merchant, capsys, tmp_path):
    out = tmp_path / "case.html"
    with translation.override("en"):  # whatever an earlier test left active
        call_command("merchant_report", case_merchant.slug, "--format", "html", "-o", str(out))
    html = out.read_text()
    assert "Point A" in html or "Точка А" in html
    assert "Point B" in html or "Точка Б" in html
    assert "Direct discounts" in html and "Birthday gift" in html
    assert "₽10,290" in html  # the benefit with its currency sign, English grouping


def test_report_unknown_slug_and_bad_date(db):
    with pytest.raises(CommandError, match="No merchant"):
        call_command("merchant_report", "nope")


def test_report_bad_date(case_merchant):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("merchant_report", case_merchant.slug, "--date", "31.01.2025")


def test_admin_report_button_is_scoped(client, case_merchant):
    other = CaseStudy.objects.create(name="Hidden", slug="hidden")
    specialist = UserFactory(username="spec-r", role="specialist")
    case_merchant.specialists.add(specialist)
    client.login(username="spec-r", password="pass-Word-123")
    listing = client.get(reverse("admin:reports_casestudy_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert reverse("reports:case_study", args=[case_merchant.slug]) in html
    assert "Hidden" not in html
    response = client.post(
        reverse("admin:reports_casestudy_changelist"),
        {"action": "download_case_study", "_selected_action": [case_merchant.pk]},
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert b"Direct discounts" in response.content
    assert client.get(reverse("reports:case_study", args=[other.slug])).status_code == 404
