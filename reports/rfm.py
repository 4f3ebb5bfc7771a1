"""RFM scores and named segments, computed in one SQL statement per call.

Inputs are the client's cached figures (`last_purchase_at`, `purchases_count`,
`total_spent`, `first_purchase_at`), kept by the engine in the same transaction as the
purchases, so no purchase is scanned. Only buyers (≥ 1 purchase up to `today`) are scored.

Scores, 1 (worst) … 5 (best), within the merchant's own buyers:
* R — recency: quintile of the last purchase time (CUME_DIST, so the most recent fifth is 5);
* F — frequency: the number of purchases, 5 meaning 5 or more;
* M — monetary: quintile of total spend (CUME_DIST).

Named segments (first rule that matches wins):
| segment     | rule                                        | meaning                          |
|-------------|---------------------------------------------|----------------------------------|
| champions   | F ≥ 3, R ≥ 4, M ≥ 4                         | buy often, recently, the most    |
| loyal       | F ≥ 2, R ≥ 3                                | came back and are still active   |
| at_risk     | F ≥ 2, R ≤ 2                                | came back before, quiet now      |
| new         | F = 1, first purchase in the last 30 days   | just started                     |
| promising   | F = 1, R ≥ 3                                | one purchase, fairly recent      |
| lapsed      | F = 1, R ≤ 2                                | one purchase long ago            |
| no_purchase | a member (joined) with no purchase          | outside RFM; for welcome pushes  |

The nightly refresh stores every buyer's scores (`RfmScore`); after the first night they are
carried from night to night by `reports.rescore` instead of ranked again. The month-by-month
history of the segments, and the buyers' summaries' scores behind it, are `reports.rfm_history`.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection

from crm.models import Client, RfmSegment
from onboarding.models import Merchant
from onboarding.money import q

from . import rescore, rfm_counts, summaries
from .models import ReportSnapshot, RfmScore
from .ranked import SCORES
from .replica import read_connection

NEW_CLIENT_DAYS = 30

SEGMENTS = dict(RfmSegment.choices)
RFM_SEGMENTS = [s for s in SEGMENTS if s != "no_purchase"]


_score = rescore.score_case


def _clients_base() -> str:
    """Buyers from the clients' cached figures (now)."""
    return f"""
            SELECT id, total_spent, purchases_count, first_purchase_at, last_purchase_at,
                   CUME_DIST() OVER (ORDER BY last_purchase_at) AS cd_r,
                   CUME_DIST() OVER (ORDER BY total_spent) AS cd_m
            FROM {Client._meta.db_table}
            WHERE merchant_id = %s AND purchases_count > 0
              AND last_purchase_at IS NOT NULL AND last_purchase_at < %s"""


def _scored_sql() -> str:
    return f"""
        WITH base AS ({_clients_base()}
        ), scored AS (
            SELECT id, total_spent, first_purchase_at, last_purchase_at,
                   {_score("cd_r")} AS r,
                   CASE WHEN purchases_count >= 5 THEN 5 ELSE purchases_count END AS f,
                   {_score("cd_m")} AS m
            FROM base
        )
        SELECT id, total_spent, r, f, m,
               {rescore.segment_case(f="f", r="r", m="m", first="first_purchase_at", new_since="%s")}
               AS segment, last_purchase_at AS last_at, first_purchase_at AS first_at
        FROM scored
    """


def day_params(merchant: Merchant, today: date) -> list:
    """[merchant id, the end of `today` (local), the start of the "new" window] as bound
    parameters: the statements' day of scoring."""
    tz = merchant.tzinfo
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    new_since = datetime.combine(today - timedelta(days=NEW_CLIENT_DAYS - 1), time.min, tzinfo=tz)
    adapt = connection.ops.adapt_datetimefield_value
    return [merchant.pk, adapt(end), adapt(new_since)]


def client_scores(*, merchant: Merchant, today: date) -> dict[int, dict]:
    """{client id: {"r", "f", "m", "segment"}} for every buyer (tests and small exports)."""
    with read_connection().cursor() as cursor:
        cursor.execute(_scored_sql(), day_params(merchant, today))
        return {
            row[0]: {"r": row[2], "f": row[3], "m": row[4], "segment": row[5]}
            for row in cursor.fetchall()
        }


def segment_summary(
    *,
    merchant: Merchant,
    today: date,
    stored: bool = False,
    totals: dict | None = None,
    no_purchase: int | None = None,
) -> list[dict]:
    """Each named segment with its clients, revenue (total spend) and average scores,
    in the order of `SEGMENTS`; segments without clients are listed with zeros. `stored`:
    from the scores `scores_store` has just written for `today` instead of computing them —
    from their per-segment `totals` when given (kept with their state, `reports.rfm_counts`).
    `no_purchase`: the members without a purchase when already counted."""
    if stored and totals is not None:
        found = rfm_counts.summary_rows(totals)
    elif stored:
        found = stored_summary_rows(merchant=merchant)
    else:
        sql = (
            "SELECT segment, COUNT(*), COALESCE(SUM(total_spent), 0), AVG(r), AVG(f), AVG(m) "
            f"FROM ({_scored_sql()}) AS s GROUP BY segment"
        )
        with read_connection().cursor() as cursor:
            cursor.execute(sql, day_params(merchant, today))
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    if no_purchase is None:
        no_purchase = Client.objects.filter(
            merchant=merchant, joined_at__isnull=False, purchases_count=0
        ).count()
    found["no_purchase"] = (
        no_purchase,
        0,
        None,
        None,
        None,
    )
    total_revenue = sum(Decimal(str(v[1])) for v in found.values())
    out = []
    for key, label in SEGMENTS.items():
        count, revenue, r, f, m = found.get(key, (0, 0, None, None, None))
        revenue = q(Decimal(str(revenue)))
        out.append(
            {
                "segment": key,
                "label": str(label),
                "clients": int(count),
                "revenue": revenue,
                "revenue_share": q(revenue * 100 / total_revenue) if total_revenue else q(0),
                "avg_r": round(float(r), 1) if r is not None else None,
                "avg_f": round(float(f), 1) if f is not None else None,
                "avg_m": round(float(m), 1) if m is not None else None,
            }
        )
    return out


def scores_store(*, merchant: Merchant, today: date) -> int:
    """Bring the merchant's stored scores (`RfmScore`) to every buyer's as of `today`: the
    scores are computed once into a temporary table, then rows of clients no longer buyers go,
    only the rows whose scores, segment or spend changed are updated (most do not from one
    night to the next, and an unchanged row is not touched at all) and new buyers are added.
    Every step is a join between whole tables (no statement reads the table it writes). The
    caller marks the day (`ReportSnapshot.rfm_as_of`) in the same transaction. Returns the
    rows deleted or written."""
    table, scored, fresh = RfmScore._meta.db_table, "reports_rfm_scored", "reports_rfm_fresh"
    pk, end, new_since = day_params(merchant, today)
    with connection.cursor() as cursor:
        for temporary in (scored, fresh):
            cursor.execute(f"DROP TABLE IF EXISTS {temporary}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {scored} AS SELECT id AS client_id, r, f, m, segment, "
            f"total_spent, last_at, first_at FROM ({_scored_sql()}) AS s",
            [pk, end, new_since],
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {scored}")
        cursor.execute(
            f"DELETE FROM {table} WHERE merchant_id = %s AND NOT EXISTS ("
            f"SELECT 1 FROM {scored} s WHERE s.client_id = {table}.client_id)",
            [pk],
        )
        written = cursor.rowcount
        cursor.execute(
            f"UPDATE {table} SET r = s.r, f = s.f, m = s.m, segment = s.segment, "
            f"total_spent = s.total_spent, last_at = s.last_at, first_at = s.first_at "
            f"FROM {scored} s WHERE {table}.client_id = s.client_id "
            f"AND ({table}.r <> s.r OR {table}.f <> s.f OR {table}.m <> s.m "
            f"OR {table}.segment <> s.segment OR {table}.total_spent <> s.total_spent "
            f"OR {table}.last_at IS NULL OR {table}.last_at <> s.last_at "
            f"OR {table}.first_at IS NULL OR {table}.first_at <> s.first_at)"
        )
        written += cursor.rowcount
        cursor.execute(
            f"CREATE TEMPORARY TABLE {fresh} AS SELECT s.* FROM {scored} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE o.client_id = s.client_id)"
        )
        cursor.execute(
            f"INSERT INTO {table} (client_id, merchant_id, r, f, m, segment, total_spent, "
            "last_at, first_at) "
            f"SELECT client_id, %s, r, f, m, segment, total_spent, last_at, first_at FROM {fresh}",
            [pk],
        )
        written += cursor.rowcount
        for temporary in (scored, fresh):
            cursor.execute(f"DROP TABLE {temporary}")
        return written


def _scores_carried(
    *,
    merchant: Merchant,
    today: date,
    state: dict | None,
    purchases_after: int,
    refunds_after: int,
    params,
) -> tuple[dict, int] | str:
    """Carry the stored scores (`RfmScore`) from the kept `state`'s day to `today`: rewrite the
    rows of the clients with a purchase past `purchases_after` or a refund past `refunds_after`
    (and of those whose last purchase entered the window) from their cached figures, then
    `rescore`. `params(day)` gives `day_params`. Returns (the new state, rows
    written), or why the state cannot be used (the caller then scores every buyer again)."""
    reason = rescore.unusable(SCORES, state, merchant, today)
    if reason:
        return reason
    table, clients, pk = SCORES.table, Client._meta.db_table, merchant.pk
    _pk, end, new_since = params(today)
    _pk, old_end, old_new_since = params(date.fromisoformat(state["as_of"]))
    changed, changed_params = summaries.changed_clients_sql(
        merchant=merchant, purchases_after=purchases_after, refunds_after=refunds_after
    )
    rescore.changed_keep(
        SCORES,
        merchant=merchant,
        clients_sql=f"{changed} UNION SELECT id FROM {clients} WHERE merchant_id = %s "
        "AND last_purchase_at >= %s AND last_purchase_at < %s",
        params=[*changed_params, pk, old_end, end],
    )
    # in place: a buyer's row keeps its scores until `rescore` finds them changed (an unchanged
    # score is not written again); rows of clients no longer buyers go, new buyers come in. The
    # changed clients' cached figures are read once (by key) into a temporary table.
    buyer = "c.purchases_count > 0 AND c.last_purchase_at IS NOT NULL AND c.last_purchase_at < %s"
    freq = "CASE WHEN c.purchases_count >= 5 THEN 5 ELSE c.purchases_count END"
    ids, now = f"SELECT client_id FROM {SCORES.changed}", "reports_rfm_now"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {now}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {now} AS SELECT c.id AS client_id, c.merchant_id, "
            f"{freq} AS f, c.total_spent, c.last_purchase_at AS last_at, "
            f"c.first_purchase_at AS first_at FROM {clients} c WHERE c.id IN ({ids}) AND {buyer}",
            [end],
        )
    rewrite = [
        (  # the changed clients no longer buyers first (an anti-join of the two small
            # tables), then their rows by key: not every row tested against the buyers
            f"DELETE FROM {table} WHERE client_id IN (SELECT c.client_id FROM "
            f"{SCORES.changed} c WHERE NOT EXISTS (SELECT 1 FROM {now} n "
            "WHERE n.client_id = c.client_id))",
            [],
        ),
        (
            f"UPDATE {table} SET f = n.f, total_spent = n.total_spent, last_at = n.last_at, "
            f"first_at = n.first_at FROM {now} n WHERE n.client_id = {table}.client_id",
            [],
        ),
        (
            f"INSERT INTO {table} (client_id, merchant_id, r, f, m, segment, total_spent, "
            f"last_at, first_at) SELECT n.client_id, n.merchant_id, 0, n.f, 0, '', "
            f"n.total_spent, n.last_at, n.first_at FROM {now} n WHERE n.merchant_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {table} o WHERE o.client_id = n.client_id)",
            [pk],
        ),
    ]
    result = rescore.rewrite_and_rescore(
        SCORES,
        merchant=merchant,
        today=today,
        state=state,
        days=(new_since, old_new_since),
        rewrite=rewrite,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {now}")
    return result


def scores_refresh(
    *,
    merchant: Merchant,
    today: date,
    state: dict | None = None,
    changed_after: tuple[int, int] | None = None,
) -> tuple[dict, str]:
    """Bring the stored scores to `today`: from the kept ranking `state` and the change marks
    `changed_after` (purchase id, refund id) when both are given and usable, rescoring only the
    buyers whose scores can move (`reports.rescore`); otherwise every buyer is ranked again
    (`scores_store`). Returns (the new state, "incremental" or "full: <why>")."""
    why = "full refresh"
    if changed_after is not None:
        result = _scores_carried(
            merchant=merchant,
            today=today,
            state=state,
            purchases_after=changed_after[0],
            refunds_after=changed_after[1],
            params=lambda day: day_params(merchant, day),
        )
        if not isinstance(result, str):
            return result[0], "incremental"
        why = result
    scores_store(merchant=merchant, today=today)
    return rescore.state_build(SCORES, merchant=merchant, today=today), f"full: {why}"


def stored_summary_rows(*, merchant: Merchant) -> dict:
    """{segment: (clients, revenue, avg r, avg f, avg m)} from the stored scores."""
    sql = (
        "SELECT segment, COUNT(*), COALESCE(SUM(total_spent), 0), AVG(r), AVG(f), AVG(m) "
        f"FROM {RfmScore._meta.db_table} WHERE merchant_id = %s GROUP BY segment"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [merchant.pk])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _stored_as_of(merchant: Merchant) -> date | None:
    return (
        ReportSnapshot.objects.filter(merchant=merchant).values_list("rfm_as_of", flat=True).first()
    )


def segment_client_ids(
    *, merchant: Merchant, segment: str, today: date, live: bool = False
) -> list[int]:
    """Ids of the merchant's clients in a named segment (see the module table) as of the
    merchant-local `today`, ascending. Read from the stored scores when the nightly refresh
    stored them for that day (an index read), computed live otherwise or with `live`.
    Raises ValueError for an unknown segment name."""
    if segment not in SEGMENTS:
        raise ValueError(f"Unknown RFM segment {segment!r}; known: {', '.join(SEGMENTS)}")
    if segment != "no_purchase" and not live and _stored_as_of(merchant) == today:
        sql = (
            f"SELECT client_id FROM {RfmScore._meta.db_table} "
            "WHERE merchant_id = %s AND segment = %s ORDER BY client_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [merchant.pk, segment])
            return [row[0] for row in cursor.fetchall()]
    if segment == "no_purchase":
        return list(
            Client.objects.filter(merchant=merchant, joined_at__isnull=False, purchases_count=0)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    sql = f"SELECT id FROM ({_scored_sql()}) AS s WHERE segment = %s ORDER BY id"
    with read_connection().cursor() as cursor:
        cursor.execute(sql, [*day_params(merchant, today), segment])
        return [row[0] for row in cursor.fetchall()]
