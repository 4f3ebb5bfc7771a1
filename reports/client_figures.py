"""Client-level figures read from the clients (contacts, tiers, the referral tree) or only live
(gift returns, buyers per client and per source), with the definitions of
`reports.aggregates`: no rollup of their own (the nightly refresh keeps them in its snapshot)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from crm.models import Client
from loyalty.models import Campaign, CampaignIssuance, CampaignKind
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .aggregates import (
    Period,
    client_channel,
    members,
    not_fully_refunded,
    purchase_channel,
    purchases_in,
)
from .replica import read_connection


def referral_stats(merchant: Merchant, period: Period, *, max_depth: int = 10) -> dict:
    """Clients with a referrer who joined in the period; of them with a card purchase in
    the period; the referral tree by generation (1 = invited by a root client)."""
    start, end = period.bounds(merchant)
    referred = Client.objects.filter(merchant=merchant, referred_by__isnull=False)
    joined = referred.filter(Q(joined_at__lt=end) | Q(joined_at__isnull=True))
    if start:
        joined = joined.filter(joined_at__gte=start)
    bought = joined.filter(
        pk__in=purchases_in(merchant, period)
        .filter(not_fully_refunded(), client__isnull=False)
        .values("client_id")
    )
    # Generation g has clients whose chain of referrers is exactly g long: count(≥g) − count(≥g+1).
    at_least = []
    for depth in range(1, max_depth + 1):
        lookup = "__".join(["referred_by"] * depth) + "__isnull"
        n = Client.objects.filter(merchant=merchant, **{lookup: False}).count()
        if not n:
            break
        at_least.append(n)
    generations = [
        {"generation": g + 1, "clients": n - (at_least[g + 1] if g + 1 < len(at_least) else 0)}
        for g, n in enumerate(at_least)
    ]
    return {
        "referral_clients": joined.count(),
        "referral_buyers": bought.count(),
        "referral_depth": len(at_least),
        "referral_generations": generations,
    }


def _contacts(contacts: int, imported: int, members: int) -> dict:
    return {
        "contacts": contacts,
        "imported": imported,
        "organic": contacts - imported,
        "members_total": members,
    }


def contacts_stats(merchant: Merchant) -> dict:
    """Contacts in the CRM now (not bound to the period): all, imported, digitised members."""
    row = Client.objects.filter(merchant=merchant).aggregate(
        n_contacts=Count("id"),
        n_imported=Count("id", filter=Q(imported=True)),
        n_members=Count("id", filter=Q(joined_at__isnull=False)),
    )
    return _contacts(row["n_contacts"], row["n_imported"], row["n_members"])


def _by_tier(merchant: Merchant, **more):
    return (
        Client.objects.filter(merchant=merchant)
        .order_by()
        .values("tier_id", "tier__name", "tier__position")
        .annotate(clients=Count("id"), revenue=Coalesce(Sum("total_spent"), ZERO), **more)
    )


def _tiers(rows) -> list[dict]:
    out = [
        {
            "tier": r["tier__name"] or "—",
            "position": r["tier__position"] or 0,
            "clients": r["clients"],
            "revenue": q(r["revenue"]),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: r["position"])


def tier_distribution(merchant: Merchant) -> list[dict]:
    """Members and non-members by current tier, in ladder order."""
    return _tiers(_by_tier(merchant))


def contacts_and_tiers(merchant: Merchant) -> tuple[dict, list[dict], int]:
    """`contacts_stats`, `tier_distribution` and the members without a purchase (the RFM
    table's "no_purchase", `reports.rfm.segment_summary`) from one pass over the merchant's
    clients."""
    rows = list(
        _by_tier(
            merchant,
            imported=Count("id", filter=Q(imported=True)),
            members=Count("id", filter=Q(joined_at__isnull=False)),
            idle=Count("id", filter=Q(joined_at__isnull=False, purchases_count=0)),
        )
    )
    contacts = _contacts(*(sum(r[key] for r in rows) for key in ("clients", "imported", "members")))
    return contacts, _tiers(rows), sum(r["idle"] for r in rows)


def contacts_and_tiers_started(merchant: Merchant) -> Callable[[], tuple[dict, list[dict], int]]:
    """`contacts_and_tiers` started beside the caller's work; returns what gives its result.
    On PostgreSQL outside a transaction (the nightly refresh from its task or command) it reads
    the clients on a connection of its own in a thread, without parallel workers: the one pass
    over the client table runs on the other core while the night's first steps run (the
    clients as they are when the night starts). Otherwise (SQLite; inside a transaction, whose
    rows another connection cannot see) it is read when asked."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return lambda: contacts_and_tiers(merchant)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reports-contacts")
    future = pool.submit(_contacts_and_tiers_alone, merchant)
    pool.shutdown(wait=False)
    return future.result


def _contacts_and_tiers_alone(merchant: Merchant):
    try:  # this thread's own connection (Django's are per thread)
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        return contacts_and_tiers(merchant)
    finally:
        connection.close()


# A gift without a validity of its own (win-back points) counts returns for this many days.
GIFT_RETURN_DEFAULT_DAYS = 30


def gift_returns(merchant: Merchant, period: Period) -> dict:
    """Revenue returned by gifts to lapsed clients: card purchases in the period by a client
    who had received a win-back or short-lived segment gift before the purchase and within
    the gift's validity (burn days, else certificate days, else 30 days). A purchase counts
    once even when several gifts cover it. Returns totals and one row per campaign."""
    from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef

    campaigns = list(
        Campaign.objects.filter(
            merchant=merchant, kind__in=[CampaignKind.WINBACK, CampaignKind.SEGMENT_GIFT]
        ).order_by("name", "pk")
    )
    start, end = period.bounds(merchant)

    def covered(chosen) -> Q:
        condition = Q(pk__in=[])
        for c in chosen:
            days = c.burn_after_days or c.certificate_valid_days or GIFT_RETURN_DEFAULT_DAYS
            since = ExpressionWrapper(
                OuterRef("occurred_at") - timedelta(days=days), output_field=DateTimeField()
            )
            condition |= Q(campaign=c, issued_at__gte=since)
        return condition

    def figures(chosen) -> dict:
        gifted = CampaignIssuance.objects.filter(
            merchant=merchant, campaign__in=chosen, issued_at__lt=end
        )
        if start:
            gifted = gifted.filter(issued_at__gte=start)
        gift = CampaignIssuance.objects.filter(
            covered(chosen),
            merchant=merchant,
            client_id=OuterRef("client_id"),
            issued_at__lt=OuterRef("occurred_at"),
        )
        row = (
            purchases_in(merchant, period)
            .filter(not_fully_refunded(), client__isnull=False)
            .filter(Exists(gift))
            .aggregate(
                clients=Count("client_id", distinct=True),
                purchases=Count("id"),
                revenue=Coalesce(Sum(F("amount") - F("refunded_amount")), ZERO),
            )
        )
        return {
            "gifted": gifted.values("client_id").distinct().count(),
            "clients": row["clients"],
            "purchases": row["purchases"],
            "revenue": q(row["revenue"]),
        }

    if not campaigns:
        return {"gifted": 0, "clients": 0, "purchases": 0, "revenue": ZERO, "campaigns": []}
    total = figures(campaigns)
    total["campaigns"] = [{"campaign": c.name, **figures([c])} for c in campaigns]
    return total


def buyer_stats(merchant: Merchant, period: Period) -> dict:
    """Per-client purchase counts in the period, folded in SQL: buyers, buyers with ≥ 2
    purchases ("regular clients"), their purchases and revenue (the nightly refresh keeps them
    as totals: `reports.buyer_totals`)."""
    net = F("amount") - F("refunded_amount")
    inner = (
        purchases_in(merchant, period)
        .filter(not_fully_refunded(), client__isnull=False)
        .order_by()
        .values("client_id")
        .annotate(n=Count("id"), rev=Sum(net))
    )
    sql, params = inner.query.sql_with_params()
    with read_connection().cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), "
            "COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(n), 0), "
            "COALESCE(SUM(CASE WHEN n >= 2 THEN n ELSE 0 END), 0), "
            "COALESCE(SUM(rev), 0), "
            "COALESCE(SUM(CASE WHEN n >= 2 THEN rev ELSE 0 END), 0) "
            f"FROM ({sql}) AS per_client",
            params,
        )
        buyers, regular, purchases, regular_purchases, revenue, regular_revenue = cursor.fetchone()
    return {
        "buyers": int(buyers),
        "regular_buyers": int(regular),
        "buyer_purchases": int(purchases),
        "regular_purchases": int(regular_purchases),
        "buyer_revenue": q(Decimal(str(revenue))),
        "regular_revenue": q(Decimal(str(regular_revenue))),
    }


def source_buyers(
    merchant: Merchant,
    period: Period,
    *,
    through: date | None = None,
    bought: list[dict] | None = None,
) -> list[dict]:
    """Per client channel and source detail (promo code, partner): members who joined in
    the period, of them buyers (≥ 1 card purchase in the period), and those buyers' card
    revenue in the period — "187 joined from social networks and the site, 135 bought".
    `through`: the members from the members rollup up to that day (`members`) instead of every
    client; `bought`: the bought part as given (`reports.buyer_totals.bought_by_source`)."""
    start, end = period.bounds(merchant)
    joined = Client.objects.filter(merchant=merchant, joined_at__lt=end)
    if start:
        joined = joined.filter(joined_at__gte=start)
    if through is not None:
        by = ("channel", "source_detail")
        members_by_key = {
            (r["channel"], r["source_detail"]): r["joined"]
            for r in members(merchant, period, by=by, through=through)
            if r["joined"]
        }
    else:
        keys = {"channel": client_channel(), "detail": F("source_detail")}
        members_by_key = {
            (r["channel"], r["detail"]): r["n"]
            for r in joined.order_by().annotate(**keys).values(*keys).annotate(n=Count("id"))
        }
    if bought is None:
        bought = (
            purchases_in(merchant, period)
            .filter(not_fully_refunded(), client__in=joined)
            .order_by()
            .annotate(
                channel=purchase_channel(),
                detail=Coalesce(F("client__source_detail"), Value("")),
            )
            .values("channel", "detail")
            .annotate(
                buyers=Count("client_id", distinct=True),
                revenue=Coalesce(Sum(F("amount") - F("refunded_amount")), ZERO),
            )
        )
    rows = {
        (r["channel"], r["detail"]): {"buyers": r["buyers"], "revenue": q(r["revenue"])}
        for r in bought
    }
    out = []
    for key in set(members_by_key) | set(rows):
        row = rows.get(key, {"buyers": 0, "revenue": ZERO})
        out.append(
            {
                "channel": key[0],
                "source_detail": key[1] or "",
                "members": members_by_key.get(key, 0),
                "buyers": row["buyers"],
                "revenue": row["revenue"],
            }
        )
    return sorted(out, key=lambda r: (-r["members"], r["channel"], r["source_detail"]))
