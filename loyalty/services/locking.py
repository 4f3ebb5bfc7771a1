"""The purchase path's first statement: lock a batch's clients with their referral chains
(up to three ancestors) in primary-key order, and read in the same statement what the
engine needs to know about the merchant's configuration:

- the program's fingerprint: every column of the program and of its tiers, as text. The
  engine keeps the parsed program and tiers per process (`rules_cached`) and reloads them
  only when the fingerprint differs, so a change from the admin, a command or another
  process is seen by the very next purchase, at no extra round trip;
- the lowest check amount an active check-growth campaign reacts to, so the after-purchase
  hook is scheduled only for checks that may reach it (and never when there is none).

Hand-written SQL: it runs once per purchase, and the ORM's compile cost was most of it."""

from decimal import Decimal

from django.db import connection

from crm.models import Client
from loyalty.models import Campaign, CampaignKind, Program, Tier

from . import prepared
from .rules import Rules, load_rules

# merchant id -> (fingerprint, Rules). Entries are replaced whole, never mutated.
_RULES: dict[int, tuple[str | None, Rules]] = {}
_SQL: dict[tuple, str] = {}


def rules_cached(merchant, fingerprint: str | None) -> Rules:
    """The merchant's rules, reloaded only when the configuration's fingerprint changed."""
    cached = _RULES.get(merchant.pk)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    rules = load_rules(merchant)
    _RULES[merchant.pk] = (fingerprint, rules)
    return rules


def rules_forget(merchant_id: int | None = None) -> None:
    """Drop the cached rules (of one merchant, or all)."""
    if merchant_id is None:
        _RULES.clear()
    else:
        _RULES.pop(merchant_id, None)


def _text(alias: str, field) -> str:
    return f"COALESCE(CAST({alias}.{connection.ops.quote_name(field.column)} AS TEXT), '~')"


def fingerprint_sql() -> str:
    """A scalar subquery: the program's and its tiers' columns as one string (NULL: no program)."""
    qn = connection.ops.quote_name
    program_cols = " || '|' || ".join(_text("p", f) for f in Program._meta.concrete_fields)
    tier_cols = " || ':' || ".join(_text("t", f) for f in Tier._meta.concrete_fields)
    tier_table, program_table = qn(Tier._meta.db_table), qn(Program._meta.db_table)
    if connection.vendor == "postgresql":
        tiers = (
            f"SELECT string_agg({tier_cols}, ',' ORDER BY t.id) FROM {tier_table} t "
            "WHERE t.program_id = p.id"
        )
    else:
        tiers = (
            f"SELECT group_concat(s, ',') FROM (SELECT {tier_cols} AS s FROM {tier_table} t "
            "WHERE t.program_id = p.id ORDER BY t.id)"
        )
    return (
        f"(SELECT {program_cols} || '#' || COALESCE(({tiers}), '') "
        f"FROM {program_table} p WHERE p.merchant_id = %s)"
    )


def _growth_sql() -> str:
    table = connection.ops.quote_name(Campaign._meta.db_table)
    return (
        f"(SELECT MIN(g.min_check_amount) FROM {table} g WHERE g.merchant_id = %s "
        f"AND g.kind = '{CampaignKind.CHECK_GROWTH.value}' AND g.is_active)"
    )


def _lock_sql(count: int) -> str:
    key = (connection.vendor, "lock", count)
    sql = _SQL.get(key)
    if sql is None:
        qn = connection.ops.quote_name
        table = qn(Client._meta.db_table)
        columns = ", ".join(f"c.{qn(f.column)}" for f in Client._meta.concrete_fields)
        marks = ", ".join(["%s"] * count)
        lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
        sql = (
            "WITH b AS (SELECT c0.id AS id0, c0.referred_by_id AS id1, "
            "r1.referred_by_id AS id2, r2.referred_by_id AS id3 "
            f"FROM {table} c0 LEFT JOIN {table} r1 ON r1.id = c0.referred_by_id "
            f"LEFT JOIN {table} r2 ON r2.id = r1.referred_by_id WHERE c0.id IN ({marks})) "
            f"SELECT {columns}, {fingerprint_sql()}, {_growth_sql()} FROM {table} c "
            "WHERE c.id IN (SELECT id0 FROM b UNION SELECT id1 FROM b "
            "UNION SELECT id2 FROM b UNION SELECT id3 FROM b) "
            f"ORDER BY c.id{lock}"
        )
        _SQL[key] = sql
    return sql


def _config_sql() -> str:
    key = (connection.vendor, "config")
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = f"SELECT {fingerprint_sql()}, {_growth_sql()}"
    return sql


class Snapshot:
    """What the first statement read: the locked clients by id, the merchant's fingerprint
    and the lowest active check-growth threshold (None: no such campaign)."""

    __slots__ = ("clients", "fingerprint", "growth_threshold")

    def __init__(self, clients, fingerprint, growth_threshold):
        self.clients = clients
        self.fingerprint = fingerprint
        self.growth_threshold = growth_threshold


def lock_with_config(*, merchant_id: int, client_ids) -> Snapshot:
    """Lock `client_ids` and their referrers (≤ 3 levels) in primary-key order and read the
    merchant's configuration fingerprint, in one statement. Inside transaction.atomic."""
    ids = sorted({cid for cid in client_ids if cid is not None})
    if not ids:
        with connection.cursor() as cursor:
            prepared.execute(cursor, _config_sql(), [merchant_id, merchant_id])
            fingerprint, growth = cursor.fetchone()
        return Snapshot({}, fingerprint, growth)
    fields = Client._meta.concrete_fields
    width = len(fields)
    with connection.cursor() as cursor:
        prepared.execute(cursor, _lock_sql(len(ids)), [*ids, merchant_id, merchant_id])
        rows = cursor.fetchall()
    if not rows:
        with connection.cursor() as cursor:
            prepared.execute(cursor, _config_sql(), [merchant_id, merchant_id])
            fingerprint, growth = cursor.fetchone()
        return Snapshot({}, fingerprint, growth)
    clients = {}
    for row in rows:
        client = instance_from_row(Client, row[:width])
        clients[client.pk] = client
    fingerprint, growth = rows[0][width], rows[0][width + 1]
    if growth is not None:
        growth = _decimal(growth)
    return Snapshot(clients, fingerprint, growth)


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


_CONVERTERS: dict[tuple, tuple] = {}


def instance_from_row(model, row):
    """A model instance from a hand-written SELECT of its concrete fields in their order
    (`model._meta.concrete_fields`), converted as the ORM would convert them."""
    names, converters = _converters(model)
    values = list(row)
    for index, convert in converters:
        values[index] = convert(values[index])
    return model.from_db(connection.alias, names, values)


def _converters(model) -> tuple:
    """(attnames, per-column conversions the driver does not do itself, as the ORM would
    apply them: SQLite returns decimals as numbers and timestamps as text; JSON comes as
    text)."""
    key = (connection.vendor, model)
    cached = _CONVERTERS.get(key)
    if cached is not None:
        return cached
    fields = model._meta.concrete_fields
    result = []
    for index, field in enumerate(fields):
        expression = field.get_col("c")
        funcs = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        if funcs:
            result.append((index, _converter(funcs, expression)))
    _CONVERTERS[key] = ([f.attname for f in fields], result)
    return _CONVERTERS[key]


def _converter(funcs, expression):
    def convert(value):
        for func in funcs:
            value = func(value, expression, connection)
        return value

    return convert
