"""Per-campaign figures for the admin: issued, certificates redeemed, revenue of purchases
that used the campaign's certificates (kept amount: check minus refunds)."""

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from ..models import CampaignIssuance, Certificate, Purchase

_MONEY = DecimalField(max_digits=16, decimal_places=2)


def campaign_stats_annotations() -> dict:
    """Annotations for a Campaign queryset: `stat_issued`, `stat_redeemed`, `stat_revenue`.
    Each is a correlated subquery (no join fan-out), served by the foreign-key indexes."""
    issued = (
        CampaignIssuance.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(n=Count("pk"))
        .values("n")
    )
    redeemed = (
        Certificate.objects.filter(campaign=OuterRef("pk"), status=Certificate.Status.REDEEMED)
        .order_by()
        .values("campaign")
        .annotate(n=Count("pk"))
        .values("n")
    )
    revenue = (
        Purchase.objects.filter(
            pk__in=Certificate.objects.filter(
                campaign=OuterRef(OuterRef("pk")), redeemed_purchase__isnull=False
            ).values("redeemed_purchase"),
            merchant=OuterRef("merchant"),
        )
        .order_by()
        .values("merchant")
        .annotate(
            s=Sum(
                ExpressionWrapper(F("amount") - F("refunded_amount"), output_field=_MONEY),
            )
        )
        .values("s")
    )
    return {
        "stat_issued": Coalesce(Subquery(issued), Value(0)),
        "stat_redeemed": Coalesce(Subquery(redeemed), Value(0)),
        "stat_revenue": Coalesce(
            Subquery(revenue, output_field=_MONEY), Value(0), output_field=_MONEY
        ),
    }
