"""The partner's portfolio: one summary row per merchant (members, actual discount, benefit).

Set-based: every figure is read for all the listed merchants at once — the snapshots, the
benefit components, sales by channel (rollup and live, each merchant over its own period in
its own zone), members who joined, and the card-share alerts — so the page issues the same
number of queries for one merchant as for fifty. The definitions are the dashboard's
(`reports.aggregates`, `reports.benefit`, `reports.metrics`); `tests/reports/test_portfolio.py` checks that the
rows agree with them merchant by merchant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from crm.models import Client
from loyalty.models import Purchase
from onboarding.adoption import adoption_weeks
from onboarding.models import Merchant

from . import aggregates as agg
from . import metrics
from .aggregates import Period
from .benefit import benefit_configs, economic_benefit
from .metrics import CHANNEL_COMPONENT, default_period, pct
from .models import ComponentKind, DailyMembers, DailySales, ReportSnapshot

PORTFOLIO_COLUMNS = {
    "name": _("Merchant"),
    "launch_date": _("Launched"),
    "status": _("Status"),
    "members": _("Members"),
    "card_revenue": _("Card revenue"),
    "actual_discount": _("Actual discount, %"),
    "benefit": _("Economic benefit"),
    "adoption_alerts": _("Branches below the card-share target"),
}


# `metrics.snapshot_for` reads one merchant; this is the same rule for a set (a test asserts
# they agree).


def snapshots_for(merchants: list[Merchant]) -> dict[int, ReportSnapshot | None]:
    """Each merchant's snapshot when the rollup serves it (as `metrics.snapshot_for`)."""
    usable = {m.pk: None for m in merchants}
    for snap in ReportSnapshot.objects.filter(merchant__in=merchants):
        if metrics.snapshot_serves(snap):
            usable[snap.merchant_id] = snap
    return usable


# ── sales by channel and members, every merchant over its own period ──────────────────────


def _day_after(day: date, merchant: Merchant) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)


def _live_window(merchant: Merchant, period: Period, through: date | None, field: str):
    """The live part of `agg.sales`/`agg.members`: the period, or only its days after the
    rollup; None when the rollup covers it all."""
    if through is not None and period.end <= through:
        return None
    start, end = period.bounds(merchant)
    if through is not None:
        later = _day_after(through, merchant)
        start = max(start, later) if start else later
    window = Q(merchant_id=merchant.pk, **{f"{field}__lt": end})
    return window & Q(**{f"{field}__gte": start}) if start else window


def _rollup_window(merchant: Merchant, period: Period, through: date | None):
    if through is None:
        return None
    window = Q(merchant_id=merchant.pk, day__lte=min(period.end, through))
    return window & Q(day__gte=period.start) if period.start else window


def _any(windows: Iterable) -> Q | None:
    windows = [w for w in windows if w is not None]
    return reduce(or_, windows) if windows else None


def sales_by_channel(plans: dict[int, tuple[Merchant, Period, date | None]]) -> dict[int, dict]:
    """{merchant pk: {channel: sales}} as `agg.sales(by=("channel",))` gives each merchant:
    the rollup up to `through`, live purchases after it (or all live); two queries in all."""
    out: dict[int, dict] = {pk: {} for pk in plans}

    def add(row):
        row = agg._normalise(dict(row))
        into = out[row.pop("merchant_id")]
        channel = row["channel"]
        if channel in into:
            agg.add_sales(into[channel], row)
        else:
            into[channel] = row

    rollup = _any(_rollup_window(m, p, t) for m, p, t in plans.values())
    if rollup is not None:
        sums = {f: Sum(f) for f in agg.SALES_FIELDS}
        rows = (
            DailySales.objects.filter(rollup)
            .order_by()
            .values("merchant_id", "channel")
            .annotate(**sums)
        )
        for row in rows:
            add(row)
    live = _any(_live_window(m, p, t, "occurred_at") for m, p, t in plans.values())
    if live is not None:
        rows = (
            Purchase.objects.filter(live)
            .order_by()
            .annotate(channel=agg.purchase_channel())
            .values("merchant_id", "channel")
            .annotate(**agg._sales_aggregates())
        )
        for row in rows:
            add(row)
    return out


def members_joined(plans: dict[int, tuple[Merchant, Period, date | None]]) -> dict[int, int]:
    """{merchant pk: members who joined in its period} as `agg.members` sums it: the rollup
    up to `through`, live clients after it (or all live); two queries in all."""
    out = dict.fromkeys(plans, 0)
    rollup = _any(_rollup_window(m, p, t) for m, p, t in plans.values())
    if rollup is not None:
        rows = (
            DailyMembers.objects.filter(rollup)
            .order_by()
            .values("merchant_id")
            .annotate(n=Coalesce(Sum("joined"), 0))
        )
        for row in rows:
            out[row["merchant_id"]] += row["n"]
    live = _any(_live_window(m, p, t, "joined_at") for m, p, t in plans.values())
    if live is not None:
        rows = Client.objects.filter(live).order_by().values("merchant_id").annotate(n=Count("id"))
        for row in rows:
            out[row["merchant_id"]] += row["n"]
    return out


# ── the rows ──────────────────────────────────────────────────────────────────────────────


def portfolio_figures(merchants: Iterable[Merchant]) -> list[dict]:
    """Since-launch summary rows of the merchants, in their order; a fixed number of
    aggregate queries whatever their number."""
    merchants = list(merchants)
    snaps = snapshots_for(merchants)
    plans = {
        m.pk: (m, default_period(m), snaps[m.pk].rollup_through if snaps[m.pk] else None)
        for m in merchants
    }
    sales = sales_by_channel(plans)
    joined = members_joined(plans)
    configs = benefit_configs(merchants)
    weeks = adoption_weeks(merchants=merchants)
    rows = []
    for merchant in merchants:
        by_channel = sales[merchant.pk]
        total = agg.empty_sales()
        for row in by_channel.values():
            agg.add_sales(total, row)
        saving = (
            merchant.previous_discount_percent * total["card_revenue"] / 100
            - total["points_redeemed"]
        )
        revenues = {
            ComponentKind.CERTIFICATES: total["cert_revenue"],
            ComponentKind.SAVING: saving,
            **{
                k: by_channel[ch]["card_revenue"] if ch in by_channel else 0
                for k, ch in CHANNEL_COMPONENT.items()
            },
        }
        benefit = economic_benefit(
            merchant=merchant, revenues=revenues, config=configs[merchant.pk]
        )
        adoption = weeks[merchant.pk]
        rows.append(
            {
                "adoption": adoption,
                "adoption_alerts": len(adoption.alerts),
                "merchant": merchant,
                "name": merchant.name,
                "launch_date": merchant.launch_date,
                "status": merchant.get_onboarding_status_display(),
                "members": joined[merchant.pk],
                "card_revenue": total["card_revenue"],
                "currency": merchant.currency,
                "actual_discount": pct(total["points_redeemed"], total["card_revenue"]),
                "benefit": benefit.total,
            }
        )
    return rows


def portfolio_row(merchant: Merchant) -> dict:
    """One merchant's row (as the portfolio shows it)."""
    return portfolio_figures([merchant])[0]


def portfolio_rows(
    *, merchants: QuerySet[Merchant], sort: str = "name", descending: bool = False
) -> list[dict]:
    """Rows for the merchants (already scoped to the user), sorted by a column; empty values last."""
    rows = portfolio_figures(merchants)
    present = [r for r in rows if r[sort] is not None]
    missing = [r for r in rows if r[sort] is None]
    present.sort(key=lambda r: (str(r[sort]).lower() if sort in ("name", "status") else r[sort]),
                 reverse=descending)  # fmt: skip
    return present + missing
