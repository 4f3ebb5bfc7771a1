"""Hand-built merchants for the Point-B tests; every expected figure is worked out by hand
in the tests that use them."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from crm.models import Client, ClientSource, Review
from loyalty.models import Purchase
from reports import metrics, rollup
from tests.factories import ClientFactory, MerchantFactory

MSK = ZoneInfo("Europe/Moscow")


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=MSK)


def buy(
    merchant, client, amount, *, day, refunded=0, points=0, cert=0, by_phone=False, branch=None
):
    amount = D(amount)
    return Purchase.objects.create(
        merchant=merchant,
        client=client,
        branch=branch,
        source="cashier",
        occurred_at=at(day),
        amount=amount,
        points_redeemed=D(points),
        certificate_redeemed=D(cert),
        paid_money=amount - D(points) - D(cert),
        refunded_amount=D(refunded),
        by_phone=by_phone,
    )


def sync_client_figures(client: Client) -> Client:
    """The engine keeps these cached figures; hand-built data sets them the same way."""
    kept = [p for p in client.purchases.all() if p.refunded_amount < p.amount]
    client.purchases_count = len(kept)
    client.total_spent = sum((p.amount - p.refunded_amount for p in kept), D(0))
    client.first_purchase_at = min((p.occurred_at for p in kept), default=None)
    client.last_purchase_at = max((p.occurred_at for p in kept), default=None)
    client.save()
    return client


@pytest.fixture
def small_merchant(db):
    return build_small_merchant()


FIRST_NIGHT = date(2025, 3, 1)


@pytest.fixture
def rolled(small_merchant, monkeypatch):
    """The small merchant after its first refresh (full), every mark up to now."""
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    first = rollup.reports_refresh(merchant=small_merchant, today=FIRST_NIGHT)
    assert first.timings["mode"] == "full" and first.purchases_seen_id > 0
    return small_merchant


def build_small_merchant():
    """Six contacts, a referral chain of two, five card purchases and two without a card.

    a: imported member, 1000 (100 points, by phone) + 2000
    b: platform member, 5000 paid partly with a 500 certificate
    c: promo code INSTA, 3000
    d: referred by b, 4000 fully refunded + 1000 with 200 refunded
    e: referred by d, no purchase
    f: imported contact, not a member
    no card: 600 and 400
    """
    m = MerchantFactory(
        slug="hand-built",
        previous_discount_percent=D(5),
        platform_traffic_share_percent=D(20),
        time_zone="Europe/Moscow",
    )
    joined = at(date(2025, 1, 2))
    a = ClientFactory(merchant=m, imported=True, source=ClientSource.IMPORT, joined_at=joined)
    b = ClientFactory(merchant=m, source=ClientSource.PLATFORM, joined_at=joined)
    c = ClientFactory(
        merchant=m, source=ClientSource.PROMO_CODE, source_detail="INSTA", joined_at=joined
    )
    d = ClientFactory(merchant=m, source=ClientSource.REFERRAL, referred_by=b, joined_at=joined)
    e = ClientFactory(
        merchant=m, source=ClientSource.REFERRAL, referred_by=d, joined_at=at(date(2025, 2, 3))
    )
    f = ClientFactory(merchant=m, imported=True, source=ClientSource.IMPORT)
    buy(m, a, 1000, day=date(2025, 1, 5), points=100, by_phone=True)
    buy(m, a, 2000, day=date(2025, 2, 5))
    buy(m, b, 5000, day=date(2025, 1, 10), cert=500)
    buy(m, c, 3000, day=date(2025, 1, 11))
    buy(m, d, 4000, day=date(2025, 1, 12), refunded=4000)
    buy(m, d, 1000, day=date(2025, 2, 12), refunded=200)
    buy(m, None, 600, day=date(2025, 1, 13))
    buy(m, None, 400, day=date(2025, 2, 14))
    for client in (a, b, c, d, e, f):
        sync_client_figures(client)
    Review.objects.create(
        merchant=m, client=a, rating=5, text="Great", created_at=at(date(2025, 1, 6))
    )
    Review.objects.create(merchant=m, client=b, rating=4, text="", created_at=at(date(2025, 1, 7)))
    Review.objects.create(
        merchant=m, client=c, rating=None, text="Hm", created_at=at(date(2025, 1, 8))
    )
    m.clients_by_name = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}
    return m
