"""Expiry: whole balances N months after the last purchase (or joining), the unspent part of
short-lived gifts after K days, lapsed certificates. Always through ledger entries."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Client, Segment
from loyalty.campaigns import expiry
from loyalty.campaigns.expiry import gifts_burn, points_expire
from loyalty.campaigns.run import campaigns_run_day
from loyalty.campaigns.segments import segment_gift_send
from loyalty.models import Certificate, LedgerEntry, Program
from tests.factories import CampaignFactory, ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def at(merchant, *args):
    return datetime(*args, tzinfo=ZoneInfo(merchant.time_zone))


def with_balance(merchant, points, *, created_at, **fields):
    client = ClientFactory(merchant=merchant, balance=Decimal(points), **fields)
    LedgerEntry.objects.create(
        merchant=merchant, client=client, kind="accrual", points=points, created_at=created_at
    )
    return client


def ledger_sum(client):
    return LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"]


def expiring_merchant(months=12, **kw):
    merchant = MerchantFactory(**kw)
    Program.objects.create(merchant=merchant, points_expiry_months=months)
    return merchant


def test_balance_expires_months_after_last_purchase_as_a_ledger_entry():
    merchant = expiring_merchant(12)
    last = at(merchant, 2024, 3, 10, 15)
    client = with_balance(merchant, "500.50", created_at=last, last_purchase_at=last)
    fresh = with_balance(
        merchant, 100, created_at=last, last_purchase_at=at(merchant, 2024, 3, 11, 10)
    )

    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 9)).expiry.clients_expired == 0
    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 10))

    assert report.expiry.clients_expired == 1
    assert report.expiry.points_expired == Decimal("500.50")
    client.refresh_from_db()
    fresh.refresh_from_db()
    assert client.balance == 0
    assert fresh.balance == 100
    entry = LedgerEntry.objects.get(kind="expiry")
    assert entry.client_id == client.pk
    assert entry.points == Decimal("-500.50")
    assert ledger_sum(client) == 0
    # Idempotent: the next run (and a re-run) expire nothing more.
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 10)).expiry.clients_expired == 0
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 11)).expiry.clients_expired == 1
    assert LedgerEntry.objects.filter(kind="expiry", client=client).count() == 1


def test_never_bought_expires_from_joining_and_month_end_is_clamped():
    merchant = expiring_merchant(1)
    joined = at(merchant, 2025, 1, 31, 12)
    client = with_balance(merchant, 100, created_at=joined, joined_at=joined)
    moment = at(merchant, 2025, 2, 27, 9)
    assert points_expire(merchant=merchant, day=date(2025, 2, 27), moment=moment) == (0, 0)
    # 31 January + 1 month = 28 February.
    moment = at(merchant, 2025, 2, 28, 9)
    assert points_expire(merchant=merchant, day=date(2025, 2, 28), moment=moment) == (
        1,
        Decimal("100.00"),
    )
    client.refresh_from_db()
    assert client.balance == 0


def test_expiry_uses_the_merchant_local_date():
    """Last purchase 2024-03-10 20:00 UTC is 11 March in Novokuznetsk."""
    merchant = expiring_merchant(12, time_zone="Asia/Novokuznetsk")
    last = datetime(2024, 3, 10, 20, tzinfo=UTC)
    with_balance(merchant, 50, created_at=last, last_purchase_at=last)
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 10)).expiry.clients_expired == 0
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 11)).expiry.clients_expired == 1


def test_points_credited_after_the_lapse_are_kept():
    merchant = expiring_merchant(12)
    last = at(merchant, 2024, 1, 5, 12)
    client = with_balance(merchant, 300, created_at=last, last_purchase_at=last)
    LedgerEntry.objects.create(
        merchant=merchant,
        client=client,
        kind="adjustment",
        points=40,
        created_at=at(merchant, 2025, 2, 1, 12),
    )
    Client.objects.filter(pk=client.pk).update(balance=340)
    report = campaigns_run_day(merchant=merchant, day=date(2025, 2, 2))
    assert report.expiry.points_expired == Decimal("300.00")
    client.refresh_from_db()
    assert client.balance == Decimal("40.00")
    assert ledger_sum(client) == Decimal("40.00")
    assert campaigns_run_day(merchant=merchant, day=date(2025, 2, 3)).expiry.clients_expired == 0


def test_no_expiry_period_means_points_never_expire():
    merchant = MerchantFactory()
    Program.objects.create(merchant=merchant, points_expiry_months=None)
    last = at(merchant, 2010, 1, 1, 12)
    client = with_balance(merchant, 10, created_at=last, last_purchase_at=last)
    campaigns_run_day(merchant=merchant, day=date(2025, 1, 1))
    client.refresh_from_db()
    assert client.balance == 10


def test_lapsed_certificates_become_expired():
    merchant = MerchantFactory()
    client = ClientFactory(merchant=merchant)
    issued = at(merchant, 2025, 1, 1, 9)

    def cert(valid_days):
        return Certificate.objects.create(
            merchant=merchant,
            client=client,
            points=100,
            redemption_cap_percent=20,
            issued_at=issued,
            valid_until=issued + timedelta(days=valid_days),
        )

    lapsed, valid = cert(5), cert(30)
    redeemed = cert(5)
    Certificate.objects.filter(pk=redeemed.pk).update(status="redeemed")
    report = campaigns_run_day(merchant=merchant, day=date(2025, 1, 10))
    assert report.expiry.certificates_expired == 1
    statuses = dict(Certificate.objects.values_list("pk", "status"))
    assert statuses == {lapsed.pk: "expired", valid.pk: "active", redeemed.pk: "redeemed"}


def gift_campaign(merchant, points=100, days=3):
    """004's mechanic: points gifted to lapsed clients, burning after K days."""
    return CampaignFactory(
        merchant=merchant,
        kind="segment_gift",
        reward_form="points",
        reward_points=Decimal(points),
        burn_after_days=days,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )


def test_gift_burns_only_its_unspent_part_after_k_days():
    merchant = MerchantFactory(time_zone="Asia/Tbilisi")
    campaign = gift_campaign(merchant, 100, 3)
    segment = Segment.objects.create(
        merchant=merchant, name="Lapsed", kind="lapsed", lapsed_days=30
    )
    long_ago = at(merchant, 2024, 12, 1, 12)
    member = {"created_at": long_ago, "last_purchase_at": long_ago, "joined_at": long_ago}
    spender = with_balance(merchant, 20, **member)
    idle = with_balance(merchant, 0, **member)
    gave = at(merchant, 2025, 2, 1, 10)
    outcome = segment_gift_send(campaign=campaign, segment=segment, now=gave)
    assert outcome.issued == 2
    # Given on 1 February: 1, 2 and 3 February to spend it, burning when 3 February ends.
    assert LedgerEntry.objects.get(client=spender, kind="campaign").expires_at == at(
        merchant, 2025, 2, 4, 0
    )
    # The spender redeems 30 points the next day: 70 of the gift are left unspent.
    LedgerEntry.objects.create(
        merchant=merchant,
        client=spender,
        kind="redemption",
        points=-30,
        created_at=gave + timedelta(days=1),
    )
    Client.objects.filter(pk=spender.pk).update(balance=90)

    assert gifts_burn(merchant=merchant, moment=at(merchant, 2025, 2, 3, 23, 59, 59)) == (0, 0)
    burned = gifts_burn(merchant=merchant, moment=at(merchant, 2025, 2, 4, 9))
    assert burned == (2, Decimal("170.00"))
    spender.refresh_from_db()
    idle.refresh_from_db()
    assert (spender.balance, idle.balance) == (Decimal("20.00"), Decimal("0.00"))
    assert ledger_sum(spender) == Decimal("20.00")
    assert ledger_sum(idle) == 0
    # Burns once.
    assert gifts_burn(merchant=merchant, moment=gave + timedelta(days=4)) == (0, 0)


def test_fully_spent_gift_burns_nothing():
    merchant = MerchantFactory()
    campaign = gift_campaign(merchant, 50, 2)
    segment = Segment.objects.create(merchant=merchant, name="List", kind="phone_list")
    client = ClientFactory(merchant=merchant, phone="+79130000001", joined_at=timezone.now())
    segment.phones = ["8 913 000-00-01", "+79130000099"]
    segment.save()
    gave = at(merchant, 2025, 5, 1, 10)
    assert segment_gift_send(campaign=campaign, segment=segment, now=gave).issued == 1
    LedgerEntry.objects.create(
        merchant=merchant, client=client, kind="redemption", points=-50, created_at=gave
    )
    Client.objects.filter(pk=client.pk).update(balance=0)
    assert gifts_burn(merchant=merchant, moment=gave + timedelta(days=2)) == (0, 0)


def test_balance_expiry_locks_many_clients_in_key_order_and_books_each_once():
    """The due clients are read unordered (the planner would otherwise walk the whole client
    table in key order) and sorted before they are locked; each gets one entry, balances equal
    the ledger, and a second call expires nothing."""
    merchant = expiring_merchant(12)
    last = at(merchant, 2024, 3, 10, 15)
    clients = [
        with_balance(merchant, 10 + i, created_at=last, last_purchase_at=last) for i in range(7)
    ]
    day, moment = date(2025, 3, 10), at(merchant, 2025, 3, 10, 9)

    with CaptureQueriesContext(connection) as queries:
        assert points_expire(merchant=merchant, day=day, moment=moment) == (7, Decimal(91))
    lookup = next(q["sql"] for q in queries if "last_activity_at" in q["sql"])
    assert "ORDER BY" not in lookup.upper()
    for client in clients:
        client.refresh_from_db()
        assert client.balance == 0 == ledger_sum(client)
        assert LedgerEntry.objects.filter(client=client, kind="expiry").count() == 1
    assert points_expire(merchant=merchant, day=day, moment=moment) == (0, Decimal(0))


def test_only_the_clients_due_are_locked(monkeypatch):
    """The look-up's slack (a few days around month ends) finds clients not yet due: the lapse
    rule is applied before the lock, so only the due ones are locked — and again under it."""
    merchant = expiring_merchant(1)
    due = with_balance(
        merchant, 100, created_at=at(merchant, 2025, 1, 20, 12), joined_at=at(merchant, 2025, 1, 20)
    )
    not_yet = with_balance(
        merchant, 70, created_at=at(merchant, 2025, 1, 22, 12), joined_at=at(merchant, 2025, 1, 22)
    )
    locked = []
    lock = expiry.lock_accounts

    def recording(ids, **kwargs):
        locked.extend(ids)
        return lock(ids, **kwargs)

    monkeypatch.setattr(expiry, "lock_accounts", recording)
    moment = at(merchant, 2025, 2, 20, 9)
    assert points_expire(merchant=merchant, day=date(2025, 2, 20), moment=moment) == (
        1,
        Decimal("100.00"),
    )
    assert locked == [due.pk]
    not_yet.refresh_from_db()
    assert not_yet.balance == 70
