"""A day the daily run completed is marked with the settings it ran under: a re-run of the day
is decided by the mark (no selection, nothing of the client table read), and every part whose
settings changed since runs again. A run killed half-way leaves no mark."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from crm.models import Client
from loyalty.campaigns import run as run_module
from loyalty.campaigns.marks import day_marks_clear
from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import (
    Campaign,
    CampaignDayMark,
    CampaignIssuance,
    Certificate,
    LedgerEntry,
    Program,
)
from tests.conftest import requires_postgres
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db

DAY = date(2025, 6, 1)


def local(merchant, *args):
    return datetime(*args, tzinfo=ZoneInfo(merchant.time_zone))


def birthday(merchant, **kw):
    return CampaignFactory(merchant=merchant, kind="birthday", days_before=10, **kw)


def with_balance(merchant, points, **fields):
    client = MemberFactory(merchant=merchant, balance=Decimal(points), **fields)
    LedgerEntry.objects.create(
        merchant=merchant,
        client=client,
        kind="accrual",
        points=points,
        created_at=fields.get("last_purchase_at") or client.created_at,
    )
    return client


def ledger_equals_balances(merchant):
    ledger = LedgerEntry.objects.filter(merchant=merchant).aggregate(s=Sum("points"))["s"] or 0
    cached = Client.objects.filter(merchant=merchant).aggregate(s=Sum("balance"))["s"] or 0
    return ledger == cached


def test_rerun_of_a_marked_day_reads_no_client_and_issues_nothing():
    merchant = MerchantFactory()
    birthday(merchant)
    CampaignFactory(merchant=merchant, kind="winback", days_after_last_purchase=30)
    MemberFactory.create_batch(3, merchant=merchant, birthday=date(1990, 6, 11))
    Program.objects.create(merchant=merchant, points_expiry_months=12)
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 3
    mark = CampaignDayMark.objects.get(merchant=merchant, day=DAY)
    assert len(mark.stamps) == 3  # two campaigns and expiry

    with CaptureQueriesContext(connection) as queries:
        again = campaigns_run_day(merchant=merchant, day=DAY)
    assert again.issued == 0
    assert [line.candidates for line in again.campaigns] == [0, 0]
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in sql if "crm_client" in s]
    assert len(sql) <= 8  # mark, campaigns, program, gifts and certificates due, mark write
    assert CampaignIssuance.objects.count() == 3


def test_an_edited_campaign_runs_again_on_the_same_day():
    merchant = MerchantFactory()
    campaign = birthday(merchant)
    MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    later = MemberFactory(merchant=merchant, birthday=date(1990, 6, 15))
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 1
    # An edit through any path (here a bare UPDATE) changes the campaign's fingerprint.
    Campaign.objects.filter(pk=campaign.pk).update(days_before=14)
    report = campaigns_run_day(merchant=merchant, day=DAY)
    assert report.issued == 1
    assert CampaignIssuance.objects.filter(client=later).exists()
    # Marked again under the new settings.
    assert campaigns_run_day(merchant=merchant, day=DAY).campaigns[0].candidates == 0


def test_a_campaign_created_or_reactivated_after_the_run_runs_that_day():
    merchant = MerchantFactory()
    first = birthday(merchant)
    member = MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 1
    second = birthday(merchant, reward_points=Decimal(500))
    report = campaigns_run_day(merchant=merchant, day=DAY)
    assert report.issued == 1
    assert CampaignIssuance.objects.get(campaign=second).client_id == member.pk
    # Deactivated, then switched on again unchanged: already done for the day, nothing twice.
    Campaign.objects.filter(pk=first.pk).update(is_active=False)
    campaigns_run_day(merchant=merchant, day=DAY)
    Campaign.objects.filter(pk=first.pk).update(is_active=True)
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 0
    assert CampaignIssuance.objects.filter(campaign=first).count() == 1


def test_changed_expiry_period_expires_again_on_the_same_day():
    merchant = MerchantFactory()
    program = Program.objects.create(merchant=merchant, points_expiry_months=24)
    client = with_balance(merchant, 300, last_purchase_at=local(merchant, 2024, 1, 10, 12))
    assert campaigns_run_day(merchant=merchant, day=DAY).expiry.clients_expired == 0
    Program.objects.filter(pk=program.pk).update(points_expiry_months=12)
    report = campaigns_run_day(merchant=merchant, day=DAY)
    assert (report.expiry.clients_expired, report.expiry.points_expired) == (1, Decimal(300))
    client.refresh_from_db()
    assert client.balance == 0 and ledger_equals_balances(merchant)


def test_certificates_and_gifts_due_later_that_day_expire_on_the_rerun():
    merchant = MerchantFactory()
    client = MemberFactory(merchant=merchant)
    morning, evening = local(merchant, 2025, 6, 1, 9), local(merchant, 2025, 6, 1, 21)
    cert = Certificate.objects.create(
        merchant=merchant,
        client=client,
        points=100,
        redemption_cap_percent=100,
        issued_at=morning - timedelta(days=5),
        valid_until=local(merchant, 2025, 6, 1, 15),
    )
    gift = LedgerEntry.objects.create(
        merchant=merchant,
        client=client,
        kind="campaign",
        points=50,
        expires_at=local(merchant, 2025, 6, 1, 16),
        created_at=morning - timedelta(days=3),
    )
    Client.objects.filter(pk=client.pk).update(balance=50)
    first = campaigns_run_day(merchant=merchant, now=morning)
    assert (first.expiry.certificates_expired, first.expiry.gifts_burned) == (0, 0)
    again = campaigns_run_day(merchant=merchant, now=evening)
    assert (again.expiry.certificates_expired, again.expiry.gifts_burned) == (1, 1)
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.EXPIRED
    assert LedgerEntry.objects.get(kind="expiry").reason == f"burn #{gift.pk}"
    assert ledger_equals_balances(merchant)
    # The gift burns once, whatever further re-runs do.
    assert campaigns_run_day(merchant=merchant, now=evening).expiry.gifts_burned == 0


def test_a_run_killed_half_way_leaves_no_mark_and_the_next_run_finishes_the_day(monkeypatch):
    merchant = MerchantFactory()
    birthday(merchant)
    Program.objects.create(merchant=merchant, points_expiry_months=12)
    MemberFactory.create_batch(2, merchant=merchant, birthday=date(1990, 6, 11))
    lapsed = with_balance(merchant, 200, last_purchase_at=local(merchant, 2024, 5, 1, 12))

    def killed(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(run_module, "expiry_run", killed)
    with pytest.raises(RuntimeError):
        campaigns_run_day(merchant=merchant, day=DAY)
    assert CampaignIssuance.objects.count() == 2  # committed before the kill
    assert not CampaignDayMark.objects.exists()
    monkeypatch.undo()

    report = campaigns_run_day(merchant=merchant, day=DAY)
    assert report.issued == 0  # nothing twice
    assert report.expiry.clients_expired == 1
    lapsed.refresh_from_db()
    assert lapsed.balance == 0 and ledger_equals_balances(merchant)
    assert CampaignDayMark.objects.filter(merchant=merchant, day=DAY).exists()


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@requires_postgres
def test_only_the_chunks_commit_without_waiting_for_their_flush(monkeypatch):
    """The chunks of a first run commit with `synchronous_commit` off; the mark is written
    with it back on (its flush makes every chunk durable), and a run that fails half-way
    gives the connection back as it found it."""
    merchant = MerchantFactory()
    birthday(merchant)
    Program.objects.create(merchant=merchant, points_expiry_months=12)
    MemberFactory.create_batch(2, merchant=merchant, birthday=date(1990, 6, 11))
    before = synchronous_commit()
    seen = {}
    expire, mark = run_module.expiry_run, run_module.marks.day_mark_write

    def expiring(**kwargs):
        seen["chunks"] = synchronous_commit()
        return expire(**kwargs)

    def marking(**kwargs):
        seen["mark"] = synchronous_commit()
        return mark(**kwargs)

    monkeypatch.setattr(run_module, "expiry_run", expiring)
    monkeypatch.setattr(run_module.marks, "day_mark_write", marking)
    campaigns_run_day(merchant=merchant, day=DAY)
    assert seen == {"chunks": "off", "mark": before} and before == "on"
    assert synchronous_commit() == before

    def killed(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(run_module, "expiry_run", killed)
    with pytest.raises(RuntimeError):
        campaigns_run_day(merchant=merchant, day=DAY + timedelta(days=1))
    assert synchronous_commit() == before

    # A re-run of a marked day writes little: its commits are not changed.
    seen.clear()
    monkeypatch.undo()
    monkeypatch.setattr(run_module, "expiry_run", expiring)
    campaigns_run_day(merchant=merchant, day=DAY)
    assert seen == {"chunks": before}


def test_clearing_the_marks_lets_the_day_pick_up_changed_clients():
    merchant = MerchantFactory()
    birthday(merchant)
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 0
    MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    # Client data changed after the day ran: the mark keeps the day decided ...
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 0
    # ... until it is run in full (`run_campaigns --full`) or the marks are cleared, or the
    # next day's run catches it up.
    assert campaigns_run_day(merchant=merchant, day=DAY, full=True).issued == 1
    MemberFactory(merchant=merchant, birthday=date(1990, 6, 10))
    assert day_marks_clear(merchant) == 1
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 1


def test_a_marked_day_does_not_hide_the_next_days_catch_up():
    merchant = MerchantFactory()
    birthday(merchant)
    assert campaigns_run_day(merchant=merchant, day=DAY).issued == 0
    MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    assert campaigns_run_day(merchant=merchant, day=DAY + timedelta(days=1)).issued == 1
