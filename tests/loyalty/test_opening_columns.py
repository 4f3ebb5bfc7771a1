"""The opening balances of an import's new clients are written a column at a time
(`columns_write`): the rows hold exactly what the generic row writer and the ORM write for the
same credits, on either database, and an import records the same entries and balances whether
its clients are new or already there."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from crm.importing import clients_import
from crm.models import Client
from loyalty.ledger import writes
from loyalty.ledger.accounts import movement_apply
from loyalty.ledger.opening import opening_balance_start, opening_balances_prepare_new
from loyalty.ledger.shapes import insert_shape
from loyalty.ledger.writes import columns_write, copy_data, plain_rows_write
from loyalty.models import LedgerEntry, LedgerKind
from tests.crm.import_files import write_csv
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

# Whole, fractional (one rounded half up), repeated in different spellings, and zero (no row).
AMOUNTS = [D("100"), D("10.5"), D("10.50"), D("0.015"), D("10.5"), D("4999.99"), D("0"), D(7)]
LONG_REASON = "Opening balance\tfrom \\old\\ system\n" + "x" * 400
AT = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)


def stored_rows(merchant) -> list[tuple]:
    """Every column of the merchant's ledger rows but the key, as the database holds them."""
    fields = [f for f in insert_shape(LedgerEntry).fields]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(qn(f.column) for f in fields)} "
            f"FROM {qn(LedgerEntry._meta.db_table)} WHERE merchant_id = %s ORDER BY client_id",
            [merchant.pk],
        )
        return cursor.fetchall()


def generic_rows(merchant, credits, user_id) -> list[dict]:
    """The rows as the generic writer takes them: one dict per credit, the rule per row."""
    rows = []
    for client_id, points in sorted(credits):
        booked, _balance, uncovered = movement_apply(D(0), points, allow_short=False)
        if booked:
            rows.append(
                {
                    "merchant_id": merchant.pk,
                    "client_id": client_id,
                    "kind": LedgerKind.OPENING_BALANCE.value,
                    "points": booked,
                    "uncovered": uncovered,
                    "reason": LONG_REASON[:300],
                    "created_by_id": user_id,
                    "created_at": AT,
                }
            )
    return rows


def written_three_ways(user_id) -> tuple[list, list, list]:
    merchant = MerchantFactory()
    clients = [ClientFactory(merchant=merchant).pk for _amount in AMOUNTS]
    credits = list(zip(clients, AMOUNTS, strict=True))
    rows = generic_rows(merchant, credits, user_id)
    found = []
    with transaction.atomic():
        LedgerEntry.objects.bulk_create(LedgerEntry(**row) for row in rows)
        found.append(stored_rows(merchant))
        LedgerEntry.objects.filter(merchant=merchant).delete()
        plain_rows_write(LedgerEntry, rows, conn=connection)
        found.append(stored_rows(merchant))
        LedgerEntry.objects.filter(merchant=merchant).delete()
        entries = opening_balances_prepare_new(
            merchant_id=merchant.pk,
            credits=credits,
            created_at=AT,
            reason=LONG_REASON,
            user_id=user_id,
            conn=connection,
        )
        assert not stored_rows(merchant)  # made ready, nothing sent yet
        recorded = entries.write(connection)
        found.append(stored_rows(merchant))
    assert recorded == len(rows) == len(AMOUNTS) - 1
    return tuple(found)


@pytest.mark.parametrize("with_user", [True, False], ids=["user", "no-user"])
def test_columns_hold_what_the_orm_and_the_generic_writer_write(with_user):
    user_id = UserFactory().pk if with_user else None
    by_orm, generic, by_columns = written_three_ways(user_id)
    assert by_columns == generic == by_orm
    fields = [f.attname for f in insert_shape(LedgerEntry).fields]
    first = dict(zip(fields, by_columns[0], strict=True))
    assert first["created_by_id"] == user_id
    assert first["purchase_id"] is None and first["expires_at"] is None  # the defaults
    reasons = {row[fields.index("reason")] for row in by_columns}
    assert reasons == {LONG_REASON[:300]}
    points = [D(str(row[fields.index("points")])) for row in by_columns]
    assert points == [D(p) for p in ("100", "10.5", "10.5", "0.02", "10.5", "4999.99", "7")]


def test_rows_the_copy_text_cannot_hold_go_through_the_driver(monkeypatch):
    """PostgreSQL: with no COPY text (a value without a text form here) the driver writes the
    same rows, the fixed columns after the varying ones."""
    monkeypatch.setattr(writes, "copy_data", lambda columns, fixed=(): None)
    by_orm, generic, by_columns = written_three_ways(UserFactory().pk)
    assert by_columns == generic == by_orm


def test_copy_text_puts_the_fixed_values_after_each_row():
    assert copy_data([[1, 2], [D("1.50"), D("1.50")]], ["a\tb", None, True]) == (
        "1\t1.50\ta\\tb\t\\N\tt\n2\t1.50\ta\\tb\t\\N\tt\n"
    )
    assert copy_data([[object()]], []) is None
    assert copy_data([[1]], [object()]) is None


def test_columns_write_refuses_what_it_cannot_write(merchant):
    client = ClientFactory(merchant=merchant)
    with pytest.raises(ValueError, match="equal length"):
        columns_write(
            LedgerEntry, fixed={}, columns={"client_id": [client.pk], "points": []}, conn=connection
        )
    with pytest.raises(ValueError, match="equal length"):
        columns_write(LedgerEntry, fixed={"client_id": client.pk}, columns={}, conn=connection)
    with pytest.raises(ValueError, match="not a column"):
        columns_write(
            LedgerEntry, fixed={"points": D(1)}, columns={"points": [D(1)]}, conn=connection
        )
    with pytest.raises(ValueError, match="not a column"):
        columns_write(LedgerEntry, fixed={}, columns={"client": [client]}, conn=connection)
    assert not LedgerEntry.objects.exists()


def test_a_start_balance_is_the_rule_applied_to_nothing():
    for amount in AMOUNTS:
        assert opening_balance_start(amount) == movement_apply(D(0), amount, allow_short=False)[1]
    assert str(opening_balance_start(D("10.5"))) == str(opening_balance_start(D("10.50")))


def test_an_import_records_the_same_entries_for_new_and_existing_clients(tmp_path):
    """New clients' entries (written as columns) equal those the ledger's batch writes for
    clients that were already there; every balance is its ledger sum."""
    spellings = ["100", "10,5", "10,50", "0,015", "10,5", "4 999,99", "0", "7"]
    rows = [["Телефон", "Баллы"]]
    rows += [[f"913123{4560 + i}", points] for i, points in enumerate(spellings)]
    path = write_csv(tmp_path / "points.csv", rows, delimiter=";")
    specialist = UserFactory(role="specialist")
    fresh, known = MerchantFactory(), MerchantFactory()
    for merchant in (fresh, known):
        merchant.specialists.add(specialist)
    for i in range(len(spellings)):
        ClientFactory(merchant=known, phone=f"+79131234{560 + i}")

    entries = {}
    for merchant in (fresh, known):
        report = clients_import(merchant=merchant, path=str(path), user=specialist)
        assert report.opening_balances == len(spellings) - 1
        entries[merchant] = [
            (e.client.phone, e.kind, e.points, e.uncovered, e.reason, e.created_by_id)
            for e in LedgerEntry.objects.filter(merchant=merchant).order_by("client__phone")
        ]
        for client in Client.objects.filter(merchant=merchant):
            total = client.ledger.aggregate(s=Sum("points"))["s"] or D("0.00")
            assert client.balance == total
    assert entries[fresh] == entries[known]
    assert [e[2] for e in entries[fresh]] == [
        D("100.00"),
        D("10.50"),
        D("10.50"),
        D("0.02"),
        D("10.50"),
        D("4999.99"),
        D("7.00"),
    ]
    (reason,) = {e[4] for e in entries[fresh]}
    assert "points.csv" in reason
    assert {e[5] for e in entries[fresh]} == {specialist.pk}
    assert Client.objects.get(merchant=fresh, phone="+79131234563").balance == D("0.02")
