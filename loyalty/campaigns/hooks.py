"""Event hooks: the purchase engine calls `after_purchase` when a purchase commits; a
recorded review calls `after_review` (connected in `signals`). Both are idempotent and never
raise into the caller — a failure is logged and the daily run's catch-up sweep issues it."""

import logging

from django.utils import timezone

from crm.models import Review

from ..models import Campaign, CampaignKind, Purchase
from .issuance import IssueOutcome, issue_rewards
from .selection import REVIEW_PERIOD, review_platform_filter

logger = logging.getLogger("loyalty.campaigns")


def _queue_delivery(outcome: IssueOutcome) -> None:
    if outcome.message_ids:
        from loyalty.tasks import enqueue_deliveries

        enqueue_deliveries(outcome.message_ids)


def check_growth_issue(*, purchase_id: int) -> IssueOutcome | None:
    """Issue every active check-growth reward whose threshold the purchase reaches
    (once per purchase: the period is the purchase id)."""
    purchase = (
        Purchase.objects.select_related("merchant")
        .filter(pk=purchase_id, client__isnull=False)
        .first()
    )
    if purchase is None:
        return None
    kept = purchase.amount - purchase.refunded_amount
    total = None
    for campaign in Campaign.objects.filter(
        merchant_id=purchase.merchant_id,
        kind=CampaignKind.CHECK_GROWTH,
        is_active=True,
        min_check_amount__lte=kept,
    ).order_by("pk"):
        outcome = issue_rewards(
            campaign=campaign,
            items=[(purchase.client_id, str(purchase.pk))],
            moment=timezone.now(),
            merchant_name=purchase.merchant.name,
            tzinfo=purchase.merchant.tzinfo,
        )
        if total is None:
            total = outcome
        else:
            total.add(outcome)
    return total


def review_reward_issue(*, review_id: int) -> IssueOutcome | None:
    """Reward the review's client once per matching review campaign (platform or "any")."""
    review = (
        Review.objects.select_related("merchant").filter(pk=review_id, client__isnull=False).first()
    )
    if review is None:
        return None
    total = None
    campaigns = Campaign.objects.filter(
        merchant_id=review.merchant_id, kind=CampaignKind.REVIEW_REWARD, is_active=True
    ).order_by("pk")
    for campaign in campaigns:
        if not Review.objects.filter(review_platform_filter(campaign), pk=review.pk).exists():
            continue
        outcome = issue_rewards(
            campaign=campaign,
            items=[(review.client_id, REVIEW_PERIOD)],
            moment=timezone.now(),
            merchant_name=review.merchant.name,
            tzinfo=review.merchant.tzinfo,
        )
        if total is None:
            total = outcome
        else:
            total.add(outcome)
    return total


def after_purchase(purchase_id: int) -> IssueOutcome | None:
    """Called by the purchase engine on commit: check-growth certificates, then delivery."""
    try:
        outcome = check_growth_issue(purchase_id=purchase_id)
    except Exception:
        logger.exception("check-growth issuance failed for purchase %s", purchase_id)
        return None
    if outcome:
        _queue_delivery(outcome)
    return outcome


def after_review(review_id: int) -> IssueOutcome | None:
    """Called when a review is recorded: the review reward, then delivery."""
    try:
        outcome = review_reward_issue(review_id=review_id)
    except Exception:
        logger.exception("review reward failed for review %s", review_id)
        return None
    if outcome:
        _queue_delivery(outcome)
    return outcome
