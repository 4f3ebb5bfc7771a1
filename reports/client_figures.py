"""Client-level figures read from the clients (contacts, tiers, the referral tree) or only live
(gift returns), with the definitions of `reports.aggregates`: no rollup of their own."""

from datetime import timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from crm.models import Client
from loyalty.models import Campaign, CampaignIssuance, CampaignKind
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .aggregates import Period, not_fully_refunded, purchases_in


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
