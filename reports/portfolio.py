"""The partner's portfolio: one summary row per merchant (members, actual discount, benefit)."""

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from onboarding.adoption import adoption_week
from onboarding.models import Merchant

from . import aggregates as agg
from .metrics import CHANNEL_COMPONENT, default_period, economic_benefit, pct, snapshot_for
from .models import ComponentKind

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


def portfolio_row(merchant: Merchant) -> dict:
    """Since-launch summary of one merchant; a handful of aggregate queries."""
    period = default_period(merchant)
    snap = snapshot_for(merchant)
    through = snap.rollup_through if snap else None
    by_channel = agg.sales(merchant, period, by=("channel",), through=through)
    total = agg.empty_sales()
    for row in by_channel:
        agg.add_sales(total, row)
    members = sum(r["joined"] for r in agg.members(merchant, period, through=through))
    channel_revenue = {r["channel"]: r["card_revenue"] for r in by_channel}
    saving = (
        merchant.previous_discount_percent * total["card_revenue"] / 100 - total["points_redeemed"]
    )
    revenues = {
        ComponentKind.CERTIFICATES: total["cert_revenue"],
        ComponentKind.SAVING: saving,
        **{k: channel_revenue.get(ch, 0) for k, ch in CHANNEL_COMPONENT.items()},
    }
    adoption = adoption_week(merchant=merchant)
    return {
        "adoption": adoption,
        "adoption_alerts": len(adoption.alerts),
        "merchant": merchant,
        "name": merchant.name,
        "launch_date": merchant.launch_date,
        "status": merchant.get_onboarding_status_display(),
        "members": members,
        "card_revenue": total["card_revenue"],
        "currency": merchant.currency,
        "actual_discount": pct(total["points_redeemed"], total["card_revenue"]),
        "benefit": economic_benefit(merchant=merchant, revenues=revenues).total,
    }


def portfolio_rows(
    *, merchants: QuerySet[Merchant], sort: str = "name", descending: bool = False
) -> list[dict]:
    """Rows for the merchants (already scoped to the user), sorted by a column; empty values last."""
    rows = [portfolio_row(m) for m in merchants]
    present = [r for r in rows if r[sort] is not None]
    missing = [r for r in rows if r[sort] is None]
    present.sort(key=lambda r: (str(r[sort]).lower() if sort in ("name", "status") else r[sort]),
                 reverse=descending)  # fmt: skip
    return present + missing
