"""Set-based aggregates behind the Point-B metrics, from two interchangeable sources.

* live — straight from `loyalty.Purchase` / `crm.Client` (always exact; used for small
  merchants, for days after the rollup and whenever no snapshot exists);
* rollup — from `DailySales` / `DailyMembers` (large merchants).

Both return the same shapes, and tests assert they agree.

Definitions shared by every figure:
* a purchase's revenue is `amount − refunded_amount` (the check total, points included);
* a fully refunded purchase is not counted as a purchase and its points are not redeemed;
* a card purchase has a client; the client's channel is "referral" when it has a referrer,
  otherwise its source (see `reports.models.Channel`).

The figures read from the clients alone or only live (contacts, tiers, referrals, gift returns,
buyers) are `reports.client_figures`; what a page keeps between views, `reports.intraday`."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from crm.models import Client
from loyalty.models import Purchase
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from . import intraday
from .intraday import Night
from .models import DailyMembers, DailySales

SALES_FIELDS = [
    "card_purchases",
    "card_revenue",
    "by_phone",
    "points_redeemed",
    "cert_purchases",
    "cert_revenue",
    "nocard_purchases",
    "nocard_revenue",
]
COUNT_FIELDS = {"card_purchases", "by_phone", "cert_purchases", "nocard_purchases"}


@dataclass(frozen=True)
class Period:
    """Local dates, both inclusive; `start` None = from the very first record."""

    start: date | None
    end: date
    branch_id: int | None = None

    def bounds(self, merchant: Merchant) -> tuple[datetime | None, datetime]:
        tz = merchant.tzinfo
        start = datetime.combine(self.start, time.min, tzinfo=tz) if self.start else None
        return start, datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)


def empty_sales() -> dict:
    return {f: (0 if f in COUNT_FIELDS else ZERO) for f in SALES_FIELDS}


def add_sales(into: dict, other: dict) -> dict:
    for f in SALES_FIELDS:
        into[f] = into[f] + (other.get(f) or (0 if f in COUNT_FIELDS else ZERO))
    return into


def regroup(rows: list[dict], by: tuple, *, fields=tuple(SALES_FIELDS)) -> list[dict]:
    """Rows grouped by more keys, summed over the others: the figures by channel and by month
    from one statement grouped by both. Rows without one of the keys (`sales`' row of zeros
    when there are none) are left out; `by` empty gives one row (of zeros when there are no
    rows)."""
    merged: dict = {}
    for row in rows:
        if any(k not in row for k in by):
            continue
        key = tuple(row[k] for k in by)
        into = merged.get(key)
        if into is None:
            merged[key] = {**{k: row[k] for k in by}, **{f: row[f] for f in fields}}
        else:
            for f in fields:
                into[f] += row[f]
    if not by and not merged:
        return [{f: empty_sales().get(f, 0) for f in fields}]
    return list(merged.values())


def client_channel(prefix: str = "") -> Case:
    """SQL expression for a client's channel (referral first, then its source)."""
    return Case(
        When(**{f"{prefix}referred_by__isnull": False}, then=Value("referral")),
        default=F(f"{prefix}source"),
    )


def client_channel_sql(alias: str) -> str:
    """`client_channel` in SQL, over the clients' table aliased `alias` (raw statements)."""
    return f"CASE WHEN {alias}.referred_by_id IS NOT NULL THEN 'referral' ELSE {alias}.source END"


def purchase_channel() -> Case:
    return Case(
        When(client__isnull=True, then=Value("")),
        When(client__referred_by__isnull=False, then=Value("referral")),
        default=F("client__source"),
    )


def not_fully_refunded() -> Q:
    """A purchase that still counts: not refunded in full (or a zero check)."""
    return Q(refunded_amount__lt=F("amount")) | Q(amount__lte=0)


def purchases_in(merchant: Merchant, period: Period, *, after: date | None = None):
    """The merchant's purchases in the period (its branch, when given), after the local day
    `after` when given."""
    start, end = period.bounds(merchant)
    if after is not None:
        later = datetime.combine(after + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
        start = max(start, later) if start else later
    qs = Purchase.objects.filter(merchant=merchant, occurred_at__lt=end)
    if start:
        qs = qs.filter(occurred_at__gte=start)
    if period.branch_id:
        qs = qs.filter(branch_id=period.branch_id)
    return qs


def _sales_aggregates() -> dict:
    net = F("amount") - F("refunded_amount")
    card, kept = Q(client__isnull=False), not_fully_refunded()
    cert = Q(certificate_redeemed__gt=0)
    return {
        "card_purchases": Count("id", filter=card & kept),
        "card_revenue": Coalesce(Sum(net, filter=card), ZERO),
        "by_phone": Count("id", filter=card & kept & Q(by_phone=True)),
        "points_redeemed": Coalesce(Sum("points_redeemed", filter=card & kept), ZERO),
        "cert_purchases": Count("id", filter=card & kept & cert),
        "cert_revenue": Coalesce(Sum(net, filter=card & cert), ZERO),
        "nocard_purchases": Count("id", filter=~card & kept),
        "nocard_revenue": Coalesce(Sum(net, filter=~card), ZERO),
    }


def _live_keys(merchant: Merchant, by: tuple) -> dict:
    keys = {}
    for key in by:
        if key == "channel":
            keys["channel"] = purchase_channel()
        elif key == "source_detail":
            keys["source_detail"] = Coalesce(F("client__source_detail"), Value(""))
        elif key == "month":
            keys["month"] = TruncMonth("occurred_at", tzinfo=merchant.tzinfo)
        elif key == "day":
            keys["day"] = TruncDate("occurred_at", tzinfo=merchant.tzinfo)
        elif key == "branch_id":
            keys["branch_key"] = F("branch_id")
        else:
            raise ValueError(key)
    return keys


def _normalise(row: dict) -> dict:
    for f in SALES_FIELDS:
        value = row.get(f)
        if f in COUNT_FIELDS:
            row[f] = int(value or 0)
        else:
            row[f] = q(value or 0)
    if "month" in row and isinstance(row["month"], datetime):
        row["month"] = row["month"].date()
    if "month" in row and row["month"] is not None:
        row["month"] = row["month"].replace(day=1)
    if "branch_key" in row:
        row["branch_id"] = row.pop("branch_key")
    return row


def sales_live(
    merchant: Merchant, period: Period, *, by: tuple = (), after=None, ids=(None, None)
) -> list[dict]:
    """Purchase aggregates grouped by `by` (channel, source_detail, month, day, branch_id), of
    the purchases with an id in `ids` = (above, up to) when given (None: unbounded)."""
    qs = purchases_in(merchant, period, after=after).order_by()
    if ids[0] is not None:
        qs = qs.filter(pk__gt=ids[0])
    if ids[1] is not None:
        qs = qs.filter(pk__lte=ids[1])
    keys = _live_keys(merchant, by)
    if not keys:
        return [_normalise(qs.aggregate(**_sales_aggregates()))]
    rows = qs.annotate(**keys).values(*keys).annotate(**_sales_aggregates())
    return [_normalise(dict(r)) for r in rows]


def day_ranges(days) -> list[tuple[date, date]]:
    """Sorted days folded into runs of consecutive days: [(first, last), …]."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def _on_days(merchant: Merchant, field: str, days) -> Q:
    condition = Q(pk__in=[])
    for first, last in day_ranges(days):
        start, end = Period(first, last).bounds(merchant)
        condition |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return condition


def sales_live_on_days(merchant: Merchant, days, *, by: tuple) -> list[dict]:
    """`sales_live` grouped by `by` (which holds "day") over the given local days only."""
    qs = Purchase.objects.filter(_on_days(merchant, "occurred_at", days), merchant=merchant)
    keys = _live_keys(merchant, by)
    rows = qs.order_by().annotate(**keys).values(*keys).annotate(**_sales_aggregates())
    return [_normalise(dict(r)) for r in rows]


def sales_live_of_clients(merchant: Merchant, client_ids, *, end: datetime, by: tuple):
    """`sales_live` of the given clients' purchases before `end`, grouped by `by` and client."""
    qs = Purchase.objects.filter(merchant=merchant, client_id__in=client_ids, occurred_at__lt=end)
    keys = {**_live_keys(merchant, by), "client_key": F("client_id")}
    rows = qs.order_by().annotate(**keys).values(*keys).annotate(**_sales_aggregates())
    return [_normalise(dict(r)) for r in rows]


def sales_rollup(merchant: Merchant, period: Period, *, by: tuple = (), through: date):
    qs = DailySales.objects.filter(merchant=merchant, day__lte=min(period.end, through))
    if period.start:
        qs = qs.filter(day__gte=period.start)
    if period.branch_id:
        qs = qs.filter(branch_id=period.branch_id)
    sums = {f: Sum(f) for f in SALES_FIELDS}
    keys, plain = {}, []
    for key in by:
        if key == "month":
            keys["month"] = TruncMonth("day")
        elif key == "branch_id":
            keys["branch_key"] = F("branch_id")
        else:
            plain.append(key)
    qs = qs.order_by()
    if not by:
        return [_normalise(qs.aggregate(**sums))]
    rows = qs.annotate(**keys).values(*plain, *keys).annotate(**sums)
    return [_normalise(dict(r)) for r in rows]


def _question(kind: str, merchant: Merchant, period: Period, by: tuple, through: date) -> str:
    """The cache's name of a figure and its filters (`reports.intraday`)."""
    return (
        f"{kind}:{','.join(by)}:{period.start}:{period.end}:{period.branch_id}:{through}:"
        f"{merchant.time_zone}"
    )


def sales_after(
    merchant: Merchant, period: Period, by: tuple, through: date, night: Night | None
) -> list[dict]:
    """`sales_live` of the days after `through`; with the `night` that wrote the rollup, the
    part read by an earlier view is kept between views (`reports.intraday`)."""
    return intraday.added(
        merchant.pk,
        night,
        _question("sales", merchant, period, by, through),
        lambda above, upto: sales_live(merchant, period, by=by, after=through, ids=(above, upto)),
        lambda kept, more: regroup(kept + more, by),
    )


def _rollup(merchant: Merchant, period: Period, by: tuple, through: date, night: Night | None):
    """`sales_rollup`, kept until the next night when the `night` that wrote it is given."""
    return intraday.nightly(
        night,
        _question("rollup", merchant, period, by, through),
        lambda: sales_rollup(merchant, period, by=by, through=through),
    )


def sales(
    merchant: Merchant,
    period: Period,
    *,
    by: tuple = (),
    through: date | None = None,
    night: Night | None = None,
):
    """Sales from the rollup for days ≤ `through` plus live purchases after it (or all live)."""
    if through is None:
        return sales_live(merchant, period, by=by)
    rows = _rollup(merchant, period, by, through, night)
    if period.end > through:
        rows += sales_after(merchant, period, by, through, night)
    merged: dict = {}
    for row in rows:
        key = tuple(row.get(k if k != "branch_id" else "branch_id") for k in by)
        if key in merged:
            add_sales(merged[key], row)
        else:
            merged[key] = row
    return list(merged.values()) or [{**empty_sales()}]


def sales_by(
    merchant: Merchant,
    period: Period,
    groupings: tuple,
    *,
    through: date | None = None,
    night: Night | None = None,
) -> list[list[dict]]:
    """`sales` grouped several ways at once (one list of rows per grouping of `groupings`): the
    rollup read per grouping, the purchases after it (all of them without a rollup) in one
    statement grouped by every key, then summed per grouping (`regroup`) — the day's live
    purchases are read once however many ways the page groups them."""
    keys = tuple(dict.fromkeys(key for grouping in groupings for key in grouping))
    if through is None:
        live = sales_live(merchant, period, by=keys)
        return [regroup(live, grouping) for grouping in groupings]
    live = sales_after(merchant, period, keys, through, night) if period.end > through else []
    return [
        regroup(_rollup(merchant, period, grouping, through, night) + live, grouping)
        for grouping in groupings
    ]


def members_live(merchant: Merchant, period: Period, *, by: tuple = ()) -> list[dict]:
    """Members who joined in the period (branch does not apply), grouped by channel/month."""
    start, end = period.bounds(merchant)
    qs = Client.objects.filter(merchant=merchant, joined_at__lt=end).order_by()
    if start:
        qs = qs.filter(joined_at__gte=start)
    keys = {}
    for key in by:
        if key == "channel":
            keys["channel"] = client_channel()
        elif key == "month":
            keys["month"] = TruncMonth("joined_at", tzinfo=merchant.tzinfo)
        elif key == "day":
            keys["day"] = TruncDate("joined_at", tzinfo=merchant.tzinfo)
        elif key == "source_detail":
            keys["detail"] = F("source_detail")
        else:
            raise ValueError(key)
    if not keys:
        return [{"joined": qs.count()}]
    rows = qs.annotate(**keys).values(*keys).annotate(joined=Count("id"))
    out = []
    for r in rows:
        r = dict(r)
        if "detail" in r:
            r["source_detail"] = r.pop("detail")
        if isinstance(r.get("month"), datetime):
            r["month"] = r["month"].date()
        out.append(r)
    return out


def members_rollup(merchant: Merchant, period: Period, *, by: tuple = (), through: date):
    qs = DailyMembers.objects.filter(merchant=merchant, day__lte=min(period.end, through))
    if period.start:
        qs = qs.filter(day__gte=period.start)
    qs = qs.order_by()
    if not by:
        return [{"joined": qs.aggregate(n=Coalesce(Sum("joined"), 0))["n"]}]
    keys = {"month": TruncMonth("day")} if "month" in by else {}
    plain = [k for k in by if k != "month"]
    rows = qs.annotate(**keys).values(*plain, *keys).annotate(total=Sum("joined"))
    return [{**{k: r[k] for k in by}, "joined": r["total"]} for r in rows]


def members(
    merchant: Merchant,
    period: Period,
    *,
    by: tuple = (),
    through: date | None = None,
    night: Night | None = None,
):
    """Members who joined in the period: the rollup's days ≤ `through` (kept until the next
    night when the `night` that wrote it is given) and the later days live (or all live)."""
    if through is None:
        return members_live(merchant, period, by=by)
    rows = intraday.nightly(
        night,
        _question("members", merchant, period, by, through),
        lambda: members_rollup(merchant, period, by=by, through=through),
    )
    if period.end > through:
        later = Period(max(period.start or through, through + timedelta(days=1)), period.end)
        rows += members_live(merchant, later, by=by)
    merged: dict = {}
    for row in rows:
        key = tuple(row.get(k) for k in by)
        if key in merged:
            merged[key]["joined"] += row["joined"]
        else:
            merged[key] = row
    return list(merged.values())
