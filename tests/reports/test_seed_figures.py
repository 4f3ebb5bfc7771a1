"""The dashboard figures the seeds report: buyers per source (003), revenue returned by a
gift to lapsed clients (004), monthly RFM history (001). Expected values worked by hand."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal as D

import pytest

from crm.models import ClientSource
from loyalty.models import CampaignIssuance, CampaignKind, RewardForm
from reports.aggregates import Period
from reports.client_figures import gift_returns, source_buyers
from reports.metrics import point_b
from reports.rfm_history import monthly_history
from tests.factories import CampaignFactory, ClientFactory, MerchantFactory

from .conftest import MSK, at, buy

pytestmark = pytest.mark.django_db
START, END = date(2025, 1, 1), date(2025, 3, 31)


def merchant():
    return MerchantFactory(slug="seedfig", time_zone="Europe/Moscow", launch_date=START)


def test_buyers_per_source():
    m = merchant()
    social = [
        ClientFactory(
            merchant=m,
            joined_at=at(date(2025, 1, 5)),
            source=ClientSource.PROMO_CODE,
            source_detail="SOCIAL",
        )
        for _ in range(3)
    ]
    platform = ClientFactory(merchant=m, joined_at=at(date(2025, 1, 6)), source="platform")
    buy(m, social[0], 100, day=date(2025, 1, 10))
    buy(m, social[0], 50, day=date(2025, 2, 10))
    buy(m, social[1], 70, day=date(2025, 2, 11))
    buy(m, social[1], 30, day=date(2025, 2, 12), refunded=30)  # not a purchase
    buy(m, platform, 30, day=date(2025, 1, 7))
    # Joined before the period: not a member of this period, its purchase not counted here.
    old = ClientFactory(
        merchant=m, joined_at=at(date(2024, 12, 1)), source="promo_code", source_detail="SOCIAL"
    )
    buy(m, old, 999, day=date(2025, 1, 8))
    rows = source_buyers(m, Period(START, END))
    assert rows == [
        {
            "channel": "promo_code",
            "source_detail": "SOCIAL",
            "members": 3,
            "buyers": 2,
            "revenue": D("220.00"),
        },
        {
            "channel": "platform",
            "source_detail": "",
            "members": 1,
            "buyers": 1,
            "revenue": D("30.00"),
        },
    ]
    b = point_b(merchant=m, start=START, end=END, today=END)
    assert b.sources.source_buyers[0].buyers == 2 and b.sources.source_buyers[0].label


def test_revenue_returned_by_gift_to_lapsed_clients():
    m = merchant()
    gift = CampaignFactory(
        merchant=m,
        kind=CampaignKind.SEGMENT_GIFT,
        reward_form=RewardForm.POINTS,
        reward_points=D(10),
        burn_after_days=3,
    )
    winback = CampaignFactory(
        merchant=m,
        kind=CampaignKind.WINBACK,
        reward_form=RewardForm.POINTS,
        reward_points=D(100),
        days_after_last_purchase=60,
        certificate_valid_days=None,
    )
    a, b, c, d = (ClientFactory(merchant=m, joined_at=at(date(2024, 10, 1))) for _ in range(4))
    day = date(2025, 2, 1)
    issued = datetime.combine(day, time(9), tzinfo=MSK)
    for client, campaign in ((a, gift), (c, gift), (d, winback)):
        CampaignIssuance.objects.create(
            merchant=m,
            campaign=campaign,
            client=client,
            period_key="x",
            points=campaign.reward_points,
            issued_at=issued,
        )
    buy(m, a, 200, day=day + timedelta(days=1))  # within 3 days: counted
    buy(m, a, 500, day=day + timedelta(days=5))  # after the burn: not counted
    buy(m, b, 300, day=day + timedelta(days=1))  # no gift: not counted
    buy(m, c, 400, day=day - timedelta(days=1))  # before the gift: not counted
    buy(m, d, 70, day=day + timedelta(days=20))  # win-back points: 30 days by default
    figures = gift_returns(m, Period(START, END))
    assert {k: figures[k] for k in ("gifted", "clients", "purchases", "revenue")} == {
        "gifted": 3,
        "clients": 2,
        "purchases": 2,
        "revenue": D("270.00"),
    }
    per = {r["campaign"]: r for r in figures["campaigns"]}
    assert per[gift.name]["revenue"] == D("200.00") and per[gift.name]["clients"] == 1
    assert per[winback.name]["revenue"] == D("70.00")
    # A period that ends before the returns counts none of them.
    early = gift_returns(m, Period(START, date(2025, 1, 31)))
    assert early["revenue"] == D("0.00") and early["gifted"] == 0


def test_monthly_rfm_history():
    m = merchant()
    x = ClientFactory(merchant=m, joined_at=at(date(2025, 1, 1)))
    y = ClientFactory(merchant=m, joined_at=at(date(2025, 1, 1)))
    buy(m, x, 100, day=date(2025, 1, 10))
    buy(m, y, 100, day=date(2025, 2, 20))
    buy(m, y, 100, day=date(2025, 2, 25))
    history = monthly_history(merchant=m, start=START, end=date(2025, 2, 28))
    assert [h["month"] for h in history] == [date(2025, 1, 1), date(2025, 2, 1)]
    jan, feb = (h["segments"] for h in history)
    # January: X's only purchase is within 30 days of the 31st → new.
    assert jan == {**dict.fromkeys(jan, 0), "new": 1}
    # February: X ranks 0.5 on recency (R 3), one purchase long ago → promising;
    # Y ranks 1.0 (R 5) with two purchases → loyal.
    assert feb == {**dict.fromkeys(feb, 0), "promising": 1, "loyal": 1}
    assert history[1]["buyers"] == 2
    assert monthly_history(merchant=m, start=START, end=date(2025, 2, 28), months=1) == [history[1]]


def test_case_study_people_as_of_and_new_figures_in_both_languages(client):
    import io

    import openpyxl
    from django.urls import reverse
    from django.utils import translation

    from reports.casestudy import case_study, case_study_html
    from reports.exports import dashboard_xlsx
    from tests.factories import UserFactory

    m = merchant()
    owner = UserFactory(username="own-cs", role="owner", first_name="Елена", last_name="Чинчин")
    partner = UserFactory(username="par-cs", role="partner", first_name="Юлия", last_name="М")
    spec = UserFactory(username="spec-cs", role="specialist")
    m.owners.add(owner)
    m.specialists.add(spec)
    m.partner = partner
    m.save()
    social = ClientFactory(
        merchant=m, joined_at=at(date(2025, 1, 5)), source="promo_code", source_detail="SOCIAL"
    )
    buy(m, social, 100, day=date(2025, 1, 10))
    data = case_study(merchant=m)
    assert data["people"] == {
        "clients": ["Елена Чинчин"],
        "partner": "Юлия М",
        "specialists": ["spec-cs"],  # no full name: the login stands in
    }
    assert data["merchant"]["as_of_time"].date() == m.local_today()
    for lang, words in (
        ("ru", ["Команда проекта", "Партнёр платформы", "Покупатели по источникам", "SOCIAL"]),
        ("en", ["Project team", "Platform partner", "Buyers per source", "Europe/Moscow"]),
    ):
        with translation.override(lang):
            html = case_study_html(merchant=m)
        for word in words:
            assert word in html, (lang, word)
        assert "Елена Чинчин" in html
    book = openpyxl.load_workbook(io.BytesIO(dashboard_xlsx(point_b=point_b(merchant=m))))
    assert {"Buyers per source", "Gift returns", "RFM by month"} <= set(book.sheetnames)
    rows = list(book["Buyers per source"].iter_rows(values_only=True))
    assert rows[1][1:] == ("SOCIAL", 1, 1, 100)
    client.force_login(owner)
    page = client.get(reverse("reports:dashboard", args=[m.slug]))
    assert page.status_code == 200
    for anchor in ('id="source-buyers"', 'id="gift-returns"', 'id="rfm-history"'):
        assert anchor in page.content.decode()
