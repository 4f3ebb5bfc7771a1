"""Campaign budgets: the monthly cap (never passed, even by two runs at once), who was left
out, and the projected monthly cost from the last 90 days, worked out by hand."""

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from loyalty.campaigns.budget import budget_spent, campaign_projection
from loyalty.campaigns.dates import day_start
from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import Campaign, CampaignIssuance, LedgerEntry, Purchase
from tests.conftest import requires_postgres
from tests.factories import (
    CampaignFactory,
    ClientFactory,
    MemberFactory,
    MerchantFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def winback(merchant, **kw):
    return CampaignFactory(
        merchant=merchant, kind="winback", reward_form="points", reward_points=Decimal(100),
        days_after_last_purchase=15, certificate_valid_days=None, redemption_cap_percent=None,
        **kw,
    )  # fmt: skip


def lapsed_members(merchant, n):
    day = merchant.local_today()
    lapsed_at = day_start(merchant, day - timedelta(days=15)) + timedelta(hours=12)
    return [MemberFactory(merchant=merchant, last_purchase_at=lapsed_at) for _ in range(n)]


def test_run_stops_at_the_cap_and_reports_who_was_left_out():
    merchant = MerchantFactory()
    campaign = winback(merchant, budget_unit="points", monthly_budget=Decimal(300))
    members = lapsed_members(merchant, 5)
    report = campaigns_run_day(merchant=merchant)
    line = report.campaigns[0]
    assert line.outcome.issued == 3
    assert sorted(line.outcome.left_out) == [members[3].pk, members[4].pk]
    assert report.as_dict()["left_out"] == 2
    assert report.as_dict()["campaigns"][0]["left_out"] == [members[3].pk, members[4].pk]
    assert CampaignIssuance.objects.filter(campaign=campaign).count() == 3
    moment = CampaignIssuance.objects.first().issued_at
    assert budget_spent(campaign=campaign, moment=moment, tzinfo=merchant.tzinfo) == 300
    # A re-run the same day issues nothing more: the month's budget is spent.
    again = campaigns_run_day(merchant=merchant).campaigns[0].outcome
    assert (again.issued, len(again.left_out)) == (0, 2)
    # Raising the budget lets the rest through.
    Campaign.objects.filter(pk=campaign.pk).update(monthly_budget=Decimal(550))
    more = campaigns_run_day(merchant=merchant).campaigns[0].outcome
    assert (more.issued, len(more.left_out)) == (2, 0)


def test_budget_counts_only_the_merchants_month():
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    campaign = winback(merchant, budget_unit="money", monthly_budget=Decimal(1000))
    client = MemberFactory(merchant=merchant)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Novokuznetsk")
    # Both are 31 January in UTC (16:30 and 17:30); locally the second is in February.
    last_january = datetime(2026, 1, 31, 23, 30, tzinfo=zone)
    first_february = datetime(2026, 2, 1, 0, 30, tzinfo=zone)
    for key, at in (("a", last_january), ("b", first_february)):
        CampaignIssuance.objects.create(
            merchant=merchant, campaign=campaign, client=client, period_key=key,
            points=Decimal(100), issued_at=at,
        )  # fmt: skip
    feb = datetime(2026, 2, 10, 12, tzinfo=zone)
    assert budget_spent(campaign=campaign, moment=feb, tzinfo=zone) == Decimal(100)
    assert budget_spent(campaign=campaign, moment=last_january, tzinfo=zone) == Decimal(100)


def test_budget_needs_unit_and_amount_together():
    merchant = MerchantFactory()
    campaign = winback(merchant)
    campaign.budget_unit = "points"
    with pytest.raises(ValidationError) as exc:
        campaign.full_clean()
    assert "monthly_budget" in exc.value.message_dict
    campaign.budget_unit, campaign.monthly_budget = "", Decimal(10)
    with pytest.raises(ValidationError) as exc:
        campaign.full_clean()
    assert "budget_unit" in exc.value.message_dict


def _purchase(merchant, client, amount, days_ago, hour=12):
    at = day_start(merchant, merchant.local_today() - timedelta(days=days_ago))
    return Purchase.objects.create(
        merchant=merchant, client=client, source="cashier", amount=Decimal(amount),
        paid_money=Decimal(amount), occurred_at=at + timedelta(hours=hour),
    )  # fmt: skip


def test_projection_check_growth_by_hand():
    merchant = MerchantFactory()
    campaign = Campaign(
        merchant=merchant, kind="check_growth", name="Big check", reward_form="points",
        reward_points=Decimal(200), min_check_amount=Decimal(1000),
    )  # unsaved: the form's state before saving  # fmt: skip
    member, contact = MemberFactory(merchant=merchant), ClientFactory(merchant=merchant)
    for days_ago in (1, 10, 30, 45, 60, 89, 90):  # 90 days ago is the window's first day
        _purchase(merchant, member, "1000.00", days_ago)
    _purchase(merchant, member, "999.99", 5)  # below the threshold
    _purchase(merchant, member, "5000", 91)  # before the window
    _purchase(merchant, member, "5000", 0, hour=0)  # today: not in the window
    _purchase(merchant, contact, "5000", 3)  # not a member: outside the audience
    projection = campaign_projection(campaign=campaign)
    # 7 purchases in 90 days → 7 × 30 / 90 = 2.33 rewards a month × 200 points = 466.67.
    assert projection.events == 7
    assert projection.monthly_rewards == Decimal("2.33")
    assert projection.monthly_cost == Decimal("466.67")


def test_projection_winback_by_hand():
    merchant = MerchantFactory()
    campaign = winback(merchant)
    campaign.days_after_last_purchase, campaign.reward_points = 30, Decimal(150)
    a, b, c, d = (MemberFactory(merchant=merchant) for _ in range(4))
    _purchase(merchant, a, "100", 50)  # lapses 20 days ago: counted
    _purchase(merchant, b, "100", 50)  # followed by a purchase within 30 days: not counted
    _purchase(merchant, b, "100", 40)  # lapses 10 days ago: counted
    _purchase(merchant, c, "100", 10)  # lapses in 20 days: not yet
    _purchase(merchant, d, "100", 125)  # lapsed 95 days ago: before the window
    projection = campaign_projection(campaign=campaign)
    # 2 lapses in 90 days → 2 × 150 × 30 / 90 = 100.00 a month.
    assert projection.events == 2
    assert projection.monthly_cost == Decimal("100.00")


def test_projection_segment_gift_has_no_monthly_figure():
    merchant = MerchantFactory()
    campaign = Campaign(merchant=merchant, kind="segment_gift", reward_points=Decimal(50))
    assert campaign_projection(campaign=campaign).monthly_cost is None


def test_form_shows_projection_before_saving(client):
    merchant = MerchantFactory()
    specialist = UserFactory(username="spec", role="specialist")
    merchant.specialists.add(specialist)
    member = MemberFactory(merchant=merchant)
    for days_ago in (2, 20, 40):
        _purchase(merchant, member, "2000", days_ago)
    client.force_login(specialist)
    data = {
        "merchant": merchant.pk, "kind": "check_growth", "name": "Big check",
        "is_active": "on", "audience": "members", "reward_form": "points",
        "reward_points": "300", "min_check_amount": "1500", "channel": "inbox",
        "budget_unit": "money", "monthly_budget": "250",
    }  # fmt: skip
    url = reverse("admin:loyalty_campaign_projection")
    result = json.loads(client.post(url, data).content)
    # 3 purchases → 3 × 300 × 30 / 90 = 300.00 a month, over a 250 budget.
    assert result["ok"] is True
    assert result["monthly_cost"] == "300.00"
    assert "₽300.00" in result["text"].replace("\xa0", "")
    assert "Over the budget of ₽250.00" in result["text"].replace("\xa0", "")
    assert not Campaign.objects.exists()  # nothing saved
    bad = json.loads(client.post(url, {**data, "reward_points": "-1"}).content)
    assert bad["ok"] is False and bad["errors"]
    # Another merchant's data is out of reach.
    other = MerchantFactory()
    assert not json.loads(client.post(url, {**data, "merchant": other.pk}).content)["ok"]
    page = client.get(reverse("admin:loyalty_campaign_add"))
    assert "loyalty/campaign_projection.js" in page.content.decode()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_cap_never_exceeded_by_two_concurrent_runs():
    merchant = MerchantFactory()
    campaign = winback(merchant, budget_unit="points", monthly_budget=Decimal(1050))
    lapsed_members(merchant, 2500)  # more than one chunk per run
    outcomes, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            outcomes.append(campaigns_run_day(merchant=merchant).campaigns[0].outcome)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # 1050 points at 100 a reward: 10 rewards, never 11, however the runs interleave.
    assert sum(o.issued for o in outcomes) == 10
    assert CampaignIssuance.objects.filter(campaign=campaign).count() == 10
    assert LedgerEntry.objects.filter(campaign=campaign).aggregate(s=Sum("points"))["s"] == 1000
    issued = set(CampaignIssuance.objects.values_list("client_id", flat=True))
    for outcome in outcomes:
        assert not issued & set(outcome.left_out)
        assert len(outcome.left_out) >= 2490
