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

The result is typed: `reports.pointb.PointB` (frozen dataclasses, read by attribute)."""

from dataclasses import replace
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
from . import client_figures, intraday, rfm, rfm_history
from .aggregates import Period
from .benefit import ComponentConfig, benefit_config, economic_benefit  # noqa: F401 (API)
from .models import Channel, ComponentKind, ReportSnapshot
from .pointb import (
    CampaignResult,
    CertificateFigures,
    ChannelRow,
    ClientFigures,
    ClientLevel,
    DetailRow,
    FeedbackFigures,
    GiftReturns,
    MerchantRef,
    MonthRow,
    PeriodInfo,
    PointB,
    ReferralFigures,
    SalesFigures,
    SourceFigures,
    load,
)
from .registry import extra_figures

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


# ── client-level figures (live or snapshot) ───────────────────────────────────────────


def client_level(merchant: Merchant, period: Period, *, today: date) -> ClientLevel:
    """Figures that need one row per client: contacts, buyers, regulars, referrals, tiers, RFM."""
    return load(
        ClientLevel,
        {
            **client_figures.contacts_stats(merchant),
            **client_figures.buyer_stats(merchant, period),
            **client_figures.referral_stats(merchant, period),
            "tiers": client_figures.tier_distribution(merchant),
            "rfm": rfm.segment_summary(merchant=merchant, today=today),
            "rfm_history": rfm_history.monthly_history(
                merchant=merchant, start=period.start, end=period.end
            ),
            "source_buyers": client_figures.source_buyers(merchant, period),
        },
    )


def snapshot_serves(snap: ReportSnapshot | None) -> bool:
    """Whether the rollup and snapshot serve a merchant's figures (a large merchant's)."""
    return bool(snap and snap.rollup_through and snap.purchases_total >= ROLLUP_MIN_PURCHASES)


def snapshot_for(merchant: Merchant) -> ReportSnapshot | None:
    """The merchant's snapshot if it serves, read once per view (`intraday.per_view`)."""
    snaps = ReportSnapshot.objects.filter(merchant=merchant)
    snap = intraday.per_view(
        ("snapshot", merchant.pk), snaps.defer("rfm_state", "members_state", "timings").first
    )
    return snap if snapshot_serves(snap) else None


# ── the whole Point B ─────────────────────────────────────────────────────────────────


def campaign_results(merchant: Merchant, period: Period) -> tuple[CampaignResult, ...]:
    """Per campaign: rewards issued and points given in the period, certificates issued,
    redeemed, and revenue of the purchases that redeemed them."""
    campaigns = list(Campaign.objects.filter(merchant=merchant).order_by("kind", "name"))
    if not campaigns:
        return ()
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
    for c in campaigns:
        i, k = issued.get(c.pk, {}), certs.get(c.pk, {})
        out.append(
            CampaignResult(
                campaign=c.name,
                kind=str(c.get_kind_display()),
                active=c.is_active,
                rewards=i.get("rewards", 0),
                points=q(i.get("points", 0)),
                certificates=k.get("certificates", 0),
                redeemed=k.get("redeemed", 0),
                revenue=q(k.get("revenue", 0)),
            )
        )
    return tuple(out)


def point_b(
    *,
    merchant: Merchant,
    start: date | None = None,
    end: date | None = None,
    branch_id: int | None = None,
    today: date | None = None,
    use_snapshot: bool = True,
) -> PointB:
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
    night = intraday.night_of(snap) if snap else None

    # from the rollup by month and channel (a few rows per month: the channels are few) and by
    # detail apart (a merchant may have many); the days after it read once. The totals, channels
    # and months are summed from the first.
    fine, by_detail = agg.sales_by(
        merchant,
        period,
        (("month", "channel"), ("channel", "source_detail")),
        through=through,
        night=night,
    )
    total = agg.regroup(fine, ())[0]
    by_channel = agg.regroup(fine, ("channel",))
    by_month = agg.regroup(fine, ("month",))
    joined = agg.members(merchant, period, by=("month", "channel"), through=through, night=night)
    members_by_channel = agg.regroup(joined, ("channel",), fields=("joined",))
    members_by_month = agg.regroup(joined, ("month",), fields=("joined",))
    if snap and is_default and snap.clients:
        clients = load(ClientLevel, snap.clients)
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

    contacts, buyers = clients.contacts, clients.buyers
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
            ChannelRow(
                channel=ch,
                label=str(channel_labels.get(ch, ch)),
                members=members_channel.get(ch, 0),
                purchases=next((r["card_purchases"] for r in by_channel if r["channel"] == ch), 0),
                revenue=channel_revenue.get(ch, ZERO),
            )
            for ch in set(channel_revenue) | set(members_channel)
            if ch
        ),
        key=lambda r: (-r.revenue, -r.members),
    )

    def details(channel) -> tuple[DetailRow, ...]:
        return tuple(
            sorted(
                (
                    DetailRow(
                        name=r["source_detail"] or "—",
                        purchases=r["card_purchases"],
                        revenue=r["card_revenue"],
                    )
                    for r in by_detail
                    if r["channel"] == channel
                ),
                key=lambda r: -r.revenue,
            )
        )

    return PointB(
        merchant=MerchantRef(slug=merchant.slug, name=merchant.name, currency=merchant.currency),
        period=PeriodInfo(
            start=period.start, end=period.end, branch_id=period.branch_id, default=is_default
        ),
        data_source="rollup" if snap else "live",
        snapshot_at=snap.refreshed_at if snap else None,
        clients=ClientFigures(
            contacts=contacts,
            imported=clients.imported,
            organic=clients.organic,
            members=members_total,
            members_percent=pct(members_total, contacts),
            buyers=buyers,
            buyers_percent=pct(buyers, contacts),
            purchases_per_buyer=ratio(clients.buyer_purchases, buyers),
            regular_buyers=clients.regular_buyers,
            regular_buyers_percent=pct(clients.regular_buyers, buyers),
            purchases_per_regular=ratio(clients.regular_purchases, clients.regular_buyers),
            regular_revenue=clients.regular_revenue,
            regular_revenue_percent=pct(clients.regular_revenue, clients.buyer_revenue),
        ),
        sales=SalesFigures(
            card_purchases=card_purchases,
            by_phone=total["by_phone"],
            by_phone_percent=pct(total["by_phone"], card_purchases),
            card_revenue=card_revenue,
            points_redeemed=points,
            actual_discount_percent=pct(points, card_revenue),
            nocard_purchases=nocard,
            nocard_revenue=total["nocard_revenue"],
            average_check_card=avg_card,
            average_check_nocard=avg_nocard,
            average_check_all=ratio(
                card_revenue + total["nocard_revenue"], card_purchases + nocard
            ),
            card_check_uplift_percent=(
                q((avg_card / avg_nocard - 1) * HUNDRED) if avg_card and avg_nocard else None
            ),
        ),
        referrals=ReferralFigures(
            referral_clients=clients.referral_clients,
            referral_buyers=clients.referral_buyers,
            referral_buyers_percent=pct(clients.referral_buyers, clients.referral_clients),
            referral_depth=clients.referral_depth,
            referral_generations=clients.referral_generations,
        ),
        feedback=FeedbackFigures(
            ratings=ratings["ratings"],
            rating_average=(
                q(Decimal(str(ratings["rating_average"]))) if ratings["rating_average"] else None
            ),
            reviews=ratings["reviews"],
        ),
        certificates=CertificateFigures(
            certificates_issued=certificates_issued,
            certificate_purchases=total["cert_purchases"],
            certificate_revenue=total["cert_revenue"],
        ),
        sources=SourceFigures(
            referral_revenue=revenues[ComponentKind.REFERRALS],
            platform_revenue=revenues[ComponentKind.PLATFORM],
            sources_revenue=revenues[ComponentKind.SOURCES],
            partner_revenue=revenues[ComponentKind.PARTNER],
            channels=tuple(channels),
            revenue_by_promo_code=details(Channel.PROMO_CODE),
            revenue_by_partner=details(Channel.PARTNER),
            source_buyers=tuple(
                replace(r, label=str(channel_labels.get(r.channel, r.channel)))
                for r in clients.source_buyers
            ),
        ),
        benefit=economic_benefit(merchant=merchant, revenues=revenues),
        tiers=clients.tiers,
        rfm=clients.rfm,
        rfm_history=tuple(
            replace(h, counts=tuple(h.segments.get(key, 0) for key in rfm.RFM_SEGMENTS))
            for h in clients.rfm_history
        ),
        gift_returns=load(GiftReturns, client_figures.gift_returns(merchant, period)),
        months=tuple(load(MonthRow, m) for m in sorted(months.values(), key=lambda r: r["month"])),
        campaigns=campaign_results(merchant, period),
        extra=extra_figures(merchant=merchant, period=period),
    )


def branch_breakdown(*, merchant: Merchant, start=None, end=None, today=None) -> list[dict]:
    """Card/no-card purchases and revenue per branch over the period (for the branch table)."""
    today = today or merchant.local_today()
    base = default_period(merchant, today=today)
    period = Period(start=start if start is not None else base.start, end=end or today)
    snap = snapshot_for(merchant)
    rows = agg.sales(
        merchant,
        period,
        by=("branch_id",),
        through=snap.rollup_through if snap else None,
        night=intraday.night_of(snap) if snap else None,
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
