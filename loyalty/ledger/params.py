"""Many values in one SQL parameter: the one home of how the engine, the ledger, the daily run
and the campaigns send a list to PostgreSQL.

With client-side binding psycopg quotes every list element in Python, and an ORM `__in` or a
`VALUES (%s, …)` list prepares each value through its field: for the hundreds or thousands of
values a batch, a daily-run chunk or a check's lines carry, that was the larger part of the
Python CPU. Two shapes replace it, each one parameter whatever the count:

- **`array_text`** — one column of plain ints or finite Decimals (ids, amounts) as an array
  literal `{1,2,3}`, cast by the statement (`%s::bigint[]`, `%s::numeric[]`) and read with
  `unnest(…)` (several arrays side by side: `unnest(%s::bigint[], %s::numeric[]) AS v(id, x)`).
  The cheapest: one `str` per value. Any other value (text, moments, None) is returned as a
  list for the driver to quote. `ids_in` is its form for an ORM `field__in`.
- **`json_rows`** — whole rows of several typed columns (text, moments, JSON columns, NULLs)
  as one JSON array read into a table's own row type with
  `jsonb_populate_recordset(NULL::table, %s::jsonb)`; add `WITH ORDINALITY … ORDER BY
  v.ordinality` when the rows' order matters (an INSERT whose new keys are given back in
  order). Values are the ORM's prepared values (`get_db_prep_save`).

Choose `array_text` for one or two numeric columns, `json_rows` for rows of mixed columns;
neither is needed for a few values (plain `%s` then stays one prepared statement shape)."""

import json
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models.expressions import RawSQL


def array_text(values):
    """`{v1,v2,…}` when every value is an int or a finite Decimal, else `values` as a list."""
    values = list(values)
    if all(type(v) is int for v in values) or all(
        type(v) is Decimal and v.is_finite() for v in values
    ):
        return "{" + ",".join(map(str, values)) + "}"
    return values


def ids_in(ids):
    """The right-hand side of `field__in` for many ids: on PostgreSQL one array parameter
    unnested by the server, elsewhere the ids as a list."""
    ids = list(ids)
    if connection.vendor == "postgresql" and all(type(v) is int for v in ids):
        return RawSQL("SELECT unnest(%s::bigint[])", [array_text(ids)])
    return ids


def json_rows(rows: list[dict]) -> str:
    """Rows of prepared values ({column: value}) as a JSON array the database reads back with
    `jsonb_populate_recordset` (numbers and moments as text, JSON columns as JSON). Raises
    TypeError for a value with no JSON form here (the caller then binds the values)."""
    return json.dumps(rows, default=_json_value, ensure_ascii=False)


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    # Here, not at the top: only PostgreSQL (whose backend has loaded psycopg) sends rows as
    # JSON, and an SQLite process — the client import's command among them — never needs the
    # driver.
    from psycopg.types.json import Jsonb

    if isinstance(value, Jsonb):  # a JSON column's value, wrapped for the driver
        return value.obj
    raise TypeError(f"{type(value).__name__} is not written as JSON here")
