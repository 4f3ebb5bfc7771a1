"""Buyers, regulars and buyers per source of the default period, carried by the nightly refresh
as differences of the few buyers whose figures can have changed.

Both figures fold the period's per-client rows (`summaries.per_client_sql`: a buyer's summary
when its first and last kept purchase lie in the window, its purchases in the window folded
directly otherwise). They are kept as totals per (channel, source detail, joined in the period):
[buyers, regulars (≥ 2 purchases), purchases, regulars' purchases, revenue, regulars' revenue];
buyers and regulars are the sum of every group, the bought part of buyers per source the groups
of members who joined in the period (`client_figures.source_buyers`). A full count groups every
per-client row once (one scan of the summaries for both figures). A carried night (`keep`, then
`refresh`) takes away what the snapshot counted for the buyers that can have changed and adds
them as they now are; the others' rows are the same summaries, inside the same window:

* the night's changed buyers (the summaries folded again: the purchase and refund marks) and
  the clients whose channel keys or join time changed (`members.members_refresh`) — their rows
  are read before the refresh rewrites them;
* the buyers whose row the last count did not take as it is — a purchase after the window's end
  or before its start — kept with their counted figures in the state (`outside`);
* the buyers who joined after the window's end (`later`), who join the period as it moves.

The window's start is the launch date; its end moves forward with the day. The totals are
counted in full again when there is no kept state, the start or the time zone moved, the
summaries were folded again from every purchase, a changed client was deleted (its summary
went with it), or more than `OUTSIDE_MAX` buyers would have to be kept outside.
"""

import time
from datetime import datetime
from decimal import Decimal

from django.db import connection

from crm.models import Client
from loyalty.ledger.params import ids_in
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .aggregates import Period
from .models import ClientPurchases
from .summaries import per_client_sql

CHANGED = "reports_buyers_changed"
OUTSIDE = "reports_buyers_outside"
OUTSIDE_MAX = 5000
Key = tuple[str, str, int]  # channel, source detail, joined in the period (1 or 0)


def _figures_sql(rows: str, flag: str) -> str:
    """One row per group of the per-client rows `rows` (client_id, n, rev, channel,
    source_detail, joined_at) with its six figures."""
    return (
        f"SELECT b.channel, b.source_detail, {flag}, COUNT(*), "
        "COALESCE(SUM(CASE WHEN b.n >= 2 THEN 1 ELSE 0 END), 0), COALESCE(SUM(b.n), 0), "
        "COALESCE(SUM(CASE WHEN b.n >= 2 THEN b.n ELSE 0 END), 0), COALESCE(SUM(b.rev), 0), "
        f"COALESCE(SUM(CASE WHEN b.n >= 2 THEN b.rev ELSE 0 END), 0) FROM ({rows}) AS b "
        "GROUP BY 1, 2, 3"
    )


def _grouped(sql: str, params: list, start: datetime | None, end: datetime) -> dict[Key, list]:
    """{(channel, detail, joined): [buyers, regulars, purchases, regulars' purchases, revenue,
    regulars' revenue]} of the per-client rows `sql`, "joined" as of the window [start, end)."""
    adapt = connection.ops.adapt_datetimefield_value
    flag, flag_params = "b.joined_at < %s", [adapt(end)]
    if start is not None:
        flag, flag_params = f"{flag} AND b.joined_at >= %s", [*flag_params, adapt(start)]
    with connection.cursor() as cursor:  # the refresh's own summaries: on the primary
        cursor.execute(
            _figures_sql(sql, f"CASE WHEN {flag} THEN 1 ELSE 0 END"), [*flag_params, *params]
        )
        return {
            (channel, detail or "", int(joined)): [
                int(n),
                int(regular),
                int(bought),
                int(regular_bought),
                q(Decimal(str(rev))),
                q(Decimal(str(regular_rev))),
            ]
            for channel, detail, joined, n, regular, bought, regular_bought, rev, regular_rev in (
                cursor.fetchall()
            )
        }


def _add(into: dict[Key, list], part: dict[Key, list], sign: int = 1) -> dict[Key, list]:
    for key, row in part.items():
        kept = into.setdefault(key, [0, 0, 0, 0, ZERO, ZERO])
        for at, value in enumerate(row):
            kept[at] += sign * value
    return into


def _encode(totals: dict[Key, list]) -> list:
    return sorted(
        [*key, *row[:4], str(row[4]), str(row[5])] for key, row in totals.items() if row[0]
    )


def _decode(rows: list) -> dict[Key, list]:
    return {
        (channel, detail, joined): [*counts, Decimal(rev), Decimal(regular_rev)]
        for channel, detail, joined, *counts, rev, regular_rev in rows
    }


def _bounds(state: dict) -> tuple[datetime | None, datetime]:
    start = state["start"]
    return (datetime.fromisoformat(start) if start else None), datetime.fromisoformat(state["end"])


def keep(
    *,
    merchant: Merchant,
    period: Period,
    state: dict | None,
    moved: list[int],
    changed: str | None,
    timings: dict,
) -> dict[Key, list] | None:
    """Before the summaries of the night's changed buyers (`changed`: the table of their ids,
    taken from the marks) are folded again and the moved clients' keys (`moved`) taken again:
    the kept totals of `state` less what they counted for every client that can change, whose
    ids go to the temporary table `CHANGED`; None when the totals are to be counted in full.
    Writes the mode ("carried", or why not) and the seconds taken to `timings`."""
    started = time.monotonic()
    start, end = period.bounds(merchant)
    why = None
    if not state or state.get("outside") is None:
        why = "no kept state" if not state else "too many buyers outside the window"
    elif changed is None:
        why = "summaries not carried"
    else:
        kept_start, kept_end = _bounds(state)
        if kept_start != start or kept_end > end:
            why = "window moved"
        elif Client.objects.filter(pk__in=ids_in(moved)).count() != len(set(moved)):
            why = "a changed client was deleted"
    timings["buyers_mode"] = why or "carried"
    if why is not None:
        return None
    ids = sorted({*moved, *state["outside"]["ids"], *state["later"]})
    more, more_params = "", []
    if ids:  # (one array parameter on PostgreSQL)
        more, more_params = (
            Client.objects.filter(merchant=merchant, pk__in=ids_in(ids))
            .values("id")
            .query.sql_with_params()
        )
        more = f" UNION {more}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CHANGED}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {CHANGED} AS SELECT client_id FROM {changed}{more}",
            more_params,
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {CHANGED}")
    adapt = connection.ops.adapt_datetimefield_value
    # what the kept count took for them: their summaries as they are (not yet rewritten) when
    # inside the kept window — the others were counted outside, with the figures kept for them
    inside, params = "s.last_at < %s", [adapt(kept_end)]
    if start is not None:
        inside, params = f"{inside} AND s.first_at >= %s", [*params, adapt(start)]
    counted = _grouped(
        "SELECT s.client_id, s.purchases AS n, s.revenue AS rev, s.channel, s.source_detail, "
        f"s.joined_at FROM {ClientPurchases._meta.db_table} s WHERE s.merchant_id = %s AND {inside} "
        f"AND s.client_id IN (SELECT client_id FROM {CHANGED})",
        [merchant.pk, *params],
        start,
        kept_end,
    )
    totals = _add(_decode(state["totals"]), counted, -1)
    timings["buyers_keep"] = round(time.monotonic() - started, 3)
    return _add(totals, _decode(state["outside"]["totals"]), -1)


def refresh(
    merchant: Merchant, period: Period, *, kept: dict[Key, list] | None
) -> tuple[dict[Key, list], dict]:
    """The totals of `period` (its end the refresh's today) and the state to keep: `kept`'s
    with the clients of `CHANGED` added as they now are, or every per-client row counted."""
    start, end = period.bounds(merchant)
    if kept is not None:
        sql, params = per_client_sql(
            merchant, start, end, keys=True, clients=f"SELECT client_id FROM {CHANGED}"
        )
        totals = _add(kept, _grouped(sql, params, start, end))
    else:
        totals = _grouped(*per_client_sql(merchant, start, end, keys=True), start, end)
    totals = {key: row for key, row in totals.items() if row[0]}
    return totals, {**_state(merchant, start, end), "totals": _encode(totals)}


def _state(merchant: Merchant, start: datetime | None, end: datetime) -> dict:
    """The state after this count: the buyers counted from their purchases rather than their
    summaries (a purchase on or after `end`, or before `start`) with their figures, and the
    buyers who joined on or after `end`."""
    table, pk = ClientPurchases._meta.db_table, merchant.pk
    adapt = connection.ops.adapt_datetimefield_value
    # through the indexes on the summaries' last and first purchase and the clients' join time
    sql = f"SELECT client_id FROM {table} WHERE merchant_id = %s AND last_at >= %s"
    params = [pk, adapt(end)]
    if start is not None:
        sql += f" UNION SELECT client_id FROM {table} WHERE merchant_id = %s AND first_at < %s"
        params += [pk, adapt(start)]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {OUTSIDE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {OUTSIDE} AS {sql}", params)
        cursor.execute(f"SELECT client_id FROM {OUTSIDE} ORDER BY client_id")
        outside = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"SELECT s.client_id FROM {Client._meta.db_table} k JOIN {table} s "
            "ON s.client_id = k.id WHERE k.merchant_id = %s AND k.joined_at >= %s "
            "ORDER BY s.client_id",
            [pk, adapt(end)],
        )
        later = [row[0] for row in cursor.fetchall()]
    state = {"start": start.isoformat() if start else None, "end": end.isoformat()}
    if len(outside) + len(later) > OUTSIDE_MAX:
        return {**state, "outside": None, "later": []}
    counted = {}
    if outside:
        counted = _grouped(
            *per_client_sql(
                merchant, start, end, keys=True, clients=f"SELECT client_id FROM {OUTSIDE}"
            ),
            start,
            end,
        )
    return {**state, "outside": {"ids": outside, "totals": _encode(counted)}, "later": later}


def buyer_figures(totals: dict[Key, list]) -> dict:
    """`client_figures.buyer_stats`'s figures from the totals."""
    every = [0, 0, 0, 0, ZERO, ZERO]
    for row in totals.values():
        every = [a + b for a, b in zip(every, row, strict=True)]
    n, regular, bought, regular_bought, rev, regular_rev = every
    return {
        "buyers": n,
        "regular_buyers": regular,
        "buyer_purchases": bought,
        "regular_purchases": regular_bought,
        "buyer_revenue": q(rev),
        "regular_revenue": q(regular_rev),
    }


def bought_by_source(totals: dict[Key, list]) -> list[dict]:
    """`client_figures.source_buyers`'s bought rows (members who joined in the period) from the
    totals."""
    return [
        {"channel": channel, "detail": detail, "buyers": row[0], "revenue": row[4]}
        for (channel, detail, joined), row in totals.items()
        if joined and row[0]
    ]
