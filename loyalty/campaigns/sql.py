"""Set-based write helpers shared by issuance and expiry."""

from django.db import connection


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
