"""SQLite: a large import into a small client table builds the table's non-unique indexes once,
at the end (`crm.importing.upkeep`); the rows, the report and the indexes come out as with the
indexes updated row by row, and a failed import keeps every index."""

import pytest
from django.db import connection

from crm.importing import clients_import
from crm.importing import service as import_service
from crm.importing.upkeep import defer_worth_it
from crm.models import Client
from loyalty.models import LedgerEntry
from tests.crm.import_files import write_csv
from tests.crm.test_import_parallel import _clients, _rows
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _indexes() -> set:
    """(name, definition) of the client table's indexes, as the database lists them."""
    table = Client._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, coalesce(sql, '') FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = %s",
                [table],
            )
        else:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
            )
        return set(cursor.fetchall())


def _noting_indexes(seen: list):
    original = import_service._run

    def run(*args, **kwargs):
        seen.append(_indexes())  # inside the import's transaction, before the first row
        return original(*args, **kwargs)

    return run


def test_deferred_indexes_give_the_same_import_and_come_back(tmp_path, settings, monkeypatch):
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 90)
    path = write_csv(tmp_path / "c.csv", _rows(400))
    before = _indexes()
    seen = []
    monkeypatch.setattr(import_service, "_run", _noting_indexes(seen))
    first, second = MerchantFactory(slug="deferred"), MerchantFactory(slug="per-row")

    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 1
    deferred = clients_import(merchant=first, path=str(path))
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 0
    per_row = clients_import(merchant=second, path=str(path))

    assert _indexes() == before  # every index back, with its own definition
    if connection.vendor == "sqlite":
        assert len(seen[0]) < len(before)  # the non-unique ones were dropped meanwhile
        assert any(name.startswith("sqlite_autoindex") for name, _sql in seen[0])  # not the key
    else:
        assert seen[0] == before  # PostgreSQL keeps its indexes
    assert seen[1] == before
    for name in ("rows_total", "created", "updated", "skipped", "rejected", "duplicates"):
        assert getattr(deferred, name) == getattr(per_row, name), name
    assert deferred.errors == per_row.errors
    assert deferred.created > 300 and deferred.opening_balances > 0
    assert _clients(first) == _clients(second)
    assert LedgerEntry.objects.filter(client__merchant=first).count() == deferred.opening_balances


def test_a_failed_import_keeps_every_index(tmp_path, settings):
    settings.IMPORT_PARALLEL_MIN_BYTES = 0
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 1
    path = write_csv(tmp_path / "c.csv", _rows(200))
    merchant = MerchantFactory()
    before = _indexes()

    def fail(report):
        raise RuntimeError("refused at commit")

    with pytest.raises(RuntimeError, match="refused at commit"):
        clients_import(merchant=merchant, path=str(path), before_commit=fail)
    assert _indexes() == before
    assert not Client.objects.filter(merchant=merchant).exists()


def test_indexes_are_deferred_only_for_a_large_file_into_a_smaller_table(settings):
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 20_000
    assert defer_worth_it(file_rows=100_000, table_rows=0)
    assert defer_worth_it(file_rows=100_000, table_rows=100_000)
    assert not defer_worth_it(file_rows=100_000, table_rows=100_001)  # a larger table
    assert not defer_worth_it(file_rows=19_999, table_rows=0)  # too small to matter
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 0
    assert not defer_worth_it(file_rows=1_000_000, table_rows=0)  # switched off


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the page cache is SQLite's")
def test_the_import_runs_with_a_larger_page_cache_and_gives_it_back(tmp_path, monkeypatch):
    """SQLite: the import's connection gets `SQLITE_IMPORT_CACHE_KIB` of page cache while it
    writes, and its own size back afterwards, also when the import fails."""
    from crm.importing.upkeep import SQLITE_IMPORT_CACHE_KIB

    def cache_size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            return cursor.fetchone()[0]

    path = write_csv(tmp_path / "c.csv", _rows(50))
    before, seen = cache_size(), []
    original = import_service._run

    def run(*args, **kwargs):
        seen.append(cache_size())
        return original(*args, **kwargs)

    monkeypatch.setattr(import_service, "_run", run)
    report = clients_import(merchant=MerchantFactory(slug="cache"), path=str(path))
    assert (
        report.created > 0
        and report.created == Client.objects.filter(merchant__slug="cache").count()
    )
    assert seen == [-SQLITE_IMPORT_CACHE_KIB] and before != -SQLITE_IMPORT_CACHE_KIB
    assert cache_size() == before

    def failing(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(import_service, "_run", failing)
    with pytest.raises(RuntimeError):
        clients_import(merchant=MerchantFactory(slug="cache-fail"), path=str(path))
    assert cache_size() == before
