"""Cross-marketing partners on the owner dashboard: clients each partner brought (source
"partner", detail = the partner's name) and their card revenue in the period."""

from datetime import date

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from crm.models import Client, ClientSource
from loyalty.models import Purchase
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .aggregates import Period


def partner_summary(*, merchant: Merchant, start: date | None, end: date) -> list[dict]:
    """[{name, clients, joined, buyers, purchases, revenue}] per partner name, most clients
    first; revenue = Σ(amount − refunded) of those clients' card purchases in [start, end]."""
    clients = (
        Client.objects.filter(merchant=merchant, source=ClientSource.PARTNER)
        .values("source_detail")
        .annotate(n=Count("pk"), joined=Count("pk", filter=Q(joined_at__isnull=False)))
    )
    rows = {
        r["source_detail"] or "—": {
            "name": r["source_detail"] or "—",
            "clients": r["n"],
            "joined": r["joined"],
            "buyers": 0,
            "purchases": 0,
            "revenue": ZERO,
        }
        for r in clients
    }
    if not rows:
        return []
    since, until = Period(start=start, end=end).bounds(merchant)
    purchases = Purchase.objects.filter(
        merchant=merchant,
        client__source=ClientSource.PARTNER,
        occurred_at__lt=until,
        refunded_amount__lt=F("amount"),
    )
    if since is not None:
        purchases = purchases.filter(occurred_at__gte=since)
    sales = purchases.values("client__source_detail").annotate(
        purchases=Count("pk"),
        buyers=Count("client_id", distinct=True),
        revenue=Coalesce(Sum(F("amount") - F("refunded_amount")), ZERO),
    )
    for r in sales:
        row = rows.get(r["client__source_detail"] or "—")
        if row is not None:
            row.update(purchases=r["purchases"], buyers=r["buyers"], revenue=q(r["revenue"]))
    return sorted(rows.values(), key=lambda r: (-r["clients"], r["name"]))
