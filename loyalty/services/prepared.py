"""The purchase path's few statements as named prepared statements on PostgreSQL.

Planning the lock statement (joins, the configuration subqueries) cost PostgreSQL about as
much as running it, on every purchase. Each connection prepares a statement once
(`PREPARE … AS …`) and then runs `EXECUTE name(…)` through Django's own cursor, so the query
log, the debug toolbar and CaptureQueriesContext still see every call. Prepared statements
belong to the session and survive a rolled-back transaction; they are dropped with the
connection, and this module tracks them per live connection object. Large statements (big
batches, whose planning is amortised anyway) and SQLite run as they are."""

import weakref

from django.db import connection

MAX_PARAMS = 120  # beyond this the shape is a batch: run it unprepared
MAX_PER_CONNECTION = 128  # distinct shapes kept per connection; later ones run unprepared

_NAMES: "weakref.WeakKeyDictionary[object, dict[str, str]]" = weakref.WeakKeyDictionary()


def execute(cursor, sql: str, params: list, *, max_params: int = MAX_PARAMS) -> None:
    """`cursor.execute(sql, params)`, as a prepared statement when it pays (PostgreSQL,
    shapes of at most `max_params` values). `sql` uses %s placeholders only (no literal
    percent signs)."""
    db = cursor.db
    if db.vendor != "postgresql" or len(params) > max_params:
        cursor.execute(sql, params)
        return
    raw = db.connection
    names = _NAMES.get(raw)
    if names is None:
        names = _NAMES[raw] = {}
    name = names.get(sql)
    if name is None:
        parts = sql.split("%s")
        if len(parts) - 1 != len(params) or len(names) >= MAX_PER_CONNECTION:
            cursor.execute(sql, params)
            return
        text = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        name = f"loyalty_hot_{len(names) + 1}"
        cursor.execute(f"PREPARE {name} AS {text}")
        names[sql] = name
    if params:
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
    else:
        cursor.execute(f"EXECUTE {name}")


def forget() -> None:
    """Forget this connection's prepared statements (after DEALLOCATE ALL / DISCARD ALL)."""
    if connection.connection is not None:
        _NAMES.pop(connection.connection, None)
