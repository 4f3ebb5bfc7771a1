"""The RFM history: each month's count of buyers per named segment as of the month's end, with
the scores and rules of `reports.rfm` — and the scores of the buyers' summaries (`ClientPurchases`)
that the nightly refresh keeps for it.

A month's entry ranks every buyer as of that month's end, from the purchases before it
(`monthly_history`, the live path) or from the buyers' maintained summaries (`reports.summaries`,
the refresh). The nightly refresh scores the summaries as of its day — ranked once, then carried
from night to night by `reports.rescore` — so the current month's entry is their count per
segment (`summary_segment_counts`); the months before are kept from the last snapshot unless a
purchase on or before their end was recorded or refunded since.
"""

import dataclasses
from datetime import date, datetime, time, timedelta

from django.db import connection

from loyalty.models import Purchase
from onboarding.models import Merchant

from . import rescore, summaries
from .models import ClientPurchases
from .ranked import SUMMARIES
from .replica import read_connection
from .rfm import RFM_SEGMENTS, day_params

_score = rescore.score_case

# the changed clients kept by `summary_scores_keep` (a temporary table)
SUMMARIES_CHANGED = SUMMARIES.changed


def summary_scores_keep(
    *, merchant: Merchant, today: date, state: dict | None, changed_after: tuple[int, int]
) -> str | None:
    """Before the buyers' summaries of the changed clients are folded again: keep what
    `summary_scores_refresh` needs to carry the summaries' scores from `state` (their old
    figures). Returns None, or why they will be scored again instead."""
    reason = rescore.unusable(SUMMARIES, state, merchant, today)
    if reason is None:
        sql, params = summaries.changed_clients_sql(
            merchant=merchant, purchases_after=changed_after[0], refunds_after=changed_after[1]
        )
        rescore.changed_keep(SUMMARIES, merchant=merchant, clients_sql=sql, params=params)
    return reason


def summary_scores_refresh(
    *, merchant: Merchant, today: date, state: dict | None, why: str | None
) -> tuple[dict, str]:
    """Score the buyers' summaries (`ClientPurchases`) as of `today` once they are folded:
    carried from `state` when `summary_scores_keep` kept it (`why` None), else every summary
    ranked again. Returns (the new state, "incremental" or "full: <why>")."""
    _pk, _end, new_since = day_params(merchant, today)
    if why is None:
        _pk, _end, old_new_since = day_params(merchant, date.fromisoformat(state["as_of"]))
        result = rescore.rescore(
            SUMMARIES,
            merchant=merchant,
            today=today,
            state=state,
            new_since=new_since,
            old_new_since=old_new_since,
        )
        if not isinstance(result, str):
            return result[0], "incremental"
        why = result
    table, spec = ClientPurchases._meta.db_table, SUMMARIES
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


def summary_segment_counts(
    *, merchant: Merchant, today: date, state: dict | None = None
) -> dict[str, int] | None:
    """The RFM history's entry as of `today` from the summaries' scores (`summary_scores_refresh`
    for `today`): their count per segment — the same ranking as `monthly_history`'s, as long as
    no kept card purchase lies after `today` (None then: it is computed). Read from the scores'
    `state` (its per-segment totals, `reports.rfm_counts`) when it has them."""
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
    later = Purchase.objects.filter(
        merchant=merchant, client__isnull=False, occurred_at__gte=end
    ).exists()
    if later:
        return None
    if state and "segments" in state:
        return {segment: row[0] for segment, row in state["segments"].items()}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT segment, COUNT(*) FROM {ClientPurchases._meta.db_table} "
            "WHERE merchant_id = %s GROUP BY segment",
            [merchant.pk],
        )
        return {segment: int(n) for segment, n in cursor.fetchall()}


# A month's end is carried back from the summaries' scores while the buyers who bought since
# then are at most this share of all buyers (their rows are read as of the month's end); past
# it, ranking every buyer again is the cheaper way.
CARRY_BACK_MAX_SHARE = 0.25


def carried_segment_counts(
    *, merchant: Merchant, as_of: date, state: dict
) -> dict[str, int] | None:
    """The RFM history's entry as of `as_of` (a month's last day) carried back from the buyers'
    summaries as they are scored now (`state`, from `summary_scores_refresh` for a later day),
    without ranking every buyer and without writing a row: the summaries of the buyers with a
    purchase on or after the month's end are read as they were before it (or not at all, for a
    first purchase since; `summaries.at_end_sql`) into a temporary table that `reports.rescore`
    reads in place of their rows (`Ranked.replaced`) as it moves the cut-offs and counts per
    segment, with their scores as of the month's end, the rows they crossed and those whose
    "new" status differs between the two days. None when too many buyers bought since
    (`CARRY_BACK_MAX_SHARE`) or the state cannot be carried: the caller ranks the month then."""
    if not state or not state.get("n") or "segments" not in state:
        return None
    if date.fromisoformat(state["as_of"]) < as_of:
        return None
    spec, pk = SUMMARIES, merchant.pk
    end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
    adapt = connection.ops.adapt_datetimefield_value
    since_sql = (
        f"SELECT DISTINCT client_id FROM {Purchase._meta.db_table} "
        "WHERE merchant_id = %s AND occurred_at >= %s AND client_id IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({since_sql}) AS c", [pk, adapt(end)])
        if cursor.fetchone()[0] > state["n"] * CARRY_BACK_MAX_SHARE:
            return None
    _pk, _end, new_since = day_params(merchant, as_of)
    _pk, _end, now_new_since = day_params(merchant, date.fromisoformat(state["as_of"]))
    rescore.changed_keep(spec, merchant=merchant, clients_sql=since_sql, params=[pk, adapt(end)])
    then = dataclasses.replace(spec, replaced=f"{spec.prefix}_then")
    clients = f"SELECT client_id FROM {spec.changed}"
    sql, params = summaries.at_end_sql(merchant, clients, end)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {then.replaced}")
        cursor.execute(f"CREATE TEMPORARY TABLE {then.replaced} AS {sql}", params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {then.replaced}")
    try:
        carried = rescore.rescore(
            then,
            merchant=merchant,
            today=as_of,
            state=state,
            new_since=new_since,
            old_new_since=now_new_since,
            write=False,  # only the counts: the replaced rows are not the table's
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {then.replaced}")
    if isinstance(carried, str):
        return None
    return {segment: row[0] for segment, row in carried[0]["segments"].items()}


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
    carried_from: dict | None = None,
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
    `end` when already known (`summary_segment_counts`), for the month ending on `end`.
    `carried_from`: the summaries' ranking state as they are scored now (`summary_scores_refresh`
    for `end`): a month is then carried back from it when few buyers bought since its end
    (`carried_segment_counts`), and ranked from the summaries otherwise."""
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
            if carried_from is not None:
                counts = carried_segment_counts(merchant=merchant, as_of=as_of, state=carried_from)
                if counts is not None:
                    found[n] = counts
                    continue
            _pk, end_at, new_since = day_params(merchant, as_of)
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
            _pk, end_at, new_since = day_params(merchant, as_of)
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
