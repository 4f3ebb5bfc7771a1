"""Set-based write helpers shared by issuance and expiry."""

from django.db import connection
from django.utils import timezone

from loyalty.ledger.params import array_text
from loyalty.ledger.shapes import prepared_values


def bulk_set(model, field_name: str, values: dict, *, batch_size: int = 2000) -> None:
    """Set one column to a per-row value for many rows by primary key.

    PostgreSQL: one `UPDATE … FROM (VALUES …)` per batch; elsewhere Django's bulk_update
    (a CASE expression), which is fine at SQLite's scale."""
    if not values:
        return
    items = sorted(values.items())
    field = model._meta.get_field(field_name)
    if connection.vendor != "postgresql":
        objs = []
        for pk, value in items:
            obj = model(pk=pk)
            setattr(obj, field.attname, value)
            objs.append(obj)
        model.objects.bulk_update(objs, [field_name], batch_size=batch_size)
        return
    qn = connection.ops.quote_name
    table, column = qn(model._meta.db_table), qn(field.column)
    pk_column = qn(model._meta.pk.column)
    target = field.target_field if field.is_relation else field
    cast = target.db_type(connection)
    pk_cast = model._meta.pk.db_type(connection)
    with connection.cursor() as cursor:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            rows = ", ".join(["(%s, %s)"] * len(batch))
            params = [p for pair in batch for p in pair]
            cursor.execute(
                f"UPDATE {table} AS t SET {column} = v.val::{cast} "
                f"FROM (VALUES {rows}) AS v(id, val) WHERE t.{pk_column} = v.id::{pk_cast}",
                params,
            )


# Fields whose int or str values go to the database as they are (ids, codes, texts).
_AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "TextField",
}


def _prepared(field, values: list) -> list:
    """`values` ready for the database: ids and texts as they are; anything else through
    the field, once per distinct value."""
    if field.get_internal_type() in _AS_IS and all(
        type(v) is int or type(v) is str for v in values
    ):
        return list(values)
    return prepared_values(field, values, connection)


def insert_select(model, *, constants: dict, expressions: dict, source: str) -> tuple[str, list]:
    """PostgreSQL: `INSERT INTO <model's table> (…) SELECT … FROM <source>` as (sql, params),
    to run alone or as a step of a `WITH` chain. `expressions` maps fields to SQL over
    `source` (its own parameters follow the statement's); `constants` are the same for every
    row; every other field takes its default (`auto_now`/`auto_now_add`: now)."""
    meta = model._meta
    qn = connection.ops.quote_name
    now = timezone.now()
    targets, select, params = [], [], []
    for field in meta.concrete_fields:
        name = field.attname
        if name in expressions:
            targets.append(qn(field.column))
            select.append(expressions[name])
            continue
        if field is meta.auto_field:
            continue
        if name in constants:
            value = constants[name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        targets.append(qn(field.column))
        select.append(f"%s::{db_type(field)}")
        params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(targets)}) "
        f"SELECT {', '.join(select)} FROM {source}"
    )
    return sql, params


def unnest_source(model, columns: dict, alias: str = "t") -> tuple[str, dict, list]:
    """`unnest(arrays) AS alias(…)` over the equal-length `columns` lists of `model`'s fields:
    (source, {field: column expression}, the arrays as parameters)."""
    arrays, names, expressions, params = [], [], {}, []
    for position, name in enumerate(columns):
        field = model._meta.get_field(name)
        column = f"c{position}"
        arrays.append(f"%s::{db_type(field)}[]")
        names.append(column)
        expressions[field.attname] = f"{alias}.{column}"
        params.append(array_text(_prepared(field, columns[name])))
    source = f"unnest({', '.join(arrays)}) AS {alias}({', '.join(names)})"
    return source, expressions, params


def db_type(field) -> str:
    """The column type of `field` (a relation's: its target's)."""
    column_type = field.target_field.db_type(connection) if field.is_relation else None
    return column_type or field.db_type(connection)


def insert_set(model, *, constants: dict, columns: dict, returning: bool = False) -> list[int]:
    """PostgreSQL: insert one row per position of the equal-length `columns` lists with one
    `INSERT … SELECT … FROM unnest(arrays)` — a handful of parameters whatever the row count,
    no model instances. `constants` are the same for every row; every other field takes its
    default (`auto_now`/`auto_now_add`: now). Returns the new primary keys if `returning`."""
    source, expressions, array_params = unnest_source(model, columns)
    sql, params = insert_select(model, constants=constants, expressions=expressions, source=source)
    if returning:
        sql += f" RETURNING {connection.ops.quote_name(model._meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params + array_params)
        return [row[0] for row in cursor.fetchall()] if returning else []
