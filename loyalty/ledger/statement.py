"""A single check's one-statement write (PostgreSQL): the new head row (a purchase, a
refund), its children, the rows it updates, its ledger entries and the touched clients'
figures as data-modifying CTEs of one statement, every part written only if the head is (a
unique-key conflict on the head writes nothing). Children and updates travel as JSON arrays
(`params.json_rows`), so the statement keeps one prepared shape whatever the number of lines."""

from loyalty.services import prepared

from .params import json_rows
from .shapes import among, insert_shape, row_params
from .writes import client_params, clients_json_update

# A single check's writes stay a prepared statement up to this many values.
ONE_CHECK_PARAMS = 600
_SQL: dict[tuple, str] = {}
_CHILD: dict[tuple, tuple[str, list[str]]] = {}  # a child insert's statement and own columns


def check_write(conn, head, children: list, updates, touched: list) -> int | None:
    """Write `head` with `children` (new rows, in groups by model; a foreign key to the head's
    model that points at `head` takes its new id), `updates` (`(rows, field names)`) and the
    `touched` clients' figures in one statement; the head's new id, or None when its insert
    met a conflict (then nothing is written)."""
    head_shape = insert_shape(type(head))
    parts = [f"h AS ({head_shape.statement(conn, type(head), 1, True)})"]
    params = row_params(head_shape, head, conn)
    for index, (model, objs) in enumerate(by_model(children).items(), start=1):
        sql, values = _child_insert(conn, model, objs, head)
        parts.append(f"c{index} AS ({sql})")
        params += values
    for index, (objs, fields) in enumerate(updates, start=1):
        sql, values = _rows_update(conn, objs, fields)
        parts.append(f"x{index} AS ({sql})")
        params += values
    if touched:
        sql, values = clients_json_update(conn, client_params(touched, conn), head="h")
        parts.append(f"u AS ({sql})")
        params += values
    with conn.cursor() as cursor:
        sql = f"WITH {', '.join(parts)} SELECT id FROM h"
        prepared.execute(cursor, sql, params, max_params=ONE_CHECK_PARAMS)
        row = cursor.fetchone()
    return None if row is None else row[0]


def by_model(objs: list) -> dict[type, list]:
    """Rows grouped by their model, in first-seen order."""
    groups: dict[type, list] = {}
    for obj in objs:
        groups.setdefault(type(obj), []).append(obj)
    return groups


def _child_insert(db, model, objs: list, head) -> tuple[str, list]:
    """An INSERT … SELECT of new rows whose foreign keys to `head` take its new id from the
    CTE `h` (no row when the head was not inserted); (sql, params)."""
    shape = insert_shape(model)
    to_head = tuple(
        f
        for f in shape.relations
        if f.related_model is type(head)
        and getattr(objs[0], f.attname) is None
        and f.is_cached(objs[0])
        and f.get_cached_value(objs[0]) is head
    )
    for obj in objs[1:]:
        if any(getattr(obj, f.attname) is not None or f.get_cached_value(obj, None) is not head
               for f in to_head):  # fmt: skip
            raise ValueError(f"{model.__name__}: rows differ in their link to the new row")
    key = (db.vendor, "child", model, to_head)
    found = _CHILD.get(key)
    if found is None:
        own = [f.column for f in shape.fields if not among(f, to_head)]
        # The rows come as one JSON array read into the table's own row type: one value
        # whatever the number of rows (a single prepared shape; the driver caches its
        # parsing of a query with few parameters).
        qn = db.ops.quote_name
        table = qn(model._meta.db_table)
        columns = ", ".join(qn(c) for c in [*(f.column for f in to_head), *own])
        select = ", ".join(["h.id"] * len(to_head) + [f"v.{qn(c)}" for c in own])
        found = _CHILD[key] = (
            f"INSERT INTO {table} ({columns}) SELECT {select} "
            f"FROM h, jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v",
            own,
        )
    sql, own = found
    rows = [dict(zip(own, row_params(shape, obj, db, skip=to_head), strict=True)) for obj in objs]
    return sql, [json_rows(rows)]


def _rows_update(db, objs: list, fields) -> tuple[str, list]:
    """An UPDATE of saved rows' `fields` from one JSON array, only when the CTE `h` returned
    its row; (sql, params)."""
    model = type(objs[0])
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields]
    key = (db.vendor, "update", model, tuple(fields))
    sql = _SQL.get(key)
    if sql is None:
        qn = db.ops.quote_name
        table = qn(meta.db_table)
        pk = qn(meta.pk.column)
        assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in chosen)
        sql = _SQL[key] = (
            f"UPDATE {table} AS t SET {assignments} FROM h, "
            f"jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v WHERE t.{pk} = v.{pk}"
        )
    rows = [
        {
            meta.pk.column: obj.pk,
            **{f.column: f.get_db_prep_save(getattr(obj, f.attname), db) for f in chosen},
        }
        for obj in objs
    ]
    return sql, [json_rows(rows)]
