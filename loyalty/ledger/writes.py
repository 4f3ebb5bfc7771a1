"""The ledger's set-based write shapes: rows inserted with one statement (`insert_rows`; on
PostgreSQL a batch as one JSON array read `WITH ORDINALITY`, so the new keys come back in the
rows' order), COPYed (`copy_rows`; `plain_rows_write` and `columns_write`, rows given as dicts
or a column at a time; `columns_prepare` makes them ready without sending them), and the cached
client figures written with one UPDATE per batch (`save_clients`: `VALUES` lists, or one JSON
array for a large batch; `save_balances`: two array literals). How many values travel in one parameter, and which shape for what: `params`."""

from itertools import repeat

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from crm.models import Client
from crm.pgcopy import copy_text
from loyalty.services import prepared

from .accounts import Account
from .params import array_text, json_rows
from .shapes import InsertShape, insert_shape, prepared_values, preparer, row_params, saved_as

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
_SQL: dict[tuple, str] = {}


def default_db():
    """The default connection itself (not the proxy, whose every attribute costs a lookup)."""
    return connections[DEFAULT_DB_ALIAS]


def save_clients(clients: list[Client], *, conn=None) -> None:
    """One UPDATE … FROM (VALUES …) writing the cached figures of locked clients."""
    if not clients:
        return
    db = conn or default_db()
    params = client_params(clients, db)
    if db.vendor == "postgresql" and len(params) > prepared.MAX_PARAMS:
        # A batch's clients as one JSON array (one parameter, as `_insert_json`).
        sql, values = clients_json_update(db, params)
        with db.cursor() as cursor:
            cursor.execute(sql, values)
        return
    key = (db.vendor, "save_clients", len(clients))
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _save_clients_sql(db, len(clients), CLIENT_FIGURES)
    with db.cursor() as cursor:
        prepared.execute(cursor, sql, params)


def client_params(clients: list[Client], db) -> list:
    """The update time, then each client's id and `CLIENT_FIGURES`, prepared for `db`."""
    fields = _FIGURE_FIELDS.get(db.vendor) or _figure_fields(db)
    params = [Client._meta.get_field("updated_at").get_db_prep_value(timezone.now(), db)]
    for client in clients:
        params.append(client.pk)
        params.extend(prepare(getattr(client, attname), db) for attname, prepare in fields)
    return params


def clients_json_update(db, params: list, head: str = "") -> tuple[str, list]:
    """The UPDATE of clients' figures from `client_params` as one JSON array (PostgreSQL);
    with `head` (a CTE's name inside a WITH), only when that CTE returned its row."""
    table = db.ops.quote_name(Client._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name, _type in CLIENT_FIGURES)
    names = ["id", *(name for name, _type in CLIENT_FIGURES)]
    width = len(names)
    rows = [
        dict(zip(names, params[i : i + width], strict=True)) for i in range(1, len(params), width)
    ]
    sql = (
        f"UPDATE {table} AS c SET {assignments}, updated_at = %s FROM {head + ', ' if head else ''}"
        f"jsonb_populate_recordset(NULL::{table}, %s::jsonb) AS v WHERE c.id = v.id"
    )
    return sql, [params[0], json_rows(rows)]


_FIGURE_FIELDS: dict[str, list] = {}


def _figure_fields(db) -> list:
    fields = [Client._meta.get_field(name) for name, _type in CLIENT_FIGURES]
    _FIGURE_FIELDS[db.vendor] = [(f.attname, preparer(f, db)) for f in fields]
    return _FIGURE_FIELDS[db.vendor]


def save_balances(accounts: list[Account], *, conn=None) -> None:
    """Write the balances of locked accounts: on PostgreSQL one UPDATE … FROM unnest(ids,
    balances) (two array parameters, whatever the count); elsewhere 1000 per UPDATE … FROM
    (VALUES …)."""
    db = conn or default_db()
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
    shape = insert_shape(model)
    db = conn or default_db()
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
        saved_as(obj, pk, db.alias)
    return objs


def _insert_json(db, model, shape: InsertShape, objs: list) -> list | None:
    """`insert_rows` of a batch on PostgreSQL: the rows as one JSON array read with
    `jsonb_populate_recordset` (one parameter: the driver's client-side binding of thousands
    of `%s` cost more than building the rows), their new keys set in the rows' order (one
    INSERT draws its sequence values in the order it reads the rows: ordered by position).
    None, with nothing written, when a value has no JSON form here (the caller binds them)."""
    names = [f.column for f in shape.fields]
    rows = [dict(zip(names, row_params(shape, obj, db), strict=True)) for obj in objs]
    try:
        data = json_rows(rows)
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
        saved_as(obj, pk, db.alias)
    return objs


def copy_rows(objs: list, *, conn) -> None:
    """COPY model instances (one model, unsaved) into their table (PostgreSQL); their primary
    keys stay unset — for set-based writers that do not need them."""
    model = type(objs[0])
    shape = insert_shape(model)
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
    model's table: `columns_write` with every field a row names as a column. No primary keys
    come back."""
    if not rows:
        return
    names = set().union(*rows)
    fields = [f for f in insert_shape(model).fields if f.attname in names]
    columns = {
        name: [row.get(name, default) for row in rows]
        for name, default in column_defaults(fields).items()
    }
    columns_write(model, fixed={}, columns=columns, conn=conn)


class PreparedRows:
    """Rows made ready for one write (`columns_prepare`): the statement and its COPY text or
    parameter rows. Preparing is Python alone, so it may run while the connection's previous
    statement is still being processed by the server; `write` sends them."""

    __slots__ = ("sql", "data", "rows", "copy")

    def __init__(self, sql: str, *, data: str | None = None, rows=None, copy: bool):
        self.sql, self.data, self.rows, self.copy = sql, data, rows, copy

    def write(self, conn) -> None:
        with conn.cursor() as cursor:
            if not self.copy:
                cursor.executemany(self.sql, self.rows)
                return
            with cursor.cursor.copy(self.sql) as copy:
                if self.data is not None:
                    copy.write(self.data)
                else:
                    for row in self.rows:
                        copy.write_row(row)


def columns_write(model, *, fixed: dict, columns: dict[str, list], conn) -> None:
    """Write rows given a column at a time into the model's table (`columns_prepare`, then
    its write)."""
    columns_prepare(model, fixed=fixed, columns=columns, conn=conn).write(conn)


def columns_prepare(model, *, fixed: dict, columns: dict[str, list], conn) -> PreparedRows:
    """Rows given a column at a time, ready to write into the model's table: `columns`
    {attname: one value per row} (equal lengths), `fixed` {attname: the value of every row};
    other fields take their default. A fixed value is prepared for the database once, each
    distinct value of a column once (`prepared_values`). PostgreSQL: COPY text, the fixed
    columns formatted once as every line's tail; SQLite: one `executemany`. Nothing is sent to
    the database here. No primary keys come back."""
    shape = insert_shape(model)
    if shape.pre_save:
        raise ValueError(f"{model.__name__}: auto_now fields need model instances")
    if len({len(values) for values in columns.values()}) != 1:
        raise ValueError("columns_write needs one or more columns of equal length")
    by_name = {f.attname: f for f in shape.fields}
    wrong = ((set(columns) | set(fixed)) - by_name.keys()) | (set(columns) & set(fixed))
    if wrong:
        raise ValueError(f"{model.__name__}: not a column, or both fixed and varying: {wrong}")
    varying = [by_name[name] for name in columns]
    constant = [f for f in shape.fields if f.attname not in columns]
    values = {**column_defaults([f for f in constant if f.attname not in fixed]), **fixed}
    prepared = [prepared_values(f, columns[f.attname], conn) for f in varying]
    tail = [f.get_db_prep_save(values[f.attname], conn) for f in constant]

    qn = conn.ops.quote_name
    table = qn(model._meta.db_table)
    column_list = ", ".join(qn(f.column) for f in varying + constant)
    rows = zip(*prepared, *map(repeat, tail), strict=False)  # the fixed values repeat
    if conn.vendor == "postgresql":
        sql = f"COPY {table} ({column_list}) FROM STDIN"
        data = copy_data(prepared, tail)
        return PreparedRows(sql, data=data, rows=None if data is not None else rows, copy=True)
    marks = ", ".join(["%s"] * (len(varying) + len(constant)))
    sql = f"INSERT INTO {table} ({column_list}) VALUES ({marks})"
    return PreparedRows(sql, rows=list(rows), copy=False)


def column_defaults(fields) -> dict:
    """{attname: default} of these fields, for rows that leave them unset (a callable default
    called once per write)."""
    return {f.attname: f.get_default() for f in fields}


def copy_data(columns: list[list], fixed: list = ()) -> str | None:
    """Equal-length columns of prepared values, then the `fixed` prepared values of every row,
    as COPY text: each distinct value of a column formatted once (the driver's row writer
    formats every value of every row in Python), the fixed ones once for all rows; None if a
    value has no text form here."""
    tail = [copy_text(value) for value in fixed]
    if None in tail:
        return None
    texts = []
    for values in columns:
        known: dict = {}
        column = []
        try:
            for value in values:
                text = known.get(value)
                if text is None:
                    text = copy_text(value)
                    if text is None:
                        return None
                    known[value] = text
                column.append(text)
        except TypeError:  # a value that cannot be a dictionary key
            return None
        texts.append(column)
    if tail and texts:
        texts.append(["\t".join(tail)] * len(texts[0]))
    lines = ["\t".join(row) for row in zip(*texts, strict=True)]
    return "\n".join(lines) + "\n" if lines else ""
