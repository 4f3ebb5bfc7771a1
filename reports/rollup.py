"""Maintained aggregates for large merchants: the daily rollup and the nightly snapshot.

`reports_refresh` rebuilds a merchant's rollup up to yesterday (local) and recomputes the
client-level figures of the default period; the dashboard then reads the rollup plus the
live purchases of today. Run it nightly (`manage.py refresh_reports`, or the Celery task
`reports.tasks.refresh_reports`) and on demand after back-dated imports.
"""

import time as clock
from datetime import date, timedelta

from django.db import models, transaction
from django.utils import timezone

from loyalty.models import Purchase
from onboarding.models import Merchant

from . import aggregates as agg
from .aggregates import Period
from .metrics import ROLLUP_MIN_PURCHASES, client_level, default_period
from .models import DailyMembers, DailySales, ReportSnapshot
from .pointb import to_json


def rollup_rebuild(*, merchant: Merchant, through: date) -> int:
    """Replace the merchant's rollup with every day ≤ `through`. Returns rows written."""
    period = Period(start=None, end=through)
    sales = agg.sales_live(merchant, period, by=("day", "branch_id", "channel", "source_detail"))
    joined = agg.members_live(merchant, period, by=("day", "channel", "source_detail"))
    with transaction.atomic():
        DailySales.objects.filter(merchant=merchant).delete()
        DailyMembers.objects.filter(merchant=merchant).delete()
        DailySales.objects.bulk_create(
            (DailySales(merchant=merchant, **row) for row in sales if row.get("day")),
            batch_size=5000,
        )
        DailyMembers.objects.bulk_create(
            (
                DailyMembers(
                    merchant=merchant,
                    day=row["day"],
                    channel=row["channel"],
                    source_detail=row.get("source_detail") or "",
                    joined=row["joined"],
                )
                for row in joined
                if row.get("day")
            ),
            batch_size=5000,
        )
    return len(sales) + len(joined)


def reports_refresh(*, merchant: Merchant, today: date | None = None) -> ReportSnapshot:
    """Rebuild the rollup up to yesterday and the snapshot of client-level figures."""
    started = clock.monotonic()
    today = today or merchant.local_today()
    through = today - timedelta(days=1)
    rollup_rebuild(merchant=merchant, through=through)
    clients = client_level(merchant, default_period(merchant, today=today), today=today)
    snapshot, _created = ReportSnapshot.objects.update_or_create(
        merchant=merchant,
        defaults={
            "rollup_through": through,
            "purchases_total": Purchase.objects.filter(merchant=merchant).count(),
            "clients": to_json(clients),
            "refreshed_at": timezone.now(),
            "took_seconds": round(clock.monotonic() - started, 3),
        },
    )
    return snapshot


def reports_drop(*, merchant: Merchant) -> None:
    """Forget the rollup and snapshot: the dashboard goes back to live figures."""
    DailySales.objects.filter(merchant=merchant).delete()
    DailyMembers.objects.filter(merchant=merchant).delete()
    ReportSnapshot.objects.filter(merchant=merchant).delete()


def refresh_due_merchants() -> list[Merchant]:
    """Merchants that need the rollup: large ones, and any that already has a snapshot."""
    from django.db.models import Count

    large = (
        Purchase.objects.order_by()
        .values("merchant_id")
        .annotate(n=Count("id"))
        .filter(n__gte=ROLLUP_MIN_PURCHASES)
        .values("merchant_id")
    )
    return list(
        Merchant.objects.filter(
            models.Q(pk__in=large) | models.Q(report_snapshot__isnull=False)
        ).order_by("pk")
    )
