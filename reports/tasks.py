"""Celery entry points (schedule `reports.tasks.refresh_reports` nightly with celery beat)."""

from celery import shared_task

from onboarding.models import Merchant

from .day_kept import keep_day_all
from .rollup import refresh_due_merchants, reports_refresh


@shared_task
def refresh_reports(merchant_id: int | None = None, full: bool = False) -> int:
    """Refresh one merchant's rollup and snapshot, or every merchant large enough to need one
    (incrementally where a snapshot exists, unless `full`)."""
    merchants = [Merchant.objects.get(pk=merchant_id)] if merchant_id else refresh_due_merchants()
    for merchant in merchants:
        reports_refresh(merchant=merchant, full=full)
    return len(merchants)


@shared_task
def keep_day() -> int:
    """Keep the day's purchases of every large merchant's dashboard (`reports.day_kept`): the
    periodic task "Reports: keep the day's dashboard figures", every 10 minutes."""
    return keep_day_all()
