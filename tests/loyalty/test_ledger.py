"""The ledger primitive: balance moves with its entries, never below zero; opening balance once."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from loyalty.ledger import (
    InsufficientPoints,
    LedgerBatch,
    ledger_balance,
    ledger_post,
    lock_accounts,
    lock_clients,
)
from loyalty.models import LedgerEntry, LedgerKind
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def post(client, kind, points):
    with transaction.atomic():
        locked = lock_clients([client.pk])[client.pk]
        return ledger_post(client=locked, kind=kind, points=points)


def test_balance_follows_entries_and_never_goes_negative():
    client = ClientFactory()
    post(client, LedgerKind.WELCOME, Decimal("100.005"))
    post(client, LedgerKind.REDEMPTION, Decimal("-40"))
    client.refresh_from_db()
    assert client.balance == Decimal("60.01")  # 100.005 rounds half-up to 100.01
    with pytest.raises(InsufficientPoints):
        post(client, LedgerKind.REDEMPTION, Decimal("-60.02"))
    client.refresh_from_db()
    assert client.balance == Decimal("60.01") == ledger_balance(client)


@pytest.mark.django_db(transaction=True)
def test_ledger_post_refuses_to_run_outside_a_transaction():
    client = ClientFactory()
    with pytest.raises(RuntimeError):
        ledger_post(client=client, kind=LedgerKind.WELCOME, points=Decimal(1))


def test_opening_balance_is_credited_once_per_client():
    client = ClientFactory()
    post(client, LedgerKind.OPENING_BALANCE, Decimal(500))
    with pytest.raises(IntegrityError), transaction.atomic():
        post(client, LedgerKind.OPENING_BALANCE, Decimal(500))
    client.refresh_from_db()
    assert client.balance == Decimal(500)


def test_the_ledger_keeps_only_the_indexes_its_look_ups_use():
    """An append-only table pays for every index on each entry: the merchant and client keys
    are served by the composite indexes, the optional keys by partial ones; the opening
    balance's unique index survives the slimming on every database."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, LedgerEntry._meta.db_table)
    single = sorted(
        tuple(c["columns"])
        for c in found.values()
        if c["index"] and not c["primary_key"] and len(c["columns"]) == 1 and not c["unique"]
    )
    assert ("merchant_id",) not in single and ("client_id",) not in single
    assert single.count(("purchase_id",)) == 1
    assert found["uniq_opening_balance_per_client"]["unique"]
    assert {"ledger_purchase", "ledger_refund", "ledger_campaign"} <= set(found)


def test_plain_rows_come_back_as_written_whatever_their_text():
    """`LedgerBatch.post_plain` rows are COPYed as text on PostgreSQL (each distinct value
    formatted once): backslashes, tabs, line breaks, NULLs, moments with their offset and
    amounts come back as they were posted."""
    clients = [ClientFactory(), ClientFactory()]
    moment = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=7)))
    reasons = ["tab\there \\N back\\slash", "line\nbreak\r\nand 'quotes' \"x\"", ""]
    with transaction.atomic():
        batch = LedgerBatch(lock_accounts([c.pk for c in clients]))
        for i, reason in enumerate(reasons):
            batch.post_plain(
                client_id=clients[i % 2].pk,
                kind=LedgerKind.ADJUSTMENT,
                points=Decimal("10.50") + i,
                reason=reason,
                created_at=moment,
                expires_at=None if i else moment + timedelta(days=3),
            )
        batch.flush(need_ids=False)
    rows = list(
        LedgerEntry.objects.filter(client__in=clients)
        .order_by("points")
        .values_list("reason", "points", "created_at", "expires_at", "campaign_id")
    )
    assert rows == [
        (reasons[0], Decimal("10.50"), moment, moment + timedelta(days=3), None),
        (reasons[1], Decimal("11.50"), moment, None, None),
        (reasons[2], Decimal("12.50"), moment, None, None),
    ]
    for client in clients:
        client.refresh_from_db()
        assert client.balance == ledger_balance(client)
