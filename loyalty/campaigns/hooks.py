"""Event hooks, subscribed at start-up by `signals.connect` (LoyaltyConfig.ready), which
imports this module when an event first arrives, not at start-up:

- the purchase engine announces committed purchases (loyalty.events.PURCHASES_RECORDED, once
  per transaction, and only checks that may reach an active check-growth campaign: the engine
  reads the lowest active threshold in its first statement, so a merchant without such a
  campaign pays nothing) → `after_purchases`: check-growth rewards;
- the joining service announces new members (CLIENTS_JOINED) → `after_join`: the welcome
  campaign's reward;
- a recorded review calls `after_review` (connected in `signals`).

All are idempotent and never raise into the caller — a failure is logged and the daily run's
catch-up sweep issues it."""

import logging

from django.db.models import F
from django.utils import timezone

from crm.models import Client, Review
from onboarding.models import Merchant

from ..models import Campaign, CampaignKind, Purchase
from ..tasks import delivery as delivery_tasks
from .issuance import IssueOutcome, issue_rewards
from .selection import (
    REVIEW_PERIOD,
    WELCOME_PERIOD,
    review_platform_filter,
    welcome_program_points_exclusion,
)

logger = logging.getLogger("loyalty.campaigns")


def _queue_delivery(outcome: IssueOutcome) -> None:
    if outcome.message_ids:
        delivery_tasks.enqueue_deliveries(outcome.message_ids)


def check_growth_issue(*, purchase_id: int) -> IssueOutcome | None:
    """Issue every active check-growth reward whose threshold the purchase reaches
    (once per purchase: the period is the purchase id)."""
    return check_growth_issue_many(purchase_ids=[purchase_id])


def check_growth_issue_many(*, purchase_ids) -> IssueOutcome | None:
    """`check_growth_issue` for many purchases: one read of the purchases, one of the
    campaigns, one issuance call per campaign and merchant. None if nothing qualified."""
    rows = list(
        Purchase.objects.filter(pk__in=list(purchase_ids), client__isnull=False)
        .annotate(kept=F("amount") - F("refunded_amount"))
        .values_list("pk", "merchant_id", "client_id", "kept")
    )
    if not rows:
        return None
    merchants = {m.pk: m for m in Merchant.objects.filter(pk__in={r[1] for r in rows})}
    campaigns = Campaign.objects.filter(
        merchant_id__in=list(merchants),
        kind=CampaignKind.CHECK_GROWTH,
        is_active=True,
        min_check_amount__isnull=False,
    ).order_by("pk")
    total = None
    moment = timezone.now()
    for campaign in campaigns:
        items = [
            (client_id, str(pk))
            for pk, merchant_id, client_id, kept in rows
            if merchant_id == campaign.merchant_id and kept >= campaign.min_check_amount
        ]
        if not items:
            continue
        merchant = merchants[campaign.merchant_id]
        outcome = issue_rewards(
            campaign=campaign,
            items=items,
            moment=moment,
            merchant_name=merchant.name,
            tzinfo=merchant.tzinfo,
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


def welcome_issue(*, client_ids) -> IssueOutcome | None:
    """Give every active welcome campaign's reward to these clients who are members, once per
    client and campaign (the period is constant). A campaign in points skips clients who got
    the program's own welcome points (see selection.welcome_program_points_exclusion)."""
    rows = list(
        Client.objects.filter(pk__in=list(client_ids), joined_at__isnull=False).values_list(
            "pk", "merchant_id"
        )
    )
    if not rows:
        return None
    campaigns = (
        Campaign.objects.filter(
            merchant_id__in={merchant_id for _cid, merchant_id in rows},
            kind=CampaignKind.WELCOME,
            is_active=True,
        )
        .select_related("merchant")
        .order_by("pk")
    )
    total = None
    moment = timezone.now()
    for campaign in campaigns:
        ids = [cid for cid, merchant_id in rows if merchant_id == campaign.merchant_id]
        eligible = Client.objects.filter(
            welcome_program_points_exclusion(campaign), pk__in=ids
        ).values_list("pk", flat=True)
        items = [(cid, WELCOME_PERIOD) for cid in eligible]
        if not items:
            continue
        merchant = campaign.merchant
        outcome = issue_rewards(
            campaign=campaign,
            items=items,
            moment=moment,
            merchant_name=merchant.name,
            tzinfo=merchant.tzinfo,
        )
        if total is None:
            total = outcome
        else:
            total.add(outcome)
    return total


def after_join(client_ids) -> IssueOutcome | None:
    """Called once the joining of these clients is committed: the welcome reward, then
    delivery."""
    ids = list(client_ids)
    if not ids:
        return None
    try:
        outcome = welcome_issue(client_ids=ids)
    except Exception:
        logger.exception("welcome issuance failed for clients %s", ids[:20])
        return None
    if outcome:
        _queue_delivery(outcome)
    return outcome


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


def after_purchases(purchase_ids) -> IssueOutcome | None:
    """Called by the purchase engine once per committed transaction with its new purchases
    that may reach a check-growth threshold: certificates, then delivery."""
    ids = list(purchase_ids)
    if not ids:
        return None
    try:
        outcome = check_growth_issue_many(purchase_ids=ids)
    except Exception:
        logger.exception("check-growth issuance failed for purchases %s", ids[:20])
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
