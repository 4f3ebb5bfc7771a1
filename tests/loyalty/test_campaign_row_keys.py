"""Issuances and certificates keep their client and campaign keys without a database check
(loyalty.models.CampaignIssuance): Django still cascades a client's or a campaign's deletion,
and the issuance statement itself holds the campaign, so a campaign deleted before a chunk
is written gets no issuance. A chunk committed while its client or campaign is being deleted
(after Django read their rows, before it deleted the row itself) leaves nothing behind either
(PostgreSQL: the triggers of loyalty 0017)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models.deletion import Collector

from loyalty.campaigns.issuance import issue_rewards
from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import Campaign, CampaignIssuance, Certificate, OutboxMessage
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db

DAY = date(2025, 6, 1)


def birthday_run(merchant):
    campaign = CampaignFactory(
        merchant=merchant,
        kind="birthday",
        days_before=10,
        reward_form="certificate",
        reward_points=Decimal(500),
    )
    clients = [
        MemberFactory(merchant=merchant, birthday=date(1990, 6, 11), phone=f"+7913000000{i}")
        for i in range(3)
    ]
    campaigns_run_day(merchant=merchant, day=DAY)
    return campaign, clients


def keys_of(table: str) -> set[str]:
    """The foreign keys PostgreSQL checks on `table`, by column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
            "WHERE c.contype = 'f' AND c.conrelid = %s::regclass",
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def test_deleting_a_client_deletes_its_issuances_and_certificates():
    merchant = MerchantFactory()
    campaign, clients = birthday_run(merchant)
    assert CampaignIssuance.objects.filter(campaign=campaign).count() == 3
    assert Certificate.objects.filter(campaign=campaign).count() == 3

    clients[0].delete()

    assert not CampaignIssuance.objects.filter(client_id=clients[0].pk).exists()
    assert not Certificate.objects.filter(client_id=clients[0].pk).exists()
    assert not OutboxMessage.objects.filter(client_id=clients[0].pk).exists()
    assert CampaignIssuance.objects.filter(campaign=campaign).count() == 2
    assert Certificate.objects.filter(campaign=campaign).count() == 2


def test_deleting_a_campaign_deletes_its_issuances_and_keeps_its_certificates():
    merchant = MerchantFactory()
    campaign, clients = birthday_run(merchant)
    certificates = set(Certificate.objects.filter(campaign=campaign).values_list("pk", flat=True))

    campaign.delete()

    assert not CampaignIssuance.objects.filter(campaign_id=campaign.pk).exists()
    kept = Certificate.objects.filter(pk__in=certificates)
    assert kept.count() == 3
    assert set(kept.values_list("campaign_id", flat=True)) == {None}


def test_deleting_the_merchant_leaves_no_issuance_or_certificate():
    merchant = MerchantFactory()
    campaign, clients = birthday_run(merchant)

    merchant.delete()

    assert not CampaignIssuance.objects.filter(client_id__in=[c.pk for c in clients]).exists()
    assert not Certificate.objects.filter(client_id__in=[c.pk for c in clients]).exists()


def test_a_campaign_deleted_before_its_chunk_gets_no_issuance():
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant,
        kind="birthday",
        reward_form="certificate",
        reward_points=Decimal(500),
    )
    client = MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    # The run read the campaign; it is deleted before the chunk is written.
    stale = Campaign.objects.get(pk=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).delete()

    outcome = issue_rewards(
        campaign=stale,
        items=[(client.pk, "2025")],
        moment=datetime(2025, 6, 1, 9, tzinfo=ZoneInfo(merchant.time_zone)),
        merchant_name=merchant.name,
        tzinfo=ZoneInfo(merchant.time_zone),
    )

    assert outcome.issued == 0
    assert not CampaignIssuance.objects.filter(client=client).exists()
    assert not Certificate.objects.filter(client=client).exists()
    assert not OutboxMessage.objects.filter(client=client).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's constraints")
def test_issuances_and_certificates_check_no_client_or_campaign_key():
    assert keys_of("loyalty_campaignissuance") == set()
    assert keys_of("loyalty_certificate") == {"redeemed_purchase_id"}


def _issue_birthday(campaign, client):
    tzinfo = ZoneInfo(campaign.merchant.time_zone)
    return issue_rewards(
        campaign=campaign,
        items=[(client.pk, "2025")],
        moment=datetime(2025, 6, 1, 9, tzinfo=tzinfo),
        merchant_name=campaign.merchant.name,
        tzinfo=tzinfo,
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_a_chunk_committed_while_its_client_is_deleted_leaves_nothing_behind():
    """Django reads a client's rows before it deletes the client; a chunk that commits in
    between (its client lock makes the deletion wait for it) must not leave rows of a client
    that no longer exists."""
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant, kind="birthday", reward_form="certificate", reward_points=Decimal(500)
    )
    client, other = (
        MemberFactory(merchant=merchant, birthday=date(1990, 6, 11), phone=f"+7913000001{i}")
        for i in range(2)
    )
    gone = client.pk
    deletion = Collector(using="default")
    deletion.collect([client])
    assert _issue_birthday(campaign, client).issued == 1
    assert _issue_birthday(campaign, other).issued == 1

    deletion.delete()

    assert not CampaignIssuance.objects.filter(client_id=gone).exists()
    assert not Certificate.objects.filter(client_id=gone).exists()
    assert not OutboxMessage.objects.filter(client_id=gone).exists()
    assert CampaignIssuance.objects.filter(client=other).count() == 1
    assert Certificate.objects.filter(client=other).count() == 1
    connection.check_constraints()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_a_chunk_committed_while_its_campaign_is_deleted_leaves_no_issuance():
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant, kind="birthday", reward_form="certificate", reward_points=Decimal(500)
    )
    client = MemberFactory(merchant=merchant, birthday=date(1990, 6, 11))
    gone = campaign.pk
    deletion = Collector(using="default")
    deletion.collect([campaign])
    assert _issue_birthday(campaign, client).issued == 1

    deletion.delete()

    assert not CampaignIssuance.objects.filter(campaign_id=gone).exists()
    certificate = Certificate.objects.get(client=client)
    assert certificate.campaign_id is None
    message = OutboxMessage.objects.get(client=client)
    assert message.issuance_id is None
    connection.check_constraints()
