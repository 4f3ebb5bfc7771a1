"""Set-based ledger posting: the batch equivalent of `loyalty.ledger.ledger_post`.

Callers hold the clients' row locks (`loyalty.ledger.lock_clients`, pk order) inside one
transaction. `LedgerBatch.post` checks and moves the in-memory balance exactly like
`ledger_post` (a debit below zero raises `InsufficientPoints` and changes nothing); `flush`
writes every entry with one bulk insert and every touched client's cached figures with one
UPDATE, so the cached balance always equals the ledger sum."""

from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from crm.models import Client
from loyalty.ledger import InsufficientPoints
from loyalty.models import LedgerEntry
from loyalty.money import ZERO, q

from . import prepared

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


class LedgerBatch:
    """Movements for locked clients, applied in memory now and written at `flush`."""

    def __init__(self, clients: dict[int, Client]):
        self.clients = clients
        self.entries: list[LedgerEntry] = []
        self.touched: set[int] = set()

    def post(self, *, client_id: int, kind: str, points, created_at=None, **links) -> LedgerEntry:
        """Append one movement for a locked client; a debit below zero raises InsufficientPoints."""
        from django.utils.translation import gettext as _

        client = self.clients[client_id]
        points = q(points)
        new_balance = q(Decimal(client.balance) + points)
        if new_balance < ZERO:
            raise InsufficientPoints(
                _("Not enough points: balance %(balance)s, needed %(needed)s.")
                % {"balance": client.balance, "needed": -points}
            )
        entry = LedgerEntry(
            merchant_id=client.merchant_id,
            client_id=client_id,
            kind=kind,
            points=points,
            created_at=created_at or timezone.now(),
            **links,
        )
        client.balance = new_balance
        self.entries.append(entry)
        self.touched.add(client_id)
        return entry

    def touch(self, client_id: int) -> None:
        """Mark a client whose figures (spend, dates, tier) changed without a movement."""
        self.touched.add(client_id)

    def flush(self) -> list[LedgerEntry]:
        """Write the entries (one insert) and the touched clients' figures (one UPDATE)."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("LedgerBatch.flush must run inside transaction.atomic")
        entries = [e for e in self.entries if e.points]
        for start in range(0, len(entries), 1000):
            insert_rows(entries[start : start + 1000])
        save_clients([self.clients[cid] for cid in sorted(self.touched)])
        self.entries, self.touched = [], set()
        return entries


_SQL: dict[tuple, object] = {}


def _db():
    """The default connection itself (not the proxy, whose every attribute costs a lookup)."""
    return connections[DEFAULT_DB_ALIAS]


def save_clients(clients: list[Client]) -> None:
    """One UPDATE … FROM (VALUES …) writing the cached figures of locked clients."""
    if not clients:
        return
    db = _db()
    key = (db.vendor, "save_clients", len(clients))
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _save_clients_sql(db, len(clients))
    fields = _FIGURE_FIELDS or _figure_fields()
    params = [Client._meta.get_field("updated_at").get_db_prep_value(timezone.now(), db)]
    for client in clients:
        params.append(client.pk)
        params.extend(f.get_db_prep_value(getattr(client, f.attname), db) for f in fields)
    with db.cursor() as cursor:
        prepared.execute(cursor, sql, params)


_FIGURE_FIELDS: list = []


def _figure_fields() -> list:
    _FIGURE_FIELDS[:] = [Client._meta.get_field(name) for name, _type in CLIENT_FIGURES]
    return _FIGURE_FIELDS


def _save_clients_sql(db, count: int) -> str:
    columns = [name for name, _type in CLIENT_FIGURES]
    is_pg = db.vendor == "postgresql"
    if is_pg:
        row = "(" + ", ".join(["%s::bigint"] + [f"%s::{t}" for _n, t in CLIENT_FIGURES]) + ")"
    else:
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    table = db.ops.quote_name(Client._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in columns)
    values = ", ".join([row] * count)
    if is_pg:
        names = ", ".join(["id", *columns])
        return (
            f"UPDATE {table} AS c SET {assignments}, updated_at = %s "
            f"FROM (VALUES {values}) AS v({names}) WHERE c.id = v.id"
        )
    selects = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(["id", *columns]))
    return (
        f"UPDATE {table} SET {assignments}, updated_at = %s "
        f"FROM (SELECT {selects} FROM (VALUES {values})) AS v WHERE {table}.id = v.id"
    )


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


def insert_rows(objs: list, *, ignore_conflicts: bool = False) -> list:
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
    db = _db()
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
        for field in shape.fields:
            if field.attname in shape.pre_save:
                value = field.pre_save(obj, True)
            else:
                value = getattr(obj, field.attname)
            params.append(field.get_db_prep_save(value, db))
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
