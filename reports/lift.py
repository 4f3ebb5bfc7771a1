"""Before/after lift: the merchant's checks before the program's launch against the checks
since, for all clients, members and non-members.

Method. "After" is the launch date up to yesterday (at most 365 days); "before" is the same
number of days right before the launch, from the imported purchase history. For each period
and group: checks and revenue (amount − refunded), buyers, average check (revenue ÷ checks),
visit frequency (checks ÷ buyers), revenue per client (revenue ÷ buyers) and the 60/90-day
return rate (buyers whose first check in the period was followed by another within 60/90
days, among buyers whose first check left 60/90 days before the period's end). Members are
clients who joined the program by the end of the after period; non-members the rest (checks
without a client count for all only).

Caveat (shown with the figures): there is no control group, so the lift also holds whatever
else changed — seasonality (the periods are different months), prices, marketing, the
shop's growth; members select themselves (the most loyal join first). Read it as a
before/after comparison, not as the program's causal effect."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import F

from loyalty.models import Purchase
from onboarding.models import Merchant
from onboarding.money import HUNDRED, q

from .metrics import snapshot_for
from .replica import read_connection

MAX_DAYS = 365
RETURN_WINDOWS = (60, 90)
GROUPS = ("all", "members", "non_members")


def lift_periods(merchant: Merchant, today: date | None = None):
    """((before start, before end), (after start, after end)) as local days, inclusive, or
    None before the launch or without a launch date."""
    today = today or merchant.local_today()
    launch = merchant.launch_date
    if launch is None or launch >= today:
        return None
    after_end = min(today - timedelta(days=1), launch + timedelta(days=MAX_DAYS - 1))
    days = (after_end - launch).days + 1
    return (launch - timedelta(days=days), launch - timedelta(days=1)), (launch, after_end)


class _Tally:
    __slots__ = ("checks", "revenue", "client_revenue", "clients")

    def __init__(self):
        self.checks = 0
        self.revenue = self.client_revenue = Decimal(0)
        self.clients = defaultdict(list)  # client id -> days of their checks

    def totals(self, end: date) -> dict:
        """The sums `_figures` reads, as the SQL path returns them."""
        totals = {
            "checks": self.checks,
            "revenue": self.revenue,
            "buyers": len(self.clients),
            "client_checks": sum(len(days) for days in self.clients.values()),
            "client_revenue": self.client_revenue,
        }
        for window in RETURN_WINDOWS:
            eligible = returned = 0
            for days in self.clients.values():
                first = min(days)
                if first + timedelta(days=window) > end:
                    continue
                eligible += 1
                if any(first < d <= first + timedelta(days=window) for d in days):
                    returned += 1
            totals[f"eligible_{window}"] = eligible
            totals[f"returned_{window}"] = returned
        return totals


def _figures(totals: dict) -> dict:
    checks, revenue, buyers = totals["checks"], totals["revenue"], totals["buyers"]
    figures = {
        "checks": checks,
        "revenue": q(revenue),
        "buyers": buyers,
        "average_check": q(revenue / checks) if checks else None,
        "visits_per_client": None,
        "revenue_per_client": None,
    }
    if buyers:
        figures["visits_per_client"] = q(Decimal(totals["client_checks"]) / buyers)
        figures["revenue_per_client"] = q(totals["client_revenue"] / buyers)
    for window in RETURN_WINDOWS:
        eligible, returned = totals[f"eligible_{window}"], totals[f"returned_{window}"]
        figures[f"return_{window}_percent"] = (
            q(Decimal(returned) * HUNDRED / eligible) if eligible else None
        )
        figures[f"return_{window}_base"] = eligible
    return figures


def lift_from_json(data):
    """The lift stored as JSON (`reports.pointb.to_json`: money and percents as strings, days
    as ISO dates) read back: the same dict, Decimals and dates again."""

    def load(value, key=""):
        if isinstance(value, dict):
            return {k: load(item, k) for k, item in value.items()}
        if isinstance(value, str):
            return date.fromisoformat(value) if key in ("start", "end") else Decimal(value)
        return value

    return load(data)


def stored_lift(merchant: Merchant, today: date):
    """The lift the nightly refresh stored (a large merchant's snapshot) when it answers for
    `today`, or `MISSING`: reading every check since twice the launch's distance is the one
    part of the dashboard that grows with the history. It answers when it was computed for
    `today`, or for the same periods in the same time zone — a year after the launch they
    stop moving, so the page opened before the night's refresh (or after one that failed)
    shows the last refresh's figures, as every other figure of the snapshot does."""
    snapshot = snapshot_for(merchant)
    stored = (snapshot.lift or {}) if snapshot is not None else {}
    if not stored or stored.get("value") is None:
        return MISSING
    if stored.get("day") != today.isoformat() and not _for_periods(
        stored, zone=merchant.time_zone, periods=lift_periods(merchant, today)
    ):
        return MISSING
    return lift_from_json(stored["value"])


def _for_periods(stored: dict, *, zone: str, periods) -> bool:
    """Whether a stored lift was computed for these periods in this time zone."""
    if periods is None:
        return False
    value = stored["value"]
    (b_start, b_end), (a_start, a_end) = periods
    return (
        stored.get("zone") == zone
        and value.get("before") == {"start": b_start.isoformat(), "end": b_end.isoformat()}
        and value.get("after") == {"start": a_start.isoformat(), "end": a_end.isoformat()}
    )


MISSING = object()


def kept_lift(stored: dict | None, *, zone: str, periods, changed_days) -> dict | None:
    """The lift a snapshot stored (`{"day", "zone", "value"}`, JSON) when it still holds for a
    refresh whose changed days (the rollup's marks: purchases recorded, back-dated or refunded
    since the last refresh, and the new days) are `changed_days`: the same periods, the same
    time zone and no changed day inside them. A year after the launch the periods stop
    moving, so a night's refresh reads none of their checks. Else None (compute it). What no
    mark records — a deleted purchase, one moved to another client, a member's changed join
    date — is picked up by the next full refresh, as for the rollup."""
    if not stored or stored.get("value") is None or periods is None:
        return None
    (b_start, _), (_, a_end) = periods
    if not _for_periods(stored, zone=zone, periods=periods) or any(
        b_start <= day <= a_end for day in changed_days
    ):
        return None
    return stored["value"]


def lift(*, merchant: Merchant, today: date | None = None, live: bool = False) -> dict | None:
    """Before/after figures by group with the change in %, or None when not launched: the
    snapshot's figures of the day for a large merchant, else one streamed query over both
    periods (`live` always computes)."""
    today = today or merchant.local_today()
    if not live:
        stored = stored_lift(merchant, today)
        if stored is not MISSING:
            return stored
    periods = lift_periods(merchant, today)
    if periods is None:
        return None
    (b_start, b_end), (a_start, a_end) = periods
    totals = lift_totals(merchant, periods)
    result = {
        "before": {"start": b_start, "end": b_end},
        "after": {"start": a_start, "end": a_end},
        "days": (a_end - a_start).days + 1,
        "groups": {},
    }
    for group in GROUPS:
        before = _figures(totals[("before", group)])
        after = _figures(totals[("after", group)])
        result["groups"][group] = {
            "before": before,
            "after": after,
            "change_percent": {
                key: _change(before[key], after[key]) for key in before if not key.endswith("_base")
            },
        }
    return result


def lift_totals(merchant: Merchant, periods, *, in_sql: bool | None = None) -> dict:
    """{(period, group): sums} over both periods: aggregated by PostgreSQL (one statement, the
    checks never leave the server), else streamed through Python (SQLite). `in_sql` forces a
    path (tests compare both on the same checks)."""
    (b_start, b_end), (a_start, a_end) = periods
    zone = merchant.tzinfo
    since = datetime.combine(b_start, time.min, tzinfo=zone)
    joined_by = datetime.combine(a_end + timedelta(days=1), time.min, tzinfo=zone)
    connection = read_connection()
    if in_sql is None:
        in_sql = connection.vendor == "postgresql"
    if in_sql:
        return _totals_sql(connection, merchant, since, joined_by, periods)
    return _totals_streamed(merchant, since, joined_by, periods)


def _totals_streamed(merchant: Merchant, since, joined_by, periods) -> dict:
    (_b_start, b_end), (a_start, a_end) = periods
    zone = merchant.tzinfo
    rows = (
        Purchase.objects.filter(
            merchant=merchant, occurred_at__gte=since, occurred_at__lt=joined_by
        )
        .annotate(net=F("amount") - F("refunded_amount"))
        .values_list("client_id", "occurred_at", "net", "client__joined_at")
    )
    tallies = {(p, g): _Tally() for p in ("before", "after") for g in GROUPS}
    for cid, at, net, joined in rows.iterator(chunk_size=20000):
        if net <= 0:
            continue  # a fully refunded check is not a check
        day = at.astimezone(zone).date()
        period = "after" if day >= a_start else "before"
        groups = ["all"]
        if cid is not None:
            groups.append("members" if joined is not None and joined < joined_by else "non_members")
        for group in groups:
            tally = tallies[(period, group)]
            tally.checks += 1
            tally.revenue += net
            if cid is not None:
                tally.clients[cid].append(day)
                tally.client_revenue += net
    return {
        (period, group): tally.totals(a_end if period == "after" else b_end)
        for (period, group), tally in tallies.items()
    }


# One row per (period, group) of clients, plus the checks without a client per period. The
# local day is the merchant's (AT TIME ZONE); a buyer returned within W days when their next
# day with a check after the first one in the period is at most W days later. One sort of the
# buyers' checks (the window) gives both; the join to the clients is per buyer, not per check.
_LIFT_SQL = """
WITH checks AS MATERIALIZED (
    SELECT client_id, day, day >= %(after_start)s AS after, net
    FROM (
        SELECT p.client_id, (p.occurred_at AT TIME ZONE %(zone)s)::date AS day,
               p.amount - p.refunded_amount AS net
        FROM loyalty_purchase p
        WHERE p.merchant_id = %(merchant)s
          AND p.occurred_at >= %(since)s AND p.occurred_at < %(joined_by)s
          AND p.amount - p.refunded_amount > 0
    ) s
),
ranked AS (
    SELECT after, client_id, day, net, min(day) OVER (PARTITION BY after, client_id) AS first
    FROM checks WHERE client_id IS NOT NULL
),
buyers AS (
    SELECT after, client_id, count(*) AS n, sum(net) AS revenue, min(first) AS first,
           min(day) FILTER (WHERE day > first) AS next
    FROM ranked GROUP BY after, client_id
)
SELECT b.after, coalesce(c.joined_at < %(joined_by)s, false), count(*), sum(b.n)::bigint, sum(b.revenue),
       count(*) FILTER (WHERE b.first + 60 <= CASE WHEN b.after THEN %(a_end)s ELSE %(b_end)s END),
       count(*) FILTER (WHERE b.first + 60 <= CASE WHEN b.after THEN %(a_end)s ELSE %(b_end)s END
                          AND b.next <= b.first + 60),
       count(*) FILTER (WHERE b.first + 90 <= CASE WHEN b.after THEN %(a_end)s ELSE %(b_end)s END),
       count(*) FILTER (WHERE b.first + 90 <= CASE WHEN b.after THEN %(a_end)s ELSE %(b_end)s END
                          AND b.next <= b.first + 90)
FROM buyers b LEFT JOIN crm_client c ON c.id = b.client_id
GROUP BY 1, 2
UNION ALL
SELECT after, NULL, 0, count(*), sum(net), 0, 0, 0, 0
FROM checks WHERE client_id IS NULL GROUP BY after
"""


def _totals_sql(connection, merchant: Merchant, since, joined_by, periods) -> dict:
    (_b_start, b_end), (a_start, a_end) = periods
    assert RETURN_WINDOWS == (60, 90)  # the statement's two windows
    params = {
        "zone": merchant.tzinfo.key,
        "after_start": a_start,
        "joined_by": joined_by,
        "merchant": merchant.pk,
        "since": since,
        "a_end": a_end,
        "b_end": b_end,
    }
    empty = {
        "checks": 0,
        "revenue": Decimal(0),
        "buyers": 0,
        "client_checks": 0,
        "client_revenue": Decimal(0),
        **{f"{kind}_{w}": 0 for kind in ("eligible", "returned") for w in RETURN_WINDOWS},
    }
    totals = {(p, g): dict(empty) for p in ("before", "after") for g in GROUPS}
    with connection.cursor() as cursor:
        cursor.execute(_LIFT_SQL, params)
        rows = cursor.fetchall()
    for after, member, buyers, checks, revenue, e60, r60, e90, r90 in rows:
        period = "after" if after else "before"
        groups = ["all"]
        if member is not None:
            groups.append("members" if member else "non_members")
        for group in groups:
            t = totals[(period, group)]
            t["checks"] += checks
            t["revenue"] += revenue
            if member is None:
                continue
            t["buyers"] += buyers
            t["client_checks"] += checks
            t["client_revenue"] += revenue
            for key, value in (
                ("eligible_60", e60),
                ("returned_60", r60),
                ("eligible_90", e90),
                ("returned_90", r90),
            ):
                t[key] += value
    return totals


def _change(before, after) -> Decimal | None:
    if before in (None, 0) or after is None:
        return None
    return q((Decimal(after) - Decimal(before)) * HUNDRED / Decimal(before))


def lift_context(*, merchant: Merchant, today: date | None = None) -> dict:
    """What `reports/_lift.html` needs: the figures, the groups and rows with their labels."""
    from django.utils.translation import gettext as _

    return {
        "lift": lift(merchant=merchant, today=today),
        "currency": merchant.currency,
        "lift_groups": [
            ("all", _("All checks")),
            ("members", _("Members")),
            ("non_members", _("Non-members")),
        ],
        "lift_rows": [
            ("average_check", _("Average check"), "money"),
            ("visits_per_client", _("Visits per client"), "number"),
            ("return_60_percent", _("Return within 60 days"), "pct"),
            ("return_90_percent", _("Return within 90 days"), "pct"),
            ("revenue_per_client", _("Revenue per client"), "money"),
            ("buyers", _("Buying clients"), "number"),
            ("checks", _("Checks"), "number"),
        ],
    }
