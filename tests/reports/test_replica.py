"""Reports read from the replica, everything else stays on the primary (reports.replica).

The routing rules are checked on any database; the end-to-end test needs a second alias
(`DATABASE_REPLICA_URL`, in CI a second connection to the same PostgreSQL server, mirrored to
the test database) and skips with the reason when there is none."""

from decimal import Decimal as D

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Client
from loyalty.models import Purchase
from loyalty.services.purchases import purchase_record
from reports.replica import REPLICA, ReplicaRouter, read_alias, replica_reads
from tests.factories import ClientFactory, MerchantFactory, UserFactory

from .test_views import login

needs_replica = pytest.mark.skipif(
    REPLICA not in settings.DATABASES,
    reason="DATABASE_REPLICA_URL is not set: no replica alias to route reports to",
)


def test_writes_and_migrations_stay_on_the_primary_and_reads_only_inside_a_block():
    router = ReplicaRouter()
    assert router.db_for_read(Client) is None  # outside a block: Django's default
    assert router.db_for_write(Client) == DEFAULT_DB_ALIAS
    assert read_alias() == DEFAULT_DB_ALIAS
    with replica_reads():
        assert router.db_for_write(Purchase) == DEFAULT_DB_ALIAS
        expected = REPLICA if REPLICA in settings.DATABASES else DEFAULT_DB_ALIAS
        assert router.db_for_read(Purchase) == expected
        assert read_alias() == expected
    assert read_alias() == DEFAULT_DB_ALIAS
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "crm") is True
    assert router.allow_migrate(REPLICA, "crm") is False


@needs_replica
@pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])
def test_dashboard_reads_from_the_replica_and_the_engine_writes_to_the_primary(client):
    merchant = MerchantFactory(slug="replica-shop")
    owner = UserFactory(username="replica-owner", role="owner")
    merchant.owners.add(owner)
    buyer = ClientFactory(merchant=merchant, phone="+79181112233")
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        result = purchase_record(
            merchant=merchant,
            client=buyer,
            amount=D(1000),
            payment_type="card",
            source="cashier",
            external_id="replica-1",
        )
    assert result.created and on_replica.captured_queries == []
    login(client, owner)
    url = reverse("reports:dashboard", args=[merchant.slug])
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as on_primary,
    ):
        page = client.get(url)
    assert page.status_code == 200
    assert page.context["b"].sales.card_purchases == 1  # the replica sees the committed sale
    replica_sql = " ".join(q["sql"] for q in on_replica.captured_queries)
    primary_sql = " ".join(q["sql"] for q in on_primary.captured_queries)
    assert '"loyalty_purchase"' in replica_sql and '"crm_client"' in replica_sql
    # The primary serves only the request's session and user, none of the report's reads.
    assert '"loyalty_purchase"' not in primary_sql and '"crm_client"' not in primary_sql
