"""Per-buyer purchase summaries (`ClientPurchases`): one row per client with a kept card
purchase — how many, their revenue (amount − refunded), the first and the last — over all time.

The nightly refresh keeps them: a full refresh (and the first one) folds every purchase; an
incremental one folds again only the clients with a purchase recorded or refunded since the last
refresh's marks (`reports.rollup`), late documents and refunds of old purchases included. Like
the rollup's marks, a deleted purchase or one moved to another client is picked up by the next
full refresh.

`per_client_sql` gives the per-client figures of the kept card purchases in a time window from
these rows: the summary row of each buyer whose first and last kept purchase are inside the
window, and the purchases of the others folded directly (the refresh's windows end today or at a
recent month's end, so the others are few). The client-level figures (buyers and regulars, buyers per source,
the RFM history) read it instead of every purchase; they equal the live computation.
"""

from datetime import datetime

from django.db import connection
from django.db.models import Max

from crm.models import Client
from loyalty.models import Purchase, Refund
from onboarding.models import Merchant

from .aggregates import client_channel_sql
from .models import ClientPurchases

KEPT = "(p.refunded_amount < p.amount OR p.amount <= 0)"


FOLDED = ("purchases", "revenue", "first_at", "last_at", "channel", "source_detail", "joined_at")


def _with_keys(folded: str, *, upsert: bool = False, add: bool = False) -> str:
    """INSERT of the per-client rows of `folded` (SELECT client_id, merchant_id, n, rev,
    first_at, last_at) with the client's channel keys and join time; with `upsert` a client's
    existing row takes them instead and keeps its scores (`reports.rescore` writes them again
    only when they change); with `add` too, the figures are added to the existing row's (its
    purchases and revenue summed, the earlier first and the later last)."""
    sql = (
        f"INSERT INTO {ClientPurchases._meta.db_table} (client_id, merchant_id, purchases, "
        "revenue, first_at, last_at, channel, source_detail, joined_at) "
        f"SELECT f.client_id, f.merchant_id, f.n, f.rev, f.first_at, f.last_at, "
        f"{client_channel_sql('k')}, k.source_detail, k.joined_at FROM ({folded}) AS f "
        f"JOIN {Client._meta.db_table} k ON k.id = f.client_id"
    )
    if upsert or add:
        # (SQLite reads ON CONFLICT after a join's ON only behind a WHERE)
        taken = {column: f"excluded.{column}" for column in FOLDED}
        if add:
            table = ClientPurchases._meta.db_table
            taken.update(
                purchases=f"{table}.purchases + excluded.purchases",
                revenue=f"{table}.revenue + excluded.revenue",
                first_at=f"CASE WHEN excluded.first_at < {table}.first_at "
                f"THEN excluded.first_at ELSE {table}.first_at END",
                last_at=f"CASE WHEN excluded.last_at > {table}.last_at "
                f"THEN excluded.last_at ELSE {table}.last_at END",
            )
        sets = ", ".join(f"{column} = {value}" for column, value in taken.items())
        sql += f" WHERE true ON CONFLICT (client_id) DO UPDATE SET {sets}"
    return sql


def fold_sql(where: str, *, upsert: bool = False, add: bool = False) -> str:
    """INSERT of the folded rows of the purchases matching `where` (SQL after the merchant's
    condition; its parameters follow the merchant's id); `upsert` and `add` as in
    `_with_keys`."""
    return _with_keys(
        "SELECT p.client_id, p.merchant_id, COUNT(*) AS n, SUM(p.amount - p.refunded_amount) "
        f"AS rev, MIN(p.occurred_at) AS first_at, MAX(p.occurred_at) AS last_at "
        f"FROM {Purchase._meta.db_table} p "
        f"WHERE p.merchant_id = %s AND p.client_id IS NOT NULL AND {KEPT} {where} "
        "GROUP BY p.client_id, p.merchant_id",
        upsert=upsert,
        add=add,
    )


def fold_clients_sql(merchant: Merchant, clients: tuple[str, list]) -> tuple[str, list]:
    """INSERT (SQL, parameters) of the folded rows of the kept purchases of the clients
    `clients` (SQL of one `client_id` column, parameters) over their existing rows (`upsert`).
    On PostgreSQL client by client through the index on the purchases' client (a LATERAL join):
    the planner would otherwise scan every purchase for a few thousand clients."""
    clients_sql, clients_params = clients
    if connection.vendor != "postgresql":
        return (
            fold_sql(f"AND p.client_id IN ({clients_sql})", upsert=True),
            [merchant.pk, *clients_params],
        )
    sql = _with_keys(
        "SELECT c.client_id, %s AS merchant_id, x.n, x.rev, x.first_at, x.last_at "
        f"FROM ({clients_sql}) AS c CROSS JOIN LATERAL (SELECT COUNT(*) AS n, "
        "SUM(p.amount - p.refunded_amount) AS rev, MIN(p.occurred_at) AS first_at, "
        f"MAX(p.occurred_at) AS last_at FROM {Purchase._meta.db_table} p "
        f"WHERE p.client_id = c.client_id AND p.merchant_id = %s AND {KEPT}) AS x "
        "WHERE x.n > 0",
        upsert=True,
    )
    return sql, [merchant.pk, *clients_params, merchant.pk]


def at_end_sql(merchant: Merchant, clients: str, end: datetime) -> tuple[str, list]:
    """SELECT (SQL, parameters) of the summaries of the clients `clients` (SQL of one
    `client_id` column) as they were before `end` — the table's columns, scores as stored — from
    the summaries as they are rather than a fold of every purchase, and a `kept` column: false
    for a summary whose first kept purchase is on or after `end` (it was not there yet). The
    others lose the kept purchases since `end` (read once, a range of the purchases' time,
    grouped per client) and take their last one before it (one probe of the purchases' index on
    client and time per buyer whose last is since)."""
    table, purchases = ClientPurchases._meta.db_table, Purchase._meta.db_table
    at = connection.ops.adapt_datetimefield_value(end)
    pk = merchant.pk
    since = (
        "SELECT p.client_id, COUNT(*) AS n, SUM(p.amount - p.refunded_amount) AS rev "
        f"FROM {purchases} p WHERE p.merchant_id = %s AND {KEPT} AND p.occurred_at >= %s "
        f"AND p.client_id IN ({clients}) GROUP BY p.client_id"
    )
    before = (
        f"SELECT MAX(p.occurred_at) FROM {purchases} p WHERE p.client_id = t.client_id "
        f"AND p.merchant_id = %s AND {KEPT} AND p.occurred_at < %s"
    )
    sql = (
        "SELECT t.client_id, t.merchant_id, t.purchases - COALESCE(d.n, 0) AS purchases, "
        "t.revenue - COALESCE(d.rev, 0) AS revenue, t.first_at, "
        f"CASE WHEN t.last_at >= %s THEN ({before}) ELSE t.last_at END AS last_at, "
        "t.r, t.m, t.segment, CASE WHEN t.first_at < %s THEN 1 ELSE 0 END AS kept "
        f"FROM {table} t LEFT JOIN ({since}) AS d ON d.client_id = t.client_id "
        f"WHERE t.client_id IN ({clients})"
    )
    return sql, [at, pk, at, at, pk, at]


def summaries_rebuild(*, merchant: Merchant) -> int:
    """Fold every purchase of the merchant again. Returns the buyers written."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {ClientPurchases._meta.db_table} WHERE merchant_id = %s", [merchant.pk]
        )
        cursor.execute(fold_sql(""), [merchant.pk])
        written = cursor.rowcount
        if connection.vendor == "postgresql":
            # the rows were all replaced: let the planner know their number
            cursor.execute(f"ANALYZE {ClientPurchases._meta.db_table}")
        return written


def changed_clients_sql(
    *,
    merchant: Merchant,
    purchases_after: int,
    refunds_after: int,
    purchases_through: int | None = None,
) -> tuple[str, list]:
    """SQL and parameters of the ids (`client_id`) of the merchant's clients with a purchase
    past `purchases_after` (new, late or back-dated; up to `purchases_through` when given) or a
    refund past `refunds_after`."""
    purchases, refunds = Purchase._meta.db_table, Refund._meta.db_table
    bounded = " AND id <= %s" if purchases_through is not None else ""
    sql = (
        f"SELECT client_id FROM {purchases} WHERE merchant_id = %s AND id > %s{bounded} "
        "AND client_id IS NOT NULL UNION "
        f"SELECT q.client_id FROM {refunds} r JOIN {purchases} q ON q.id = r.purchase_id "
        "WHERE r.merchant_id = %s AND r.id > %s AND q.client_id IS NOT NULL"
    )
    through = [purchases_through] if purchases_through is not None else []
    return sql, [merchant.pk, purchases_after, *through, merchant.pk, refunds_after]


def folded_through() -> int:
    """The largest purchase id there is now: read after a fold, every purchase it read is at or
    below it (see `summaries_update`'s `folded_through`)."""
    return Purchase.objects.aggregate(n=Max("pk"))["n"] or 0


def summaries_update(
    *,
    merchant: Merchant,
    purchases_after: int,
    refunds_after: int,
    changed: str | None = None,
    folded_through: int | None = None,
) -> int:
    """Fold again the clients with a purchase past `purchases_after` (new, late or back-dated)
    or a refund past `refunds_after` (of a purchase of any day) — or, with `changed`, the
    clients of that table (`client_id`), taken by the caller from the same marks. Returns the
    buyers written.

    With `folded_through` (`folded_through()` after the last refresh's fold; on PostgreSQL)
    only the clients with a refund past the mark, or a purchase between the mark and it (the
    last fold may have read it), are folded again; the other buyers' purchases past it, which
    no fold read, are added to their rows — a night reads its own purchases, not every
    purchase of its buyers."""
    if folded_through is not None and connection.vendor == "postgresql":
        return _summaries_add(
            merchant,
            purchases_after=purchases_after,
            refunds_after=refunds_after,
            folded_through=max(folded_through, purchases_after),
        )
    sql, params = changed_clients_sql(
        merchant=merchant, purchases_after=purchases_after, refunds_after=refunds_after
    )
    if changed is not None:
        sql, params = f"SELECT client_id FROM {changed}", []
    return _refold(merchant, sql, params)


def _refold(merchant: Merchant, sql: str, params: list) -> int:
    """Fold again the clients of `sql` (one `client_id` column); a summary goes when no kept
    purchase is left. Returns the buyers written."""
    table, purchases = ClientPurchases._meta.db_table, Purchase._meta.db_table
    with connection.cursor() as cursor:
        # a summary goes when no kept purchase is left; the others are folded again in place
        cursor.execute(
            f"DELETE FROM {table} WHERE client_id IN ({sql}) AND NOT EXISTS (SELECT 1 FROM "
            f"{purchases} p WHERE p.client_id = {table}.client_id AND p.merchant_id = %s "
            f"AND {KEPT})",
            [*params, merchant.pk],
        )
        cursor.execute(
            *fold_clients_sql(merchant, (f"SELECT DISTINCT client_id FROM ({sql}) AS d", params))
        )
        return cursor.rowcount


REFOLD = "reports_cp_refold"


def _summaries_add(
    merchant: Merchant, *, purchases_after: int, refunds_after: int, folded_through: int
) -> int:
    """`summaries_update` with `folded_through`: the refunded clients and those with a purchase
    in (`purchases_after`, `folded_through`] folded again, the kept purchases past
    `folded_through` of the others added to their rows. Returns the buyers written."""
    refold, params = changed_clients_sql(
        merchant=merchant,
        purchases_after=purchases_after,
        refunds_after=refunds_after,
        purchases_through=folded_through,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {REFOLD}")
        cursor.execute(f"CREATE TEMPORARY TABLE {REFOLD} AS {refold}", params)
    written = _refold(merchant, f"SELECT client_id FROM {REFOLD}", [])
    with connection.cursor() as cursor:
        cursor.execute(
            fold_sql(
                f"AND p.id > %s AND p.client_id NOT IN (SELECT client_id FROM {REFOLD})", add=True
            ),
            [merchant.pk, folded_through],
        )
        written += cursor.rowcount
        cursor.execute(f"DROP TABLE {REFOLD}")
    return written


def per_client_sql(
    merchant: Merchant,
    start: datetime | None,
    end: datetime,
    *,
    keys: bool = False,
    clients: str | None = None,
) -> tuple[str, list]:
    """SQL and parameters of one row per client with a kept card purchase in [start, end):
    `client_id`, `n` (purchases), `rev` (revenue), `first_at`, `last_at` — and with `keys` the
    summary's `channel`, `source_detail` and `joined_at` (the client's, see `ClientPurchases`);
    with `clients` (SQL of one `client_id` column, no parameters) of those clients only."""
    adapt = connection.ops.adapt_datetimefield_value
    purchases, table = Purchase._meta.db_table, ClientPurchases._meta.db_table
    # a summary's first and last purchase bound all its kept purchases: a row inside the
    # window is taken as it is (no look-up of its purchases), the others are folded directly
    inside, inside_params = "s.last_at < %s", [adapt(end)]
    window, window_params = "p.occurred_at < %s", [adapt(end)]
    if start is not None:
        inside, inside_params = f"{inside} AND s.first_at >= %s", [*inside_params, adapt(start)]
        window, window_params = f"{window} AND p.occurred_at >= %s", [*window_params, adapt(start)]

    def only(alias: str) -> str:
        return f" AND {alias}.client_id IN ({clients})" if clients is not None else ""

    columns = ", channel, source_detail, joined_at" if keys else ""
    folded = (
        "SELECT p.client_id, COUNT(*) AS n, SUM(p.amount - p.refunded_amount) AS rev, "
        f"MIN(p.occurred_at) AS first_at, MAX(p.occurred_at) AS last_at FROM {purchases} p "
        f"WHERE p.merchant_id = %s AND {KEPT} AND {window} AND p.client_id IN "
        f"(SELECT o.client_id FROM {table} o WHERE o.merchant_id = %s "
        f"AND NOT ({inside.replace('s.', 'o.')}){only('o')}) GROUP BY p.client_id"
    )
    if keys:
        folded = (
            f"SELECT f.client_id, f.n, f.rev, f.first_at, f.last_at{columns.replace(', ', ', o.')} "
            f"FROM ({folded}) AS f JOIN {table} o ON o.client_id = f.client_id"
        )
    sql = (
        "SELECT s.client_id, s.purchases AS n, s.revenue AS rev, s.first_at, s.last_at"
        f"{columns.replace(', ', ', s.')} FROM {table} s WHERE s.merchant_id = %s AND {inside}{only('s')} "
        f"UNION ALL {folded}"
    )
    params = [
        merchant.pk,
        *inside_params,
        merchant.pk,
        *window_params,
        merchant.pk,
        *inside_params,
    ]
    return sql, params
