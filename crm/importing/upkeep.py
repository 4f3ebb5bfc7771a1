"""What the database keeps up for each client an import inserts: on SQLite the client table's
secondary indexes, which a large import into a small table builds once at the end instead of
updating each of them for every inserted row; on PostgreSQL the foreign keys, checked after each
statement rather than all at the commit.

Every non-unique index of the client table is updated for each inserted client — a B-tree
descent and a page write per index and row, a cost that grows faster than the rows once the
indexes outgrow SQLite's page cache. When the file is at least as large as the whole table
(a merchant's first import on a young base) and big enough to matter, those indexes are dropped
at the start of the import's transaction and created again from their own stored definitions
right before it commits: one sort per index. The unique key (phone, merchant), which the import
looks clients up by and which keeps phones unique, is never dropped. SQLite's schema changes
are transactional: a failed or killed import rolls the indexes back with everything else, and
other connections read the committed schema meanwhile (SQLite serialises writers, so none
writes while the import holds the table). PostgreSQL keeps its indexes (dropping one there
would lock the table for every other merchant); there the import has the server check its
foreign keys after each statement rather than all at the commit
(`foreign_keys_checked_per_statement`). The client's merchant key is no foreign key there: triggers
check it once per statement (crm migration 0016), not once per inserted client."""

from contextlib import contextmanager

from django.conf import settings

from crm.models import Client

# A CSV row of a client base is about 70 bytes; an XLSX row fewer (the estimate only errs
# towards more rows, i.e. towards deferring on a workbook slightly smaller than the table).
BYTES_PER_ROW = 70


def defer_worth_it(*, file_rows: int, table_rows: int) -> bool:
    """Whether building the indexes after the rows costs less than updating them per row."""
    threshold = settings.IMPORT_DEFER_INDEXES_MIN_ROWS
    return 0 < threshold <= file_rows and table_rows <= file_rows


@contextmanager
def client_indexes_deferred(conn, *, file_size: int):
    """Within the caller's transaction: drop the client table's non-unique indexes if
    `defer_worth_it`, run the body, then create them again. Yields whether it deferred. An
    exception in the body leaves them dropped for the rollback to restore."""
    if conn.vendor != "sqlite":
        yield False
        return
    table = Client._meta.db_table
    with conn.cursor() as cursor:
        # max(id) is one step down the key (count(*) would read the whole table); deleted
        # rows make it larger, never smaller: it errs towards keeping the indexes.
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        (table_rows,) = cursor.fetchone()
        if not defer_worth_it(file_rows=file_size // BYTES_PER_ROW, table_rows=table_rows):
            indexes = []
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                "AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
                [table],
            )
            indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield bool(indexes)
    with conn.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)


# SQLite's page cache for the import's connection, in KiB (the default is 2 000 KiB): the
# unique phone key of a large import, and the sorts that build the deferred indexes again,
# outgrow the default and spill pages to the WAL and temporary files in the middle of the
# transaction. 8 MiB: at 1 000 000 rows the cache is all taken, on top of the ≈ 185 MB the import
# holds with the default; 64 MiB saved ≈ 0.05 s at 100 000 rows (within the noise) and took the
# import to 254 MB, over its 200 MB budget (docs/performance.md).
SQLITE_IMPORT_CACHE_KIB = 8_192


@contextmanager
def sqlite_page_cache(conn):
    """SQLite, around the caller's import: a page cache of `SQLITE_IMPORT_CACHE_KIB` for the
    connection (memory it takes only as pages are read or written), the previous size restored
    afterwards (a worker's connection outlives the import)."""
    if conn.vendor != "sqlite":
        yield
        return
    with conn.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


@contextmanager
def foreign_keys_checked_per_statement(conn):
    """PostgreSQL, within the caller's transaction: check the deferred foreign keys at the end
    of each statement of the body instead of all at the commit, then defer them again.

    Every written row references rows that already exist (the client an opening-balance entry
    belongs to, the run a prior value belongs to), so checking per statement refuses nothing a
    commit would accept. What changes is when the server does it: at the commit the reading
    process and the writer only wait for it, while after each COPY it overlaps the reading and
    cleaning of the next chunk. (The clients' merchant key, once a tenth of a large import's
    time, is checked per statement by its triggers whatever this mode: crm migration 0016.)
    The body's exception leaves the mode to the rollback."""
    if conn.vendor != "postgresql":
        yield
        return
    with conn.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with conn.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
