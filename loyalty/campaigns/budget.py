"""Campaign budgets: a monthly cap in points or money, and the projected monthly cost.

A reward costs its points (a certificate its face value); a point pays one unit of the
merchant's currency, so a budget in money and one in points count the same amounts and differ
in how they read. The month is the merchant's local calendar month of the issuing moment.

The cap is enforced inside the issuing transaction (`issuance._issue_chunk`): after the
clients are locked it locks the campaign row, reads what the month has spent and lets only
as many rewards through as fit; two runs at once queue on that lock, so the second sees what
the first committed and the cap is never passed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Sum

from crm.expressions import birthday_md_q, with_birthday_md
from crm.models import Client, Review
from onboarding.money import q

from ..models import Campaign, CampaignKind, LedgerEntry, LedgerKind, Purchase, RewardForm
from .audience import campaign_audience_q
from .dates import day_start
from .selection import review_platform_filter

PROJECTION_DAYS = 90
MONTH_DAYS = Decimal(30)


def month_bounds(moment: dt.datetime, tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The local calendar month containing `moment`, as [start, end) aware datetimes."""
    local = moment.astimezone(tzinfo)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + dt.timedelta(days=32)).replace(day=1)
    return start, following


def budget_spent(*, campaign: Campaign, moment: dt.datetime, tzinfo) -> Decimal:
    """Points (certificate face values) the campaign issued in the month of `moment`."""
    start, end = month_bounds(moment, tzinfo)
    total = campaign.issuances.filter(issued_at__gte=start, issued_at__lt=end).aggregate(
        s=Sum("points")
    )["s"]
    return q(total or 0)


def has_budget(campaign: Campaign) -> bool:
    return bool(campaign.budget_unit) and campaign.monthly_budget is not None


def budget_room(*, campaign: Campaign, moment: dt.datetime, tzinfo) -> int | None:
    """How many more rewards fit in this month's budget (None: no budget). Call with the
    campaign row locked (`lock_campaign`) so the answer holds until the transaction ends."""
    if not has_budget(campaign):
        return None
    cost = q(campaign.reward_points)
    if cost <= 0:
        return None
    left = q(campaign.monthly_budget) - budget_spent(
        campaign=campaign, moment=moment, tzinfo=tzinfo
    )
    return max(int(left // cost), 0)


def lock_campaign(campaign: Campaign) -> None:
    """Lock the campaign row until the transaction ends (taken after the clients' locks,
    the order every issuing path uses)."""
    list(Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk"))


# --- Projection ------------------------------------------------------------------------------


@dataclass
class Projection:
    """What the campaign would have rewarded over the last PROJECTION_DAYS days."""

    events: int | None  # None: the kind is sent by hand, no monthly figure
    reward: Decimal
    since: dt.date
    until: dt.date

    @property
    def monthly_rewards(self) -> Decimal | None:
        if self.events is None:
            return None
        return q(Decimal(self.events) * MONTH_DAYS / PROJECTION_DAYS)

    @property
    def monthly_cost(self) -> Decimal | None:
        if self.events is None:
            return None
        return q(Decimal(self.events) * self.reward * MONTH_DAYS / PROJECTION_DAYS)


def _events(campaign: Campaign, since: dt.date, until: dt.date) -> int | None:
    """How many rewards the campaign's rule would have given on the days [since, until)."""
    merchant = campaign.merchant
    start, end = day_start(merchant, since), day_start(merchant, until)
    audience = campaign_audience_q(campaign)
    kind = campaign.kind
    if kind == CampaignKind.BIRTHDAY:
        days = [since + dt.timedelta(days=n) for n in range((until - since).days)]
        match = birthday_md_q((d.month, d.day) for d in days)
        return with_birthday_md(Client.objects).filter(match, audience, merchant=merchant).count()
    if kind == CampaignKind.WINBACK:
        lapse = dt.timedelta(days=campaign.days_after_last_purchase or 0)
        # Clients whose latest purchase before the window's end lapsed inside the window.
        later = Purchase.objects.filter(
            client_id=OuterRef("client_id"),
            occurred_at__gt=OuterRef("occurred_at"),
            occurred_at__lt=OuterRef("occurred_at") + lapse,
        )
        return (
            Purchase.objects.filter(
                campaign_audience_q(campaign, via="client__"),
                merchant=merchant,
                client__isnull=False,
                occurred_at__gte=start - lapse,
                occurred_at__lt=end - lapse,
            )
            .exclude(Exists(later))
            .count()
        )
    if kind == CampaignKind.CHECK_GROWTH:
        return (
            Purchase.objects.filter(
                campaign_audience_q(campaign, via="client__"),
                merchant=merchant,
                client__isnull=False,
                occurred_at__gte=start,
                occurred_at__lt=end,
            )
            .annotate(kept=F("amount") - F("refunded_amount"))
            .filter(kept__gte=campaign.min_check_amount or 0)
            .count()
        )
    if kind == CampaignKind.REVIEW_REWARD:
        return Review.objects.filter(
            review_platform_filter(campaign),
            campaign_audience_q(campaign, via="client__"),
            merchant=merchant,
            client__isnull=False,
            created_at__gte=start,
            created_at__lt=end,
        ).aggregate(n=Count("client_id", distinct=True))["n"]
    if kind == CampaignKind.WELCOME:
        joined = Client.objects.filter(merchant=merchant, joined_at__gte=start, joined_at__lt=end)
        if campaign.reward_form == RewardForm.POINTS:
            credited = LedgerEntry.objects.filter(client_id=OuterRef("pk"), kind=LedgerKind.WELCOME)
            joined = joined.exclude(Exists(credited))
        return joined.count()
    return None


def campaign_projection(*, campaign: Campaign, today: dt.date | None = None) -> Projection:
    """Replay the campaign's rule over the merchant's last PROJECTION_DAYS local days (today
    excluded): the rewards it would have given, per 30-day month, times the reward. Segment
    gifts and partner certificates are sent by hand and have no monthly figure. A handful
    of aggregate queries; works on an unsaved campaign."""
    today = today or campaign.merchant.local_today()
    since = today - dt.timedelta(days=PROJECTION_DAYS)
    return Projection(
        events=_events(campaign, since, today),
        reward=q(campaign.reward_points or 0),
        since=since,
        until=today - dt.timedelta(days=1),
    )
