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

The nightly refresh stores every buyer's scores (`RfmScore`) and scores the buyers' summaries
(`ClientPurchases`, whose count per segment is the RFM history's current month); after the
first night both are carried from night to night by `reports.rescore` instead of ranked again.

Over 450 lines: one idea, the RFM scores of one set of rules — live, stored, carried from night
to night, and month by month for the history; their SQL shares those rules, so it stays together.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection

from crm.models import Client, RfmSegment
from loyalty.models import Purchase
from onboarding.models import Merchant
from onboarding.money import q

from . import rescore, summaries
from .models import ClientPurchases, ReportSnapshot, RfmScore
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


def _params(merchant: Merchant, today: date) -> list:
    tz = merchant.tzinfo
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    new_since = datetime.combine(today - timedelta(days=NEW_CLIENT_DAYS - 1), time.min, tzinfo=tz)
    adapt = connection.ops.adapt_datetimefield_value
    return [merchant.pk, adapt(end), adapt(new_since)]


def client_scores(*, merchant: Merchant, today: date) -> dict[int, dict]:
    """{client id: {"r", "f", "m", "segment"}} for every buyer (tests and small exports)."""
    with read_connection().cursor() as cursor:
        cursor.execute(_scored_sql(), _params(merchant, today))
        return {
            row[0]: {"r": row[2], "f": row[3], "m": row[4], "segment": row[5]}
            for row in cursor.fetchall()
        }


def segment_summary(*, merchant: Merchant, today: date, stored: bool = False) -> list[dict]:
    """Each named segment with its clients, revenue (total spend) and average scores,
    in the order of `SEGMENTS`; segments without clients are listed with zeros. `stored`:
    from the scores `scores_store` has just written for `today` instead of computing them."""
    if stored:
        found = stored_summary_rows(merchant=merchant)
    else:
        sql = (
            "SELECT segment, COUNT(*), COALESCE(SUM(total_spent), 0), AVG(r), AVG(f), AVG(m) "
            f"FROM ({_scored_sql()}) AS s GROUP BY segment"
        )
        with read_connection().cursor() as cursor:
            cursor.execute(sql, _params(merchant, today))
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    found["no_purchase"] = (
        Client.objects.filter(
            merchant=merchant, joined_at__isnull=False, purchases_count=0
        ).count(),
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
    pk, end, new_since = _params(merchant, today)
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
        result = rescore.scores_update(
            merchant=merchant,
            today=today,
            state=state,
            purchases_after=changed_after[0],
            refunds_after=changed_after[1],
            params=lambda day: _params(merchant, day),
        )
        if not isinstance(result, str):
            return result[0], "incremental"
        why = result
    scores_store(merchant=merchant, today=today)
    return rescore.state_build(rescore.SCORES, merchant=merchant, today=today), f"full: {why}"


# the changed clients kept by `summary_scores_keep` (a temporary table)
SUMMARIES_CHANGED = rescore.SUMMARIES.changed


def summary_scores_keep(
    *, merchant: Merchant, today: date, state: dict | None, changed_after: tuple[int, int]
) -> str | None:
    """Before the buyers' summaries of the changed clients are folded again: keep what
    `summary_scores_refresh` needs to carry the summaries' scores from `state` (their old
    figures). Returns None, or why they will be scored again instead."""
    reason = rescore.unusable(rescore.SUMMARIES, state, merchant, today)
    if reason is None:
        sql, params = summaries.changed_clients_sql(
            merchant=merchant, purchases_after=changed_after[0], refunds_after=changed_after[1]
        )
        rescore.changed_keep(rescore.SUMMARIES, merchant=merchant, clients_sql=sql, params=params)
    return reason


def summary_scores_refresh(
    *, merchant: Merchant, today: date, state: dict | None, why: str | None
) -> tuple[dict, str]:
    """Score the buyers' summaries (`ClientPurchases`) as of `today` once they are folded:
    carried from `state` when `summary_scores_keep` kept it (`why` None), else every summary
    ranked again. Returns (the new state, "incremental" or "full: <why>")."""
    _pk, _end, new_since = _params(merchant, today)
    if why is None:
        _pk, _end, old_new_since = _params(merchant, date.fromisoformat(state["as_of"]))
        result = rescore.rescore(
            rescore.SUMMARIES,
            merchant=merchant,
            today=today,
            state=state,
            new_since=new_since,
            old_new_since=old_new_since,
        )
        if not isinstance(result, str):
            return result[0], "incremental"
        why = result
    table, spec = ClientPurchases._meta.db_table, rescore.SUMMARIES
    segment = rescore.segment_case(f="f", r="r", m="m", first="first_at", new_since="%s")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET r = s.r, m = s.m, segment = s.segment FROM ("
            f"SELECT client_id, r, m, {segment} AS segment FROM ("
            f"SELECT client_id, first_at, {spec.freq} AS f, {_score('cd_r')} AS r, "
            f"{_score('cd_m')} AS m FROM (SELECT client_id, first_at, purchases, "
            "CUME_DIST() OVER (ORDER BY last_at) AS cd_r, "
            f"CUME_DIST() OVER (ORDER BY revenue) AS cd_m FROM {table} WHERE merchant_id = %s"
            ") AS b) AS sc) AS s "
            f"WHERE {table}.client_id = s.client_id AND ({table}.r IS NULL "
            f"OR {table}.r <> s.r OR {table}.m <> s.m OR {table}.segment <> s.segment)",
            [new_since, merchant.pk],
        )
    state = rescore.state_build(spec, merchant=merchant, today=today)
    return state, f"full: {why or 'full refresh'}"


def summary_segment_counts(*, merchant: Merchant, today: date) -> dict[str, int] | None:
    """The RFM history's entry as of `today` from the summaries' scores (`summary_scores_refresh`
    for `today`): their count per segment — the same ranking as `monthly_history`'s, as long as
    no kept card purchase lies after `today` (None then: it is computed)."""
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
    later = Purchase.objects.filter(
        merchant=merchant, client__isnull=False, occurred_at__gte=end
    ).exists()
    if later:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT segment, COUNT(*) FROM {ClientPurchases._meta.db_table} "
            "WHERE merchant_id = %s GROUP BY segment",
            [merchant.pk],
        )
        return {segment: int(n) for segment, n in cursor.fetchall()}


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
        cursor.execute(sql, [*_params(merchant, today), segment])
        return [row[0] for row in cursor.fetchall()]


HISTORY_MONTHS = 24


def _cast() -> str:
    return "CAST(%s AS TIMESTAMP WITH TIME ZONE)" if connection.vendor == "postgresql" else "%s"


def _history_sql(month_count: int) -> str:
    """One statement for every month: a month-end table joined to the purchases before
    each end, folded per (month, client), ranked within the month, scored and counted."""
    cast = _cast()
    months = " UNION ALL ".join(
        f"SELECT {n} AS idx, {cast} AS end_at, {cast} AS new_since" for n in range(month_count)
    )
    return _history_scored(f"""
        months AS ({months}),
        per_client AS (
            SELECT m.idx, m.new_since, p.client_id,
                   SUM(p.amount - p.refunded_amount) AS total_spent,
                   COUNT(*) AS purchases_count, MIN(p.occurred_at) AS first_purchase_at,
                   MAX(p.occurred_at) AS last_purchase_at
            FROM {Purchase._meta.db_table} p JOIN months m ON p.occurred_at < m.end_at
            WHERE p.merchant_id = %s AND p.client_id IS NOT NULL
              AND (p.refunded_amount < p.amount OR p.amount <= 0)
            GROUP BY m.idx, m.new_since, p.client_id
        )""")


def _month_from_summaries_sql(per_client: str) -> str:
    """One month's statement from per-client rows (`reports.summaries.per_client_sql`)."""
    return _history_scored(f"""
        per_client AS (
            SELECT 0 AS idx, {_cast()} AS new_since, w.client_id, w.rev AS total_spent,
                   w.n AS purchases_count, w.first_at AS first_purchase_at,
                   w.last_at AS last_purchase_at
            FROM ({per_client}) AS w
        )""")


def _history_scored(per_client: str) -> str:
    """The statement after its `per_client` CTE (idx, new_since, client's figures): ranked
    within each month, scored and counted per segment."""
    return f"""
        WITH {per_client}, base AS (
            SELECT idx, new_since, purchases_count, first_purchase_at,
                   CUME_DIST() OVER (PARTITION BY idx ORDER BY last_purchase_at) AS cd_r,
                   CUME_DIST() OVER (PARTITION BY idx ORDER BY total_spent) AS cd_m
            FROM per_client
        ), scored AS (
            SELECT idx, new_since, first_purchase_at,
                   {_score("cd_r")} AS r,
                   CASE WHEN purchases_count >= 5 THEN 5 ELSE purchases_count END AS f,
                   {_score("cd_m")} AS m
            FROM base
        )
        SELECT idx, {
        rescore.segment_case(f="f", r="r", m="m", first="first_purchase_at", new_since="new_since")
    } AS segment, COUNT(*)
        FROM scored GROUP BY idx, segment
    """


def monthly_history(
    *,
    merchant: Merchant,
    start: date | None,
    end: date,
    months: int = HISTORY_MONTHS,
    known: list[dict] = (),
    unchanged_before: date | None = None,
    from_summaries: bool = False,
    current: dict[str, int] | None = None,
) -> list[dict]:
    """Segment counts at the end of each month from `start`'s month to `end`'s (the last
    month as of `end`), at most the last `months`: the same scores and rules as
    `segment_summary`, computed from the purchases before each month's end (so it holds
    for past months whatever happened since), in one set-based statement. Members without
    a purchase are not part of the history.

    `known` (an earlier result) and `unchanged_before` (no purchase on or after this day was
    recorded, back-dated or refunded since `known` was computed): months of `known` as of a
    day before it are taken as they are; only the others are computed. `from_summaries`: the
    others from the buyers' maintained summaries (`reports.summaries`), one month at a time,
    instead of every purchase before each month's end. `current`: the segment counts as of
    `end` when already known (`summary_segment_counts`), for the month ending on `end`."""
    if start is None:
        first = (
            Purchase.objects.filter(merchant=merchant, client__isnull=False)
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if first is None:
            return []
        start = first.astimezone(merchant.tzinfo).date()
    month = date(start.year, start.month, 1)
    ends = []
    while month <= end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        ends.append((month, min(following - timedelta(days=1), end)))
        month = following
    ends = ends[-months:]
    if not ends:
        return []
    reusable = {}
    if unchanged_before is not None:
        reusable = {
            (h["month"], h["as_of"]): h
            for h in known
            if h["as_of"] < unchanged_before and set(h["segments"]) == set(RFM_SEGMENTS)
        }
    todo = [
        (n, as_of)
        for n, (first_day, as_of) in enumerate(ends)
        if (first_day, as_of) not in reusable
    ]
    found: dict[int, dict] = {}
    if current is not None and todo and todo[-1][1] == end:
        found[todo[-1][0]] = dict(current)
        todo = todo[:-1]
    if todo and from_summaries:
        for n, as_of in todo:
            _pk, end_at, new_since = _params(merchant, as_of)
            end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
            sql, params = summaries.per_client_sql(merchant, None, end)
            # the refresh's own summaries: read on the primary
            with connection.cursor() as cursor:
                cursor.execute(_month_from_summaries_sql(sql), [new_since, *params])
                for _idx, segment, count in cursor.fetchall():
                    found.setdefault(n, {})[segment] = int(count)
    elif todo:
        params = []
        for _n, as_of in todo:
            _pk, end_at, new_since = _params(merchant, as_of)
            params += [end_at, new_since]
        with read_connection().cursor() as cursor:
            cursor.execute(_history_sql(len(todo)), [*params, merchant.pk])
            for idx, segment, count in cursor.fetchall():
                found.setdefault(todo[int(idx)][0], {})[segment] = int(count)
    out = []
    for n, (first_day, as_of) in enumerate(ends):
        if (first_day, as_of) in reusable:
            kept = reusable[(first_day, as_of)]
            out.append({**kept, "segments": dict(kept["segments"])})
            continue
        out.append(
            {
                "month": first_day,
                "as_of": as_of,
                "segments": {key: found.get(n, {}).get(key, 0) for key in RFM_SEGMENTS},
                "buyers": sum(found.get(n, {}).values()),
            }
        )
    return out
