"""Set-based ledger posting: every movement of points, for one client or many.

Callers hold the clients' row locks (`lock_clients` / `lock_accounts`, primary-key order)
inside one transaction. `LedgerBatch.post` moves the in-memory balance through the one rule
(`accounts.movement_apply`); `flush` writes every entry with one bulk insert (COPY for large
set-based batches on PostgreSQL) and every touched client's cached figures with one
UPDATE … FROM (VALUES …), so the cached balance always equals the ledger sum.

Over 420 lines: one idea, writing ledger rows with the cached figures they move; the single
check's one-statement write (`flush_with`) shares the insert shapes and figure columns with
the set-based paths."""

import json
from datetime import date, datetime
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from psycopg.types.json import Jsonb

from crm.models import Client
from loyalty.models import LedgerEntry
from loyalty.services import prepared
from loyalty.services.arrays import array_text
from onboarding.money import ZERO, q

from .accounts import Account, movement_apply

# The cached client figures the engine keeps exact (written together by `save_clients`).
CLIENT_FIGURES = (
    ("balance", "numeric"),
    ("total_spent", "numeric"),
    ("purchases_count", "integer"),
    ("first_purchase_at", "timestamptz"),
    ("last_purchase_at", "timestamptz"),
    ("tier_id", "bigint"),
    ("joined_at", "timestamptz"),
)
BALANCE_ONLY = (("balance", "numeric"),)
# A single check's writes (`flush_with`) stay a prepared statement up to this many values.
ONE_CHECK_PARAMS = 600
COPY_FROM = 2000  # entries from which a batch that needs no ids is COPYed (PostgreSQL)


class LedgerBatch:
    """Movements for locked clients, applied in memory now and written at `flush`.

    `accounts` are locked `Client` rows (the purchase engine moves spend, dates and tier
    too) or `Account`s from `lock_accounts` (set-based writers moving balances only)."""

    def __init__(self, accounts: dict, *, conn=None):
        self.clients = accounts
        self.conn = conn
        self.entries: list[LedgerEntry] = []
        self.plain: list[dict] = []  # `post_plain` rows: {attname: value}, no model instance
        self.touched: set[int] = set()
        self.uncovered = ZERO

    def post(
        self,
        *,
        client_id: int,
        kind: str,
        points,
        created_at=None,
        allow_short: bool = False,
        **links,
    ) -> LedgerEntry:
        """Append one movement for a locked client. A debit below zero raises
        InsufficientPoints, or with `allow_short` books what the balance covers and records
        the rest on the entry (`uncovered`)."""
        client = self.clients[client_id]
        booked, new_balance, uncovered = movement_apply(
            Decimal(client.balance), points, allow_short=allow_short
        )
        entry = new_entry(
            {
                "merchant_id": client.merchant_id,
                "client_id": client_id,
                "kind": kind,
                "points": booked,
                "uncovered": uncovered,
                "created_at": created_at or timezone.now(),
            },
            links,
        )
        client.balance = new_balance
        self.uncovered = q(self.uncovered + uncovered)
        self.entries.append(entry)
        self.touched.add(client_id)
        return entry

    def post_plain(self, *, client_id: int, kind: str, points, created_at, **links) -> None:
        """`post` for set-based writers that need no entry back (a credit or a covered debit):
        the same rule, kept as a plain row that `flush` writes without building a model
        instance (the opening balances of a client import: tens of thousands a chunk)."""
        client = self.clients[client_id]
        booked, new_balance, uncovered = movement_apply(
            Decimal(client.balance), points, allow_short=False
        )
        client.balance = new_balance
        self.touched.add(client_id)
        if booked:
            self.plain.append(
                {
                    "merchant_id": client.merchant_id,
                    "client_id": client_id,
                    "kind": kind,
                    "points": booked,
                    "uncovered": uncovered,
                    "created_at": created_at,
                    **links,
                }
            )

    def touch(self, client_id: int) -> None:
        """Mark a client whose figures (spend, dates, tier) changed without a movement."""
        self.touched.add(client_id)

    def flush(self, *, need_ids: bool = True) -> list[LedgerEntry]:
        """Write the entries and the touched clients' figures; return the entries written.

        An entry that moved nothing is kept only when it records an uncovered part."""
        conn = self.conn or _db()
        if not conn.in_atomic_block:
            raise RuntimeError("LedgerBatch.flush must run inside transaction.atomic")
        entries = [e for e in self.entries if e.points or e.uncovered]
        if not need_ids and len(entries) >= COPY_FROM and conn.vendor == "postgresql":
            copy_rows(entries, conn=conn)
        else:
            for start in range(0, len(entries), 1000):
                insert_rows(entries[start : start + 1000], conn=conn)
        if self.plain:
            plain_rows_write(LedgerEntry, self.plain, conn=conn)
        touched = [self.clients[cid] for cid in sorted(self.touched)]
        if touched and isinstance(touched[0], Account):
            save_balances(touched, conn=conn)
        else:
            save_clients(touched, conn=conn)
        self.entries, self.plain, self.touched = [], [], set()
        return entries

    def flush_with(self, head, children: list, updates: tuple = ()) -> bool:
        """Write a new `head` row (a purchase, a refund; a unique-key conflict writes
        nothing), its `children` (new rows whose foreign key to the head's model points at
        `head`: the purchase's lines), the `updates` (`(rows, field names)`: saved rows whose
        fields changed, e.g. a refunded purchase and its lines), this batch's entries and the
        touched clients' figures — one statement of data-modifying CTEs on PostgreSQL, where
        every part is written only if the head is; one statement per part elsewhere. Returns
        whether the head was inserted (its primary key is then set; the other rows' are not
        read)."""
        conn = self.conn or _db()
        if not conn.in_atomic_block:
            raise RuntimeError("LedgerBatch.flush_with must run inside transaction.atomic")
        touched = [self.clients[cid] for cid in sorted(self.touched)]
        if conn.vendor != "postgresql" or (touched and isinstance(touched[0], Account)):
            if not insert_rows([head], ignore_conflicts=True, conn=conn):
                return False
            for objs in _by_model(children).values():
                insert_rows(objs, conn=conn)
            for objs, fields in updates:
                type(objs[0])._base_manager.using(conn.alias).bulk_update(objs, fields)
            self.flush()
            return True
        entries = [e for e in self.entries if e.points or e.uncovered]
        groups = _by_model([*children, *entries])
        head_shape = _shape(type(head))
        parts = [f"h AS ({head_shape.statement(conn, type(head), 1, True)})"]
        params = _row_params(head_shape, head, conn)
        for index, (model, objs) in enumerate(groups.items(), start=1):
            sql, values = _child_insert(conn, model, objs, head)
            parts.append(f"c{index} AS ({sql})")
            params += values
        for index, (objs, fields) in enumerate(updates, start=1):
            sql, values = _rows_update(conn, objs, fields)
            parts.append(f"x{index} AS ({sql})")
            params += values
        if touched:
            table = conn.ops.quote_name(Client._meta.db_table)
            assignments = ", ".join(f"{name} = v.{name}" for name, _type in CLIENT_FIGURES)
            parts.append(
                f"u AS (UPDATE {table} AS c SET {assignments}, updated_at = %s FROM h, "
                f"jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v WHERE c.id = v.id)"
            )
            values = _client_params(touched, conn)
            names = ["id", *(name for name, _type in CLIENT_FIGURES)]
            width = len(names)
            rows = [
                dict(zip(names, values[i : i + width], strict=True))
                for i in range(1, len(values), width)
            ]
            params += [values[0], _json_rows(rows)]
        with conn.cursor() as cursor:
            sql = f"WITH {', '.join(parts)} SELECT id FROM h"
            prepared.execute(cursor, sql, params, max_params=ONE_CHECK_PARAMS)
            row = cursor.fetchone()
        self.entries, self.touched = [], set()
        if row is None:
            return False
        head.pk = row[0]
        head._state.adding = False
        head._state.db = conn.alias
        return True


_SQL: dict[tuple, object] = {}
_ENTRY_DEFAULTS: dict = {}


def new_entry(values: dict, links: dict) -> LedgerEntry:
    """`LedgerEntry(**values, **links)` without the model's generic constructor (a purchase
    makes five entries; the constructor walked every field and keyword for each): the
    fields' defaults, then `values` (attnames), then `links` through the model's attributes
    (a related object is cached as the ORM caches it). The generic constructor is used when
    anything listens to the model's init signals."""
    if pre_init.has_listeners(LedgerEntry) or post_init.has_listeners(LedgerEntry):
        return LedgerEntry(**values, **links)
    if not _ENTRY_DEFAULTS:
        for field in LedgerEntry._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                raise TypeError(f"{field.name}: a callable default needs the constructor")
            _ENTRY_DEFAULTS[field.attname] = field.get_default()
    entry = LedgerEntry.__new__(LedgerEntry)
    entry._state = ModelState()
    entry.__dict__.update(_ENTRY_DEFAULTS)
    entry.__dict__.update(values)
    for name, value in links.items():
        setattr(entry, name, value)
    return entry


def _by_model(objs: list) -> dict[type, list]:
    groups: dict[type, list] = {}
    for obj in objs:
        groups.setdefault(type(obj), []).append(obj)
    return groups


def _db():
    """The default connection itself (not the proxy, whose every attribute costs a lookup)."""
    return connections[DEFAULT_DB_ALIAS]


def save_clients(clients: list[Client], *, conn=None) -> None:
    """One UPDATE … FROM (VALUES …) writing the cached figures of locked clients."""
    if not clients:
        return
    db = conn or _db()
    params = _client_params(clients, db)
    if db.vendor == "postgresql" and len(params) > prepared.MAX_PARAMS:
        # A batch's clients as one JSON array (one parameter, as `_insert_json`).
        table = db.ops.quote_name(Client._meta.db_table)
        assignments = ", ".join(f"{name} = v.{name}" for name, _type in CLIENT_FIGURES)
        names = ["id", *(name for name, _type in CLIENT_FIGURES)]
        width = len(names)
        rows = [
            dict(zip(names, params[i : i + width], strict=True))
            for i in range(1, len(params), width)
        ]
        with db.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET {assignments}, updated_at = %s "
                f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v WHERE c.id = v.id",
                [params[0], _json_rows(rows)],
            )
        return
    key = (db.vendor, "save_clients", len(clients))
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _save_clients_sql(db, len(clients), CLIENT_FIGURES)
    with db.cursor() as cursor:
        prepared.execute(cursor, sql, params)


def _client_params(clients: list[Client], db) -> list:
    fields = _FIGURE_FIELDS.get(db.vendor) or _figure_fields(db)
    params = [Client._meta.get_field("updated_at").get_db_prep_value(timezone.now(), db)]
    for client in clients:
        params.append(client.pk)
        params.extend(prepare(getattr(client, attname), db) for attname, prepare in fields)
    return params


_FIGURE_FIELDS: dict[str, list] = {}


def _figure_fields(db) -> list:
    fields = [Client._meta.get_field(name) for name, _type in CLIENT_FIGURES]
    _FIGURE_FIELDS[db.vendor] = [(f.attname, _preparer(f, db)) for f in fields]
    return _FIGURE_FIELDS[db.vendor]


def save_balances(accounts: list[Account], *, conn=None) -> None:
    """Write the balances of locked accounts: on PostgreSQL one UPDATE … FROM unnest(ids,
    balances) (two array parameters, whatever the count); elsewhere 1000 per UPDATE … FROM
    (VALUES …)."""
    db = conn or _db()
    now = Client._meta.get_field("updated_at").get_db_prep_value(timezone.now(), db)
    balance = Client._meta.get_field("balance")
    if db.vendor == "postgresql" and len(accounts) > 1:
        table = db.ops.quote_name(Client._meta.db_table)
        with db.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET balance = v.balance, updated_at = %s "
                "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, balance) WHERE c.id = v.id",
                [
                    now,
                    array_text([account.pk for account in accounts]),
                    array_text(
                        [balance.get_db_prep_value(account.balance, db) for account in accounts]
                    ),
                ],
            )
        return
    for start in range(0, len(accounts), 1000):
        part = accounts[start : start + 1000]
        key = (db.vendor, "save_balances", len(part))
        sql = _SQL.get(key)
        if sql is None:
            sql = _SQL[key] = _save_clients_sql(db, len(part), BALANCE_ONLY)
        params = [now]
        for account in part:
            params += [account.pk, balance.get_db_prep_value(account.balance, db)]
        with db.cursor() as cursor:
            prepared.execute(cursor, sql, params)


def _save_clients_sql(db, count: int, figures, head: str = "") -> str:
    """The UPDATE of `count` clients' figures; with `head` (PostgreSQL, inside a WITH), only
    when that CTE returned its row."""
    columns = [name for name, _type in figures]
    is_pg = db.vendor == "postgresql"
    if is_pg:
        row = "(" + ", ".join(["%s::bigint"] + [f"%s::{t}" for _n, t in figures]) + ")"
    else:
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    table = db.ops.quote_name(Client._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in columns)
    values = ", ".join([row] * count)
    if is_pg:
        names = ", ".join(["id", *columns])
        return (
            f"UPDATE {table} AS c SET {assignments}, updated_at = %s "
            f"FROM {head + ', ' if head else ''}(VALUES {values}) AS v({names}) WHERE c.id = v.id"
        )
    selects = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(["id", *columns]))
    return (
        f"UPDATE {table} SET {assignments}, updated_at = %s "
        f"FROM (SELECT {selects} FROM (VALUES {values})) AS v WHERE {table}.id = v.id"
    )


def _among(field, fields) -> bool:
    """`field in fields` by identity (a field's `==` is a Python-level comparison)."""
    return any(field is other for other in fields)


class _InsertShape:
    """How one model's rows are inserted: the columns, and which fields need `pre_save`
    (auto_now/auto_now_add) or a related object's new primary key."""

    def __init__(self, model):
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        self.pre_save = {
            f.attname
            for f in self.fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }
        self.relations = [f for f in self.fields if f.is_relation]
        self.sql: dict[tuple, str] = {}
        self.preparers: dict[tuple, list] = {}

    def prepare(self, db, skip=()) -> list:
        """(field, preparer) of every column but the `skip` fields, for this database."""
        key = (db.vendor, *(f.attname for f in skip))
        found = self.preparers.get(key)
        if found is None:
            found = self.preparers[key] = [
                (f, _preparer(f, db)) for f in self.fields if not _among(f, skip)
            ]
        return found

    def statement(self, db, model, count: int, ignore_conflicts: bool) -> str:
        key = (db.vendor, count, ignore_conflicts)
        sql = self.sql.get(key)
        if sql is None:
            meta = model._meta
            qn = db.ops.quote_name
            row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
            sql = self.sql[key] = (
                f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in self.fields)}) "
                f"VALUES {', '.join([row] * count)}"
                + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
                + f" RETURNING {qn(meta.pk.column)}"
            )
        return sql


_SHAPES: dict[type, _InsertShape] = {}


def _shape(model) -> _InsertShape:
    return _SHAPES.get(model) or _SHAPES.setdefault(model, _InsertShape(model))


_NONE = type(None)
# Field classes whose database value is the Python value itself for these exact types (the
# ORM's preparation would return the same object: `int`/`str`/`bool` pass through
# `to_python`, a finite Decimal and an aware datetime are what the PostgreSQL backend
# adapts). Any other type, or another field class, takes the ORM's way.
_AS_IS = {
    models.AutoField: (int, _NONE),
    models.BigAutoField: (int, _NONE),
    models.IntegerField: (int, _NONE),
    models.BigIntegerField: (int, _NONE),
    models.SmallIntegerField: (int, _NONE),
    models.PositiveIntegerField: (int, _NONE),
    models.PositiveSmallIntegerField: (int, _NONE),
    models.PositiveBigIntegerField: (int, _NONE),
    models.CharField: (str, _NONE),
    models.TextField: (str, _NONE),
    models.BooleanField: (bool, _NONE),
    models.DecimalField: (Decimal, _NONE),
    models.DateTimeField: (datetime, _NONE),
}
_PREPARERS: dict = {}


def _preparer(field, db):
    """`field.get_db_prep_save` for one field, cut short for values the ORM would pass
    through unchanged (the engine prepares ~60 values per purchase)."""
    key = (field, db.vendor)
    found = _PREPARERS.get(key)
    if found is not None:
        return found
    target = field.target_field if field.is_relation else field
    types = _AS_IS.get(type(target)) if db.vendor == "postgresql" else None
    if field.is_relation and type(target) not in (models.AutoField, models.BigAutoField):
        types = None
    slow = field.get_db_prep_save
    if types is None:

        def prepare(value, db):
            return slow(value, db)

    elif Decimal in types:

        def prepare(value, db):
            kind = type(value)
            if kind is Decimal and value.is_finite() or kind is _NONE:
                return value
            return slow(value, db)

    elif datetime in types:

        def prepare(value, db):
            kind = type(value)
            if kind is datetime and value.tzinfo is not None or kind is _NONE:
                return value
            return slow(value, db)

    else:

        def prepare(value, db):
            return value if type(value) in types else slow(value, db)

    _PREPARERS[key] = prepare
    return prepare


def _row_params(shape: _InsertShape, obj, db, skip=()) -> list:
    """One row's values in the shape's column order (all but the `skip` fields)."""
    params = []
    for field in shape.relations:  # a related object saved after it was assigned
        if getattr(obj, field.attname) is None and field.is_cached(obj):
            related = field.get_cached_value(obj)
            if related is not None and not _among(field, skip):
                if related.pk is None:
                    raise ValueError(f"{field.name}: the related object is not saved")
                setattr(obj, field.attname, related.pk)
    pre_save = shape.pre_save
    for field, prepare in shape.prepare(db, skip):
        if pre_save and field.attname in pre_save:
            value = field.pre_save(obj, True)
        else:
            value = getattr(obj, field.attname)
        params.append(prepare(value, db))
    return params


def _child_insert(db, model, objs: list, head) -> tuple[str, list]:
    """An INSERT … SELECT of new rows whose foreign keys to `head` take its new id from the
    CTE `h` (no row when the head was not inserted); (sql, params)."""
    shape = _shape(model)
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
    sql = _SQL.get(key)
    own = [f.column for f in shape.fields if not _among(f, to_head)]
    if sql is None:
        # The rows come as one JSON array read into the table's own row type: one value
        # whatever the number of rows (a single prepared shape; the driver caches its
        # parsing of a query with few parameters).
        qn = db.ops.quote_name
        table = qn(model._meta.db_table)
        columns = ", ".join(qn(c) for c in [*(f.column for f in to_head), *own])
        select = ", ".join(["h.id"] * len(to_head) + [f"v.{qn(c)}" for c in own])
        sql = _SQL[key] = (
            f"INSERT INTO {table} ({columns}) SELECT {select} "
            f"FROM h, jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v"
        )
    rows = [dict(zip(own, _row_params(shape, obj, db, skip=to_head), strict=True)) for obj in objs]
    return sql, [_json_rows(rows)]


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
    return sql, [_json_rows(rows)]


def _json_rows(rows: list[dict]) -> str:
    """Rows of prepared values as a JSON array the database reads back with
    `jsonb_populate_recordset` (numbers and moments as text, JSON columns as JSON)."""
    return json.dumps(rows, default=_json_value, ensure_ascii=False)


def _json_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Jsonb):  # a JSON column's value, wrapped for the driver
        return value.obj
    raise TypeError(f"{type(value).__name__} is not written as JSON here")


def insert_rows(objs: list, *, ignore_conflicts: bool = False, conn=None) -> list:
    """INSERT model instances (one model, unsaved) with one statement and set their primary
    keys from RETURNING — what `bulk_create` does, without its per-call compile cost.

    With `ignore_conflicts` (one object only) a unique-key conflict inserts nothing and the
    object stays unsaved; returns the objects that were inserted."""
    if not objs:
        return []
    if ignore_conflicts and len(objs) != 1:
        raise ValueError("ignore_conflicts is for one row: RETURNING could not say which")
    model = type(objs[0])
    shape = _SHAPES.get(model) or _SHAPES.setdefault(model, _InsertShape(model))
    db = conn or _db()
    if db.vendor == "postgresql" and len(objs) * len(shape.fields) > prepared.MAX_PARAMS:
        inserted = _insert_json(db, model, shape, objs)
        if inserted is not None:
            return inserted
    sql = shape.statement(db, model, len(objs), ignore_conflicts)
    params = []
    for obj in objs:
        for field in shape.relations:  # a related object saved after it was assigned
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                if related is not None:
                    if related.pk is None:
                        raise ValueError(f"{field.name}: the related object is not saved")
                    setattr(obj, field.attname, related.pk)
        for field, prepare in shape.prepare(db):
            if field.attname in shape.pre_save:
                value = field.pre_save(obj, True)
            else:
                value = getattr(obj, field.attname)
            params.append(prepare(value, db))
    with db.cursor() as cursor:
        prepared.execute(cursor, sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) != len(objs):
        return []
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias
    return objs


def _insert_json(db, model, shape: _InsertShape, objs: list) -> list | None:
    """`insert_rows` of a batch on PostgreSQL: the rows as one JSON array read with
    `jsonb_populate_recordset` (one parameter: the driver's client-side binding of thousands
    of `%s` cost more than building the rows), their new keys set in the rows' order (one
    INSERT draws its sequence values in the order it reads the rows: ordered by position).
    None, with nothing written, when a value has no JSON form here (the caller binds them)."""
    names = [f.column for f in shape.fields]
    rows = [dict(zip(names, _row_params(shape, obj, db), strict=True)) for obj in objs]
    try:
        data = _json_rows(rows)
    except TypeError:
        return None
    key = (db.vendor, "insert_json", model)
    sql = _SQL.get(key)
    if sql is None:
        qn = db.ops.quote_name
        table = qn(model._meta.db_table)
        sql = _SQL[key] = (
            f"INSERT INTO {table} ({', '.join(qn(c) for c in names)}) "
            f"SELECT {', '.join(f'v.{qn(c)}' for c in names)} "
            f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) WITH ORDINALITY AS v "
            f"ORDER BY v.ordinality RETURNING {qn(model._meta.pk.column)}"
        )
    with db.cursor() as cursor:
        cursor.execute(sql, [data])
        ids = sorted(row[0] for row in cursor.fetchall())
    if len(ids) != len(objs):
        raise RuntimeError(f"{model.__name__}: {len(ids)} rows inserted of {len(objs)}")
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias
    return objs


def copy_rows(objs: list, *, conn) -> None:
    """COPY model instances (one model, unsaved) into their table (PostgreSQL); their primary
    keys stay unset — for set-based writers that do not need them."""
    model = type(objs[0])
    shape = _SHAPES.get(model) or _SHAPES.setdefault(model, _InsertShape(model))
    qn = conn.ops.quote_name
    columns = ", ".join(qn(f.column) for f in shape.fields)
    table = qn(model._meta.db_table)
    with (
        conn.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row(
                [
                    f.get_db_prep_save(
                        f.pre_save(obj, True)
                        if f.attname in shape.pre_save
                        else getattr(obj, f.attname),
                        conn,
                    )
                    for f in shape.fields
                ]
            )


def plain_rows_write(model, rows: list[dict], *, conn) -> None:
    """Write rows given as {attname: value} (unset fields take their default) into the
    model's table: COPY on PostgreSQL, one `executemany` on SQLite. Each distinct value of a
    column is prepared for the database once (a run's rows share their time, kind, reason and
    most amounts). No primary keys come back."""
    model_shape = _SHAPES.get(model) or _SHAPES.setdefault(model, _InsertShape(model))
    if model_shape.pre_save:
        raise ValueError(f"{model.__name__}: auto_now fields need model instances")
    fields = model_shape.fields
    defaults = [f.get_default() for f in fields]
    names = [f.attname for f in fields]
    prepared_values: list[dict] = [{} for _f in fields]
    columns = list(zip(fields, names, defaults, prepared_values, strict=True))

    def prepared_row(row: dict) -> list:
        out = []
        for field, name, default, seen in columns:
            value = row.get(name, default)
            try:
                out.append(seen[value])
            except KeyError:
                out.append(seen.setdefault(value, field.get_db_prep_save(value, conn)))
            except TypeError:  # not hashable
                out.append(field.get_db_prep_save(value, conn))
        return out

    qn = conn.ops.quote_name
    table = qn(model._meta.db_table)
    column_list = ", ".join(qn(f.column) for f in fields)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(prepared_row(row))
            return
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"INSERT INTO {table} ({column_list}) VALUES ({marks})",
            [prepared_row(row) for row in rows],
        )
