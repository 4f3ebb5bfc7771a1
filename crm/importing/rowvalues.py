"""A client row's columns for the import's bulk insert: which columns it writes with their
defaults, and (SQLite) how a written attribute's Python value becomes what the driver takes."""

from crm.models import Client


def insert_columns(model, fixed: dict) -> tuple[list[str], list]:
    """All concrete columns except the key and the ones the database computes, with each
    column's default prepared for the DB."""
    columns, template = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.generated:
            continue
        columns.append(f.column)
        if f.column in fixed:
            template.append(fixed[f.column])
            continue
        default = f.get_default()
        if default is None and not f.null:
            raise RuntimeError(f"{model.__name__}.{f.name} needs a value for bulk import")
        template.append(default)
    return columns, template


# Field types whose Python values SQLite's driver does not take as they are.
_SQLITE_CONVERTED = ("DateField", "DateTimeField", "DecimalField", "TimeField", "JSONField")


def sqlite_converters(names, conn) -> dict:
    """{attribute: value → database value} for the written attributes that need it on SQLite,
    found by the model field's type (a date becomes its ISO text, …), never by position."""
    converters = {}
    for name in names:
        model_field = Client._meta.get_field(name)
        if model_field.get_internal_type() == "DateField":
            # What Django's SQLite backend stores for a date (`adapt_datefield_value`: its ISO
            # text), without the per-value field preparation: a row per client.
            converters[name] = _iso_date
        elif model_field.get_internal_type() in _SQLITE_CONVERTED:
            converters[name] = lambda value, f=model_field: (
                None if value is None else f.get_db_prep_save(value, connection=conn)
            )
    return converters


def _iso_date(value):
    return None if value is None else value.isoformat()
