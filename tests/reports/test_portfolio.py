"""The portfolio reads every merchant's figures at once: the same number of queries for one
merchant as for three, and each row equal to that merchant's own Point-B definitions
(worked out by hand for the hand-built merchant, live and from the rollup)."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports import aggregates as agg
from reports import metrics
from reports.models import BenefitComponent
from reports.portfolio import portfolio_figures, portfolio_row, snapshots_for
from reports.rollup import reports_refresh
from tests.factories import BranchFactory, ClientFactory, MerchantFactory, UserFactory

from .conftest import buy

pytestmark = pytest.mark.django_db


def _shop(n: int, specialist):
    merchant = MerchantFactory(slug=f"shop-{n}", name=f"Shop {n}", time_zone="Asia/Almaty")
    merchant.specialists.add(specialist)
    branch = BranchFactory(merchant=merchant, name=f"Branch {n}")
    member = ClientFactory(merchant=merchant, joined_at=None)
    member.joined_at = member.created_at
    member.save()
    buy(merchant, member, 1000 * n, day=merchant.local_today(), points=10 * n, branch=branch)
    buy(merchant, None, 300, day=merchant.local_today(), branch=branch)
    BenefitComponent.objects.create(merchant=merchant, kind="manual", manual_amount=D(7 * n))
    return merchant


def _page_queries(client, user) -> int:
    client.force_login(user)
    url = reverse("reports:portfolio")
    client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_the_merchants(client):
    specialist = UserFactory(username="spec-portfolio", role="specialist")
    _shop(1, specialist)
    one = _page_queries(client, specialist)
    _shop(2, specialist)
    _shop(3, specialist)
    three = _page_queries(client, specialist)
    assert one == three
    body = client.get(reverse("reports:portfolio")).content.decode()
    assert all(f"Shop {n}" in body for n in (1, 2, 3))


def _per_merchant(merchant) -> dict:
    """The row as the dashboard's definitions give it, one merchant at a time."""
    period = metrics.default_period(merchant)
    snap = metrics.snapshot_for(merchant)
    through = snap.rollup_through if snap else None
    by_channel = agg.sales(merchant, period, by=("channel",), through=through)
    total = agg.empty_sales()
    for row in by_channel:
        agg.add_sales(total, row)
    channel_revenue = {r["channel"]: r["card_revenue"] for r in by_channel}
    saving = (
        merchant.previous_discount_percent * total["card_revenue"] / 100 - total["points_redeemed"]
    )
    revenues = {
        "certificates": total["cert_revenue"],
        "saving": saving,
        **{k: channel_revenue.get(ch, 0) for k, ch in metrics.CHANNEL_COMPONENT.items()},
    }
    return {
        "members": sum(r["joined"] for r in agg.members(merchant, period, through=through)),
        "card_revenue": total["card_revenue"],
        "actual_discount": metrics.pct(total["points_redeemed"], total["card_revenue"]),
        "benefit": metrics.economic_benefit(merchant=merchant, revenues=revenues).total,
    }


def _figures(row) -> dict:
    return {k: row[k] for k in ("members", "card_revenue", "actual_discount", "benefit")}


def test_rows_by_hand_and_equal_to_each_merchants_own_figures(small_merchant):
    specialist = UserFactory(username="spec-hand", role="specialist")
    others = [_shop(n, specialist) for n in (2, 3)]
    BenefitComponent.objects.create(
        merchant=small_merchant, kind="platform", attribution_percent=D(50)
    )
    rows = portfolio_figures([small_merchant, *others])
    # Card revenue 1000 + 2000 + 5000 + 3000 + (4000 − 4000) + (1000 − 200) = 11 800; points 100.
    # Benefit: saving 5 % × 11 800 − 100 = 490, certificates 5 000, platform 5 000 × 50 %
    # = 2 500, promo code 3 000, referrals 800 → 11 790. Members a–e: 5.
    assert _figures(rows[0]) == {
        "members": 5,
        "card_revenue": D("11800.00"),
        "actual_discount": D("0.85"),
        "benefit": D("11790.00"),
    }
    # Shop n: one organic member, card revenue 1000·n, points 10·n (1 %); benefit: saving
    # 5 % × 1000·n − 10·n = 40·n plus the manual 7·n = 47·n; the non-card 300 counts nowhere.
    for n, row in zip((2, 3), rows[1:], strict=True):
        assert _figures(row) == {
            "members": 1,
            "card_revenue": D(1000 * n),
            "actual_discount": D("1.00"),
            "benefit": D(47 * n),
        }
    for merchant, row in zip([small_merchant, *others], rows, strict=True):
        assert row["merchant"] == merchant
        assert _figures(row) == _per_merchant(merchant)


def test_rollup_rows_equal_the_live_ones(small_merchant, monkeypatch):
    live = _figures(portfolio_row(small_merchant))
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    reports_refresh(merchant=small_merchant, today=date(2025, 2, 13))
    assert snapshots_for([small_merchant])[small_merchant.pk] == metrics.snapshot_for(
        small_merchant
    )
    assert snapshots_for([small_merchant])[small_merchant.pk] is not None
    # After the rollup day: a card purchase and a new member, read live and added.
    late = ClientFactory(merchant=small_merchant, joined_at=None)
    late.joined_at = late.created_at
    late.save()
    buy(small_merchant, late, 100, day=small_merchant.local_today())
    other = MerchantFactory(slug="live-only")
    rows = portfolio_figures([small_merchant, other])
    assert _figures(rows[0]) == _per_merchant(small_merchant)
    assert rows[0]["members"] == live["members"] + 1
    assert rows[0]["card_revenue"] == live["card_revenue"] + 100
    assert _figures(rows[1]) == _per_merchant(other)
    assert rows[1]["card_revenue"] == 0 and rows[1]["members"] == 0
