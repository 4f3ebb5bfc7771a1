"""Point-B metrics: the one module the dashboard, the case report, the XLSX export and the
`merchant_report` command read. Definitions (DESIGN.md "Point-B metrics", made precise):

* contacts — clients in the CRM now; imported = flagged `imported`; organic = the rest.
* digitised members — clients who joined the program in the period; % of contacts.
* buyers ("made purchases") — clients with ≥ 1 card purchase in the period; % of contacts.
* card purchases — purchases with a client; by-phone share = identified by phone ÷ card purchases.
* revenue — Σ (amount − refunded); a fully refunded purchase is not a purchase.
* actual discount — points redeemed on card purchases ÷ card revenue, %.
* purchases per buyer — card purchases ÷ buyers; also among regular clients.
* regular clients — buyers with ≥ 2 card purchases in the period; the share of turnover
  from regular clients = their card revenue ÷ all card revenue (003: "28% bring 65%").
* average check — revenue ÷ purchases, with card vs without; uplift = with ÷ without − 1.
* referral clients — members with a referrer who joined in the period; bought = of them with
  a card purchase in the period; depth = the longest referrer chain in the tree.
* ratings — reviews with a rating in the period (count, average); reviews = with text.
* certificates issued in the period; certificate revenue = revenue of card purchases that
  redeemed a certificate (the whole check).
* revenue by channel — card revenue by the client's channel (referral, partner, promo code,
  platform, import, organic, POS) and by promo code / partner name.
* saving — previous direct-discount % × card revenue − points redeemed.
* economic benefit — Σ component revenue × attribution share (+ saving, + manual amounts),
  components from `reports.BenefitComponent` (defaults: platform traffic at the merchant's
  platform-traffic %, everything else 100%). Certificate revenue may overlap channel revenue;
  the seeds' cases add them, and so does this sum.

Branch filter applies to purchase figures; contacts, members, referrals, tiers and RFM are
per merchant. For large merchants (`REPORTS_ROLLUP_MIN_PURCHASES`) purchase figures come from
the daily rollup plus live days after it, and client-level figures of the default period
from the nightly snapshot (`reports.rollup.reports_refresh`).

Over 450 lines: the one module every reader of the Point-B figures calls; the typed result
(dataclasses) and its split are part of the layout issue."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Coalesce

from crm.models import Review
from loyalty.models import Campaign, CampaignIssuance, Certificate
from onboarding.models import Merchant
from onboarding.money import HUNDRED, ZERO, q

from . import aggregates as agg
from . import rfm
from .aggregates import Period
from .models import DEFAULT_COMPONENTS, BenefitComponent, Channel, ComponentKind, ReportSnapshot

ROLLUP_MIN_PURCHASES = getattr(settings, "REPORTS_ROLLUP_MIN_PURCHASES", 200_000)
CHANNEL_COMPONENT = {
    ComponentKind.PLATFORM: Channel.PLATFORM,
    ComponentKind.SOURCES: Channel.PROMO_CODE,
    ComponentKind.REFERRALS: Channel.REFERRAL,
    ComponentKind.PARTNER: Channel.PARTNER,
}


def pct(part, whole) -> Decimal | None:
    """part ÷ whole in %, rounded by the one rule; None when whole is zero."""
    if not whole:
        return None
    return q(Decimal(part) * HUNDRED / Decimal(whole))


def ratio(part, whole) -> Decimal | None:
    if not whole:
        return None
    return q(Decimal(part) / Decimal(whole))


def default_period(merchant: Merchant, *, today: date | None = None) -> Period:
    """Since launch (or from the first record when no launch date) up to the local today."""
    return Period(start=merchant.launch_date, end=today or merchant.local_today())


# ── economic benefit ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ComponentConfig:
    kind: str
    label: str
    included: bool = True
    attribution_percent: Decimal | None = None
    manual_amount: Decimal | None = None


def benefit_config(merchant: Merchant) -> list[ComponentConfig]:
    """The merchant's components: its own rows override the default for their kind;
    kinds without a row are counted with the default share; manual rows are added."""
    rows = list(BenefitComponent.objects.filter(merchant=merchant).order_by("position", "pk"))
    by_kind = {r.kind: r for r in rows if r.kind != ComponentKind.MANUAL}
    out = []
    for kind in DEFAULT_COMPONENTS:
        row = by_kind.get(kind)
        label = (row.label if row else "") or str(ComponentKind(kind).label)
        if row:
            out.append(ComponentConfig(kind, label, row.included, row.attribution_percent, None))
        elif kind == ComponentKind.SAVING:
            # Without a previous direct discount there is nothing to save against.
            out.append(ComponentConfig(kind, label, merchant.previous_discount_percent > 0))
        else:
            out.append(ComponentConfig(kind, label))
    for row in rows:
        if row.kind == ComponentKind.MANUAL:
            out.append(
                ComponentConfig(
                    row.kind,
                    row.label or str(row.get_kind_display()),
                    row.included,
                    row.attribution_percent,
                    row.manual_amount,
                )
            )
    return out


def economic_benefit(
    *,
    merchant: Merchant,
    revenues: dict,
    config: list[ComponentConfig] | None = None,
) -> dict:
    """Σ component revenue × attribution share over the included components.

    `revenues` maps component kinds (certificates, platform, sources, referrals, partner,
    saving) to amounts. Returns {"components": [...], "total": Decimal}; each component
    carries its revenue, share and attributed amount (rounded by `q`)."""
    config = benefit_config(merchant) if config is None else config
    components, total = [], ZERO
    for c in config:
        if c.kind == ComponentKind.MANUAL:
            revenue = Decimal(c.manual_amount or 0)
        else:
            revenue = Decimal(revenues.get(c.kind) or 0)
        if c.attribution_percent is not None:
            share = Decimal(c.attribution_percent)
        elif c.kind == ComponentKind.PLATFORM:
            share = Decimal(merchant.platform_traffic_share_percent)
        else:
            share = HUNDRED
        amount = q(revenue * share / HUNDRED)
        if c.included:
            total += amount
        components.append(
            {
                "kind": c.kind,
                "label": c.label,
                "included": c.included,
                "revenue": q(revenue),
                "share_percent": q(share),
                "amount": amount,
            }
        )
    return {"components": components, "total": q(total)}


# ── client-level figures (live or snapshot) ───────────────────────────────────────────

MONEY_KEYS = {"buyer_revenue", "regular_revenue", "revenue", "revenue_share"}
DATE_KEYS = {"month", "as_of"}


def client_level(merchant: Merchant, period: Period, *, today: date) -> dict:
    """Figures that need one row per client: contacts, buyers, regulars, referrals, tiers, RFM."""
    return {
        **agg.contacts_stats(merchant),
        **agg.buyer_stats(merchant, period),
        **agg.referral_stats(merchant, period),
        "tiers": agg.tier_distribution(merchant),
        "rfm": rfm.segment_summary(merchant=merchant, today=today),
        "rfm_history": rfm.monthly_history(merchant=merchant, start=period.start, end=period.end),
        "source_buyers": agg.source_buyers(merchant, period),
    }


def to_json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def _from_json(value, key=None):
    if isinstance(value, dict):
        return {k: _from_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v, key) for v in value]
    if key in MONEY_KEYS and isinstance(value, str):
        return Decimal(value)
    if key in DATE_KEYS and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def snapshot_for(merchant: Merchant) -> ReportSnapshot | None:
    snap = ReportSnapshot.objects.filter(merchant=merchant).first()
    if snap and snap.rollup_through and snap.purchases_total >= ROLLUP_MIN_PURCHASES:
        return snap
    return None


# ── the whole Point B ─────────────────────────────────────────────────────────────────


def campaign_results(merchant: Merchant, period: Period) -> list[dict]:
    """Per campaign: rewards issued and points given in the period, certificates issued,
    redeemed, and revenue of the purchases that redeemed them."""
    start, end = period.bounds(merchant)
    rng = Q(issued_at__lt=end) & (Q(issued_at__gte=start) if start else Q())
    issued = {
        r["campaign_id"]: r
        for r in CampaignIssuance.objects.filter(rng, merchant=merchant)
        .order_by()
        .values("campaign_id")
        .annotate(rewards=Count("id"), points=Coalesce(Sum("points"), ZERO))
    }
    certs = {
        r["campaign_id"]: r
        for r in Certificate.objects.filter(rng, merchant=merchant, campaign__isnull=False)
        .order_by()
        .values("campaign_id")
        .annotate(
            certificates=Count("id"),
            redeemed=Count("id", filter=Q(status=Certificate.Status.REDEEMED)),
            revenue=Coalesce(
                Sum(
                    F("redeemed_purchase__amount") - F("redeemed_purchase__refunded_amount"),
                    filter=Q(status=Certificate.Status.REDEEMED),
                ),
                ZERO,
            ),
        )
    }
    out = []
    for c in Campaign.objects.filter(merchant=merchant).order_by("kind", "name"):
        i, k = issued.get(c.pk, {}), certs.get(c.pk, {})
        out.append(
            {
                "campaign": c.name,
                "kind": str(c.get_kind_display()),
                "active": c.is_active,
                "rewards": i.get("rewards", 0),
                "points": q(i.get("points", 0)),
                "certificates": k.get("certificates", 0),
                "redeemed": k.get("redeemed", 0),
                "revenue": q(k.get("revenue", 0)),
            }
        )
    return out


def point_b(
    *,
    merchant: Merchant,
    start: date | None = None,
    end: date | None = None,
    branch_id: int | None = None,
    today: date | None = None,
    use_snapshot: bool = True,
) -> dict:
    """Every Point-B figure for the merchant over [start, end] (local dates, inclusive;
    default since launch up to today) and optionally one branch. Decimal money, int counts,
    percentages as Decimal or None when undefined."""
    today = today or merchant.local_today()
    base = default_period(merchant, today=today)
    period = Period(
        start=start if start is not None else base.start, end=end or today, branch_id=branch_id
    )
    is_default = period.start == base.start and period.end == today and not branch_id
    snap = snapshot_for(merchant) if use_snapshot else None
    through = snap.rollup_through if snap else None

    total = agg.sales(merchant, period, through=through)[0]
    by_channel = agg.sales(merchant, period, by=("channel",), through=through)
    by_detail = agg.sales(merchant, period, by=("channel", "source_detail"), through=through)
    by_month = agg.sales(merchant, period, by=("month",), through=through)
    members_by_channel = agg.members(merchant, period, by=("channel",), through=through)
    members_by_month = agg.members(merchant, period, by=("month",), through=through)
    if snap and is_default and snap.clients:
        clients = _from_json(snap.clients)
    else:
        clients = client_level(merchant, period, today=today)

    channel_revenue = {r["channel"]: r["card_revenue"] for r in by_channel}
    members_total = sum(r["joined"] for r in members_by_channel)
    card_revenue, points = total["card_revenue"], total["points_redeemed"]
    saving = q(Decimal(merchant.previous_discount_percent) * card_revenue / HUNDRED - points)
    revenues = {
        ComponentKind.CERTIFICATES: total["cert_revenue"],
        ComponentKind.SAVING: saving,
        **{k: channel_revenue.get(ch, ZERO) for k, ch in CHANNEL_COMPONENT.items()},
    }

    start_dt, end_dt = period.bounds(merchant)
    in_period = Q(created_at__lt=end_dt) & (Q(created_at__gte=start_dt) if start_dt else Q())
    ratings = Review.objects.filter(in_period, merchant=merchant).aggregate(
        ratings=Count("id", filter=Q(rating__isnull=False)),
        rating_average=Avg("rating"),
        reviews=Count("id", filter=~Q(text="")),
    )
    cert_rng = Q(issued_at__lt=end_dt) & (Q(issued_at__gte=start_dt) if start_dt else Q())
    certificates_issued = Certificate.objects.filter(cert_rng, merchant=merchant).count()

    contacts, buyers = clients["contacts"], clients["buyers"]
    card_purchases, nocard = total["card_purchases"], total["nocard_purchases"]
    avg_card = ratio(card_revenue, card_purchases)
    avg_nocard = ratio(total["nocard_revenue"], nocard)
    channel_labels = dict(Channel.choices)
    months = {}
    for r in by_month:
        months.setdefault(r["month"], {"month": r["month"], "members": 0}).update(
            purchases=r["card_purchases"],
            revenue=r["card_revenue"],
            actual_discount_percent=pct(r["points_redeemed"], r["card_revenue"]),
        )
    for r in members_by_month:
        if r["month"] is not None:
            months.setdefault(
                r["month"],
                {
                    "month": r["month"],
                    "purchases": 0,
                    "revenue": ZERO,
                    "actual_discount_percent": None,
                },
            )
            months[r["month"]]["members"] = r["joined"]
    members_channel = {r["channel"]: r["joined"] for r in members_by_channel}
    channels = sorted(
        (
            {
                "channel": ch,
                "label": str(channel_labels.get(ch, ch)),
                "members": members_channel.get(ch, 0),
                "purchases": next(
                    (r["card_purchases"] for r in by_channel if r["channel"] == ch), 0
                ),
                "revenue": channel_revenue.get(ch, ZERO),
            }
            for ch in set(channel_revenue) | set(members_channel)
            if ch
        ),
        key=lambda r: (-r["revenue"], -r["members"]),
    )

    def details(channel):
        return sorted(
            (
                {
                    "name": r["source_detail"] or "—",
                    "purchases": r["card_purchases"],
                    "revenue": r["card_revenue"],
                }
                for r in by_detail
                if r["channel"] == channel
            ),
            key=lambda r: -r["revenue"],
        )

    return {
        "merchant": {"slug": merchant.slug, "name": merchant.name, "currency": merchant.currency},
        "period": {
            "start": period.start,
            "end": period.end,
            "branch_id": period.branch_id,
            "default": is_default,
        },
        "data_source": "rollup" if snap else "live",
        "snapshot_at": snap.refreshed_at if snap else None,
        "contacts": contacts,
        "imported": clients["imported"],
        "organic": clients["organic"],
        "members": members_total,
        "members_percent": pct(members_total, contacts),
        "buyers": buyers,
        "buyers_percent": pct(buyers, contacts),
        "card_purchases": card_purchases,
        "by_phone": total["by_phone"],
        "by_phone_percent": pct(total["by_phone"], card_purchases),
        "card_revenue": card_revenue,
        "points_redeemed": points,
        "actual_discount_percent": pct(points, card_revenue),
        "purchases_per_buyer": ratio(clients["buyer_purchases"], buyers),
        "regular_buyers": clients["regular_buyers"],
        "regular_buyers_percent": pct(clients["regular_buyers"], buyers),
        "purchases_per_regular": ratio(clients["regular_purchases"], clients["regular_buyers"]),
        "regular_revenue": clients["regular_revenue"],
        "regular_revenue_percent": pct(clients["regular_revenue"], clients["buyer_revenue"]),
        "nocard_purchases": nocard,
        "nocard_revenue": total["nocard_revenue"],
        "average_check_card": avg_card,
        "average_check_nocard": avg_nocard,
        "average_check_all": ratio(card_revenue + total["nocard_revenue"], card_purchases + nocard),
        "card_check_uplift_percent": (
            q((avg_card / avg_nocard - 1) * HUNDRED) if avg_card and avg_nocard else None
        ),
        "referral_clients": clients["referral_clients"],
        "referral_buyers": clients["referral_buyers"],
        "referral_buyers_percent": pct(clients["referral_buyers"], clients["referral_clients"]),
        "referral_depth": clients["referral_depth"],
        "referral_generations": clients["referral_generations"],
        "ratings": ratings["ratings"],
        "rating_average": (
            q(Decimal(str(ratings["rating_average"]))) if ratings["rating_average"] else None
        ),
        "reviews": ratings["reviews"],
        "certificates_issued": certificates_issued,
        "certificate_purchases": total["cert_purchases"],
        "certificate_revenue": total["cert_revenue"],
        "referral_revenue": revenues[ComponentKind.REFERRALS],
        "platform_revenue": revenues[ComponentKind.PLATFORM],
        "sources_revenue": revenues[ComponentKind.SOURCES],
        "partner_revenue": revenues[ComponentKind.PARTNER],
        "channels": channels,
        "revenue_by_promo_code": details(Channel.PROMO_CODE),
        "revenue_by_partner": details(Channel.PARTNER),
        "previous_discount_percent": q(merchant.previous_discount_percent),
        "saving": saving,
        "benefit": economic_benefit(merchant=merchant, revenues=revenues),
        "tiers": clients["tiers"],
        "rfm": clients["rfm"],
        "rfm_history": [
            {**h, "counts": [h["segments"].get(key, 0) for key in rfm.RFM_SEGMENTS]}
            for h in clients.get("rfm_history", [])
        ],
        "source_buyers": [
            {**r, "label": str(channel_labels.get(r["channel"], r["channel"]))}
            for r in clients.get("source_buyers", [])
        ],
        "gift_returns": agg.gift_returns(merchant, period),
        "months": sorted(months.values(), key=lambda r: r["month"]),
        "campaigns": campaign_results(merchant, period),
    }


def branch_breakdown(*, merchant: Merchant, start=None, end=None, today=None) -> list[dict]:
    """Card/no-card purchases and revenue per branch over the period (for the branch table)."""
    today = today or merchant.local_today()
    base = default_period(merchant, today=today)
    period = Period(start=start if start is not None else base.start, end=end or today)
    snap = snapshot_for(merchant)
    rows = agg.sales(
        merchant, period, by=("branch_id",), through=snap.rollup_through if snap else None
    )
    names = dict(merchant.branches.values_list("pk", "name"))
    return sorted(
        (
            {
                "branch": names.get(r.get("branch_id"), "—"),
                "card_purchases": r["card_purchases"],
                "card_revenue": r["card_revenue"],
                "actual_discount_percent": pct(r["points_redeemed"], r["card_revenue"]),
                "nocard_purchases": r["nocard_purchases"],
                "nocard_revenue": r["nocard_revenue"],
            }
            for r in rows
            if r["card_purchases"] or r["nocard_purchases"]
        ),
        key=lambda r: r["branch"],
    )
