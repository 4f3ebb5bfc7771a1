"""How a model's rows become SQL parameters: one insert shape per model (its columns, the
fields that need `pre_save` or a related object's new key, its cached statements) and one
preparer per field (`get_db_prep_save`, cut short for values the ORM would pass through
unchanged). Every ledger write shape (`writes`, `statement`) builds its values here."""

from datetime import datetime
from decimal import Decimal

from django.db import models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


def among(field, fields) -> bool:
    """`field in fields` by identity (a field's `==` is a Python-level comparison)."""
    return any(field is other for other in fields)


class InsertShape:
    """How one model's rows are inserted: the columns, and which fields need `pre_save`
    (auto_now/auto_now_add) or a related object's new primary key."""

    def __init__(self, model):
        meta = model._meta
        # A generated column is computed by the database, never inserted (a client's).
        self.fields = [
            f for f in meta.concrete_fields if f is not meta.auto_field and not f.generated
        ]
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
        return self.plan(db, skip)[1]

    def plan(self, db, skip=()) -> tuple[list, list]:
        """For rows written without the `skip` fields: the relations whose related object's
        new key a row may still need, and (field, preparer) of every column, for this
        database; worked out once per database and `skip`."""
        key = (db.vendor, *(f.attname for f in skip)) if skip else db.vendor
        found = self.preparers.get(key)
        if found is None:
            found = self.preparers[key] = (
                [f for f in self.relations if not among(f, skip)],
                [(f, preparer(f, db)) for f in self.fields if not among(f, skip)],
            )
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


_SHAPES: dict[type, InsertShape] = {}


def insert_shape(model) -> InsertShape:
    return _SHAPES.get(model) or _SHAPES.setdefault(model, InsertShape(model))


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


def prepared_values(field, values, db) -> list:
    """`values` of one column as `field.get_db_prep_save` makes them (through `preparer`),
    once per distinct value (a run's rows share their time, kind, reason and most amounts);
    unhashable values each time."""
    prepare = preparer(field, db)
    seen: dict = {}
    out = []
    for value in values:
        try:
            found = seen.get(value, _UNSEEN)
        except TypeError:  # not hashable
            found = prepare(value, db)
        else:
            if found is _UNSEEN:
                found = seen[value] = prepare(value, db)
        out.append(found)
    return out


_UNSEEN = object()


def preparer(field, db):
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


def row_params(shape: InsertShape, obj, db, skip=()) -> list:
    """One row's values in the shape's column order (all but the `skip` fields)."""
    relations, columns = shape.plan(db, skip)
    attrs = obj.__dict__
    for field in relations:  # a related object saved after it was assigned
        if attrs.get(field.attname) is None and field.is_cached(obj):
            related = field.get_cached_value(obj)
            if related is not None:
                if related.pk is None:
                    raise ValueError(f"{field.name}: the related object is not saved")
                setattr(obj, field.attname, related.pk)
    pre_save = shape.pre_save
    try:
        if not pre_save:
            return [prepare(attrs[field.attname], db) for field, prepare in columns]
        return [
            prepare(
                field.pre_save(obj, True) if field.attname in pre_save else attrs[field.attname],
                db,
            )
            for field, prepare in columns
        ]
    except KeyError:  # a deferred field: read through the model's attribute (a query)
        return [
            prepare(
                field.pre_save(obj, True)
                if field.attname in pre_save
                else getattr(obj, field.attname),
                db,
            )
            for field, prepare in columns
        ]


_DEFAULTS: dict[type, tuple[dict, list]] = {}
_NAMES_CHECKED: set[tuple] = set()


def saved_as(obj, pk, alias: str):
    """`obj` as the ORM leaves a row it has saved (or read): its key, not adding, its database."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = alias
    return obj


def new_instance(model, values: dict, links: dict):
    """`model(**values, **links)` without the model's generic constructor (it walks every
    field and keyword: ≈ 35 µs for a purchase, as much again for each of its lines): the
    fields' defaults (a callable default called per instance, as the constructor does), then
    `values` (by attname), then `links` through the model's attributes (a related object is
    cached as the ORM caches it). A name that is not a field raises TypeError, as the
    constructor would. The generic constructor is used when anything listens to the model's
    init signals."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(**values, **links)
    found = _DEFAULTS.get(model)
    if found is None:
        plain, made = {}, []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                made.append(field)
            else:
                plain[field.attname] = field.get_default()
        found = _DEFAULTS[model] = (plain, made)
    key = (model, *values, "|", *links)
    if key not in _NAMES_CHECKED:
        fields = model._meta.concrete_fields
        unknown = set(values) - {f.attname for f in fields}
        unknown |= set(links) - {f.name for f in fields} - {f.attname for f in fields}
        if unknown:
            raise TypeError(f"{model.__name__}: unexpected fields {sorted(unknown)}")
        _NAMES_CHECKED.add(key)
    obj = model.__new__(model)
    obj._state = ModelState()
    attrs = obj.__dict__
    attrs.update(found[0])
    for field in found[1]:
        if field.attname not in values:
            attrs[field.attname] = field.get_default()
    attrs.update(values)
    for name, value in links.items():
        setattr(obj, name, value)
    return obj
