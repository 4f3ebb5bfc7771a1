"""PostgreSQL: a run into a merchant without clients writes its chunks without looking them up
while every client of the merchant is its own; a client someone else created meanwhile is found
by the unique key and merged as a look-up would have merged it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.importing.cleaning import Record
from crm.importing.writer import ClientWriter
from crm.models import Client
from loyalty.models import LedgerEntry
from tests.factories import ClientFactory, MerchantFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"),
]


def _chunk(first: int, count: int) -> list[Record]:
    return [
        Record(
            row=i + 2,
            phone=f"+7913555{i:04d}",
            full_name=f"Клиент {i}",
            birthday=dt.date(1990, 1, 1 + i % 28),
            email="",
            gender="",
            card_code="",
            source_detail="",
            points=Decimal("10.50") if i % 2 else None,
        )
        for i in range(first, first + count)
    ]


_RUN = {"overwrite": False, "dry_run": False, "user_id": None, "reason": "test"}


def _writer(merchant) -> ClientWriter:
    return ClientWriter(merchant=merchant, now=timezone.now(), **_RUN)


def _look_ups(queries) -> int:
    return sum("FROM unnest(string_to_array(" in q["sql"] for q in queries)


def test_own_clients_only_then_someone_elses_client_is_merged():
    merchant = MerchantFactory(slug="own-only")
    writer = _writer(merchant)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as first:
            outcome = writer.apply(_chunk(0, 20))
        assert (outcome.created, outcome.updated, outcome.opening_balances) == (20, 0, 10)
        assert _look_ups(first.captured_queries) == 0
        assert writer._own_clients_only is True

        # Someone else's client, with a phone the next chunk holds (odd: it has points).
        theirs = ClientFactory(merchant=merchant, phone="+79135550021", full_name="")
        with CaptureQueriesContext(connection) as second:
            outcome = writer.apply(_chunk(20, 20))
        assert writer._own_clients_only is False
        assert (outcome.created, outcome.updated, outcome.skipped) == (19, 1, 0)
        assert outcome.opening_balances == 10
        assert _look_ups(second.captured_queries) == 1

        with CaptureQueriesContext(connection) as third:
            outcome = writer.apply(_chunk(40, 5))
        assert outcome.created == 5
        assert _look_ups(third.captured_queries) == 1  # every chunk from then on

    theirs.refresh_from_db()
    assert theirs.full_name == "Клиент 21"  # an empty field filled, as a look-up merges
    assert theirs.balance == Decimal("10.50")
    assert LedgerEntry.objects.filter(client=theirs).count() == 1
    assert Client.objects.filter(merchant=merchant).count() == 45
    clients = Client.objects.filter(merchant=merchant, balance__gt=0)
    assert clients.count() == LedgerEntry.objects.filter(client__merchant=merchant).count() == 22


def test_a_merchant_with_clients_is_looked_up_from_the_first_chunk():
    merchant = MerchantFactory(slug="has-clients")
    ClientFactory(merchant=merchant, phone="+79135550003", full_name="")
    writer = _writer(merchant)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        outcome = writer.apply(_chunk(0, 10))
    assert writer._own_clients_only is False
    assert _look_ups(queries.captured_queries) == 1
    assert (outcome.created, outcome.updated) == (9, 1)


@pytest.mark.parametrize("as_text", [True, False])
def test_new_clients_ids_are_those_of_their_rows(as_text):
    merchant = MerchantFactory(slug="ids")
    others = ClientFactory(merchant=merchant, phone="+79135550003", full_name="Их клиент")
    writer = _writer(merchant)
    if not as_text:
        writer._copy_tail = None  # the driver's row writer
    prepared = []  # the ids the opening-balance entries were made ready for, rows in flight

    def entries_for(ids):
        prepared.append(dict(ids))
        return f"entries {len(prepared)}"

    with transaction.atomic():
        # +79135550003 exists: redone through the temp table; what was made ready meanwhile
        # for the failed COPY is dropped (the caller prepares them again from the ids).
        inserted, ids, entries = writer._insert_clients(_chunk(0, 4), entries_for)
        assert inserted == 3 and set(ids) == {"+79135550000", "+79135550001", "+79135550002"}
        assert entries is None
        inserted, more, entries = writer._insert_clients(_chunk(4, 4), entries_for)  # fast path
        assert inserted == 4 and len(more) == 4
        assert entries == f"entries {len(prepared)}" and prepared[-1] == more
        ids.update(more)
    table = dict(
        Client.objects.filter(merchant=merchant).exclude(pk=others.pk).values_list("phone", "id")
    )
    assert ids == table
    in_file_order = [ids[r.phone] for r in _chunk(0, 8) if r.phone in ids]
    assert in_file_order == sorted(in_file_order)
    assert Client.objects.get(pk=others.pk).full_name == "Их клиент"
