"""The client's merchant key: on PostgreSQL checked once per statement by triggers (crm 0016)
with the guarantees of the foreign key it replaces; SQLite keeps the foreign key. The card and
(merchant, tier) indexes hold only the rows where the column is set."""

import threading

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from crm.models import Client
from loyalty.selectors import client_find
from onboarding.models import Merchant
from tests.conftest import requires_postgres
from tests.factories import ClientFactory, MerchantFactory

pytestmark = pytest.mark.django_db

MISSING = 987_654_321


def _client(merchant_id, phone="+79130000001"):
    return Client(merchant_id=merchant_id, phone=phone)


def _index_definitions() -> dict:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'crm_client'"
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'crm_client' AND sql IS NOT NULL"
            )
        return dict(cursor.fetchall())


def test_card_and_tier_indexes_hold_only_the_rows_where_set():
    found = _index_definitions()
    assert "client_card" in found and "client_tiered" in found
    card = found["client_card"].replace('"', "").lower()
    tiered = found["client_tiered"].replace('"', "").lower()
    assert (
        "(merchant_id, card_code)" in card
        and "where" in card
        and "card_code" in card.split("where")[1]
    )
    assert "(merchant_id, tier_id)" in tiered and "tier_id is not null" in tiered
    # no other index of the table holds the card or the (merchant, tier) pair for every row
    for name, definition in found.items():
        text = definition.replace('"', "").lower()
        if name not in ("client_card", "client_tiered") and "where" not in text:
            assert "card_code" not in text and "(merchant_id, tier_id)" not in text, name


def test_a_card_finds_its_client_and_an_empty_card_none(merchant):
    carded = ClientFactory(merchant=merchant, phone="+79131111111", card_code="100200300")
    ClientFactory(merchant=merchant, phone="+79132222222", card_code="")
    assert client_find(merchant=merchant, query=" 100200300 ").client == carded
    assert client_find(merchant=merchant, query="").client is None
    other = MerchantFactory()
    assert client_find(merchant=other, query="100200300").client is None


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps the foreign key")
def test_sqlite_keeps_the_foreign_key():
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "crm_client")
    keys = [c["foreign_key"] for c in found.values() if c["columns"] == ["merchant_id"]]
    assert ("onboarding_merchant", "id") in keys


@requires_postgres
class TestPostgresql:
    def test_the_constraint_is_replaced_by_the_triggers(self):
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, "crm_client")
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'crm_%%'"
            )
            triggers = {name for (name,) in cursor.fetchall()}
        merchant_keys = [
            n for n, c in found.items() if c["foreign_key"] and c["columns"] == ["merchant_id"]
        ]
        assert merchant_keys == []
        assert triggers == {
            "crm_client_merchant_insert",
            "crm_client_merchant_moved",
            "crm_merchant_clients_left",
            "crm_merchant_id_changed",
        }

    def test_a_client_of_a_missing_merchant_is_refused(self, merchant):
        with pytest.raises(IntegrityError, match="merchant key"), transaction.atomic():
            _client(MISSING).save()
        assert not Client.objects.filter(merchant_id=MISSING).exists()

    def test_one_missing_merchant_in_a_statement_refuses_it_all(self, merchant):
        other = MerchantFactory()
        rows = [_client(merchant.pk, "+79130000001"), _client(other.pk, "+79130000002")]
        Client.objects.bulk_create(rows)  # two merchants, both there: accepted
        assert Client.objects.filter(merchant__in=[merchant, other]).count() == 2
        bad = [_client(merchant.pk, "+79130000003"), _client(MISSING, "+79130000004")]
        with pytest.raises(IntegrityError, match="merchant key"), transaction.atomic():
            Client.objects.bulk_create(bad)
        assert Client.objects.count() == 2

    def test_a_copy_is_checked_too(self, merchant):
        columns = (
            "merchant_id, phone, full_name, gender, email, card_code, source, source_detail, "
            "tier_locked, imported, consent, balance, total_spent, purchases_count, notes, "
            "created_at, updated_at"
        )
        row = ["x", "", "", "", "import", "", False, True, True, 0, 0, 0, "", "now", "now"]
        copying = f"COPY crm_client ({columns}) FROM STDIN"
        with (
            pytest.raises(psycopg.errors.ForeignKeyViolation, match="merchant key"),
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(copying) as copy,
        ):
            copy.write_row([merchant.pk, "+79130000001", *row])
            copy.write_row([MISSING, "+79130000002", *row])
        assert not Client.objects.exists()

    def test_a_client_moved_to_a_missing_merchant_is_refused(self, merchant):
        client = ClientFactory(merchant=merchant)
        other = MerchantFactory()
        with pytest.raises(IntegrityError, match="merchant key"), transaction.atomic():
            Client.objects.filter(pk=client.pk).update(merchant_id=MISSING)
        Client.objects.filter(pk=client.pk).update(merchant_id=other.pk)
        assert Client.objects.get(pk=client.pk).merchant_id == other.pk

    def test_a_merchant_with_clients_cannot_be_deleted_underneath_them(self, merchant):
        ClientFactory(merchant=merchant)
        with (
            pytest.raises(IntegrityError, match="merchant key"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM onboarding_merchant WHERE id = %s", [merchant.pk])
        with pytest.raises(IntegrityError, match="merchant key"), transaction.atomic():
            Merchant.objects.filter(pk=merchant.pk).update(id=MISSING)
        assert Client.objects.filter(merchant=merchant).count() == 1
        merchant.delete()  # Django's cascade deletes the clients first
        assert not Client.objects.exists() and not Merchant.objects.filter(pk=merchant.pk).exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_inserted_clients_hold_their_merchant_until_the_commit():
    """As the key's check did: a merchant whose new clients are not committed yet cannot be
    deleted meanwhile — its deletion waits, then is refused once they are."""
    merchant = MerchantFactory()
    dsn = connection.settings_dict
    params = {"dbname": dsn["NAME"], "user": dsn["USER"], "host": dsn["HOST"], "port": dsn["PORT"]}
    inserting = psycopg.connect(**params)
    outcome = {}
    try:
        inserting.execute(
            "INSERT INTO crm_client (merchant_id, phone, full_name, gender, email, card_code, "
            "source, source_detail, tier_locked, imported, consent, balance, total_spent, "
            "purchases_count, notes, created_at, updated_at) VALUES (%s, '+79130000009', '', '', "
            "'', '', 'import', '', false, true, true, 0, 0, 0, '', now(), now())",
            [merchant.pk],
        )

        def delete():
            with psycopg.connect(**params, autocommit=True) as deleting:
                deleting.execute("SET lock_timeout = '5s'")
                try:
                    deleting.execute("DELETE FROM onboarding_merchant WHERE id = %s", [merchant.pk])
                    outcome["deleted"] = True
                except psycopg.Error as exc:
                    outcome["error"] = (exc.sqlstate, "merchant key" in str(exc))

        thread = threading.Thread(target=delete)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the inserting transaction
        inserting.commit()
        thread.join(10)
    finally:
        inserting.close()
    assert outcome == {"error": ("23503", True)}
    assert Client.objects.filter(merchant=merchant).count() == 1
