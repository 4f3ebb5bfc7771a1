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


def _figures(tally: _Tally, end: date) -> dict:
    buyers = len(tally.clients)
    figures = {
        "checks": tally.checks,
        "revenue": q(tally.revenue),
        "buyers": buyers,
        "average_check": q(tally.revenue / tally.checks) if tally.checks else None,
        "visits_per_client": None,
        "revenue_per_client": None,
    }
    if buyers:
        client_checks = sum(len(days) for days in tally.clients.values())
        figures["visits_per_client"] = q(Decimal(client_checks) / buyers)
        figures["revenue_per_client"] = q(tally.client_revenue / buyers)
    for window in RETURN_WINDOWS:
        eligible = returned = 0
        for days in tally.clients.values():
            first = min(days)
            if first + timedelta(days=window) > end:
                continue
            eligible += 1
            if any(first < d <= first + timedelta(days=window) for d in days):
                returned += 1
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
    """The lift the nightly refresh stored for `today` (a large merchant's snapshot), or
    `MISSING` when there is none: reading every check since twice the launch's distance is the
    one part of the dashboard that grows with the history."""
    snapshot = snapshot_for(merchant)
    if snapshot is None or (snapshot.lift or {}).get("day") != today.isoformat():
        return MISSING
    return lift_from_json(snapshot.lift["value"])


MISSING = object()


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
    zone = merchant.tzinfo
    joined_by = datetime.combine(a_end + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        Purchase.objects.filter(
            merchant=merchant,
            occurred_at__gte=datetime.combine(b_start, time.min, tzinfo=zone),
            occurred_at__lt=joined_by,
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
    result = {
        "before": {"start": b_start, "end": b_end},
        "after": {"start": a_start, "end": a_end},
        "days": (a_end - a_start).days + 1,
        "groups": {},
    }
    for group in GROUPS:
        before = _figures(tallies[("before", group)], b_end)
        after = _figures(tallies[("after", group)], a_end)
        result["groups"][group] = {
            "before": before,
            "after": after,
            "change_percent": {
                key: _change(before[key], after[key]) for key in before if not key.endswith("_base")
            },
        }
    return result


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
