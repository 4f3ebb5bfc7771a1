"""Celery entry points (schedule `reports.tasks.refresh_reports` nightly with celery beat)."""

from celery import shared_task

from onboarding.models import Merchant

from .rollup import refresh_due_merchants, reports_refresh


@shared_task
def refresh_reports(merchant_id: int | None = None, full: bool = False) -> int:
    """Refresh one merchant's rollup and snapshot, or every merchant large enough to need one
    (incrementally where a snapshot exists, unless `full`)."""
    merchants = [Merchant.objects.get(pk=merchant_id)] if merchant_id else refresh_due_merchants()
    for merchant in merchants:
        reports_refresh(merchant=merchant, full=full)
    return len(merchants)
