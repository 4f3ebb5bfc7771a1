"""Campaign tasks: one merchant's daily run (queued by its beat schedule) and the run of
every merchant (manual catch-up)."""

from datetime import date

from celery import shared_task

from onboarding.models import Merchant

from ..campaigns.run import campaigns_run_day
from .delivery import deliver_pending_outbox


@shared_task(name="loyalty.tasks.run_campaigns_for_merchant", bind=True, acks_late=True)
def run_campaigns_for_merchant(self, merchant_id: int, day: str | None = None) -> dict | None:
    """One merchant's campaign day (today in its time zone unless `day` is given), then queue
    delivery of what it wrote on the same queue. Safe to re-deliver: the run is idempotent."""
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        return None
    report = campaigns_run_day(merchant=merchant, day=date.fromisoformat(day) if day else None)
    if report.message_ids:
        queue = (self.request.delivery_info or {}).get("routing_key")
        deliver_pending_outbox.apply_async(
            kwargs={"merchant_id": merchant_id, "queue": queue}, queue=queue
        )
    return report.as_dict()


@shared_task(name="loyalty.tasks.run_campaigns_all")
def run_campaigns_all(day: str | None = None) -> int:
    """Queue the daily run of every merchant (manual catch-up of everything)."""
    ids = list(Merchant.objects.order_by("pk").values_list("pk", flat=True))
    for merchant_id in ids:
        run_campaigns_for_merchant.delay(merchant_id, day)
    return len(ids)
