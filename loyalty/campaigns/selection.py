"""Set-based candidate selection for the daily run: one query per rule (per target day for
birthdays), never one per client. Each returns (client_id, period_key) pairs; already issued
pairs are filtered by the issuance step, which is the real guarantee."""

import calendar
from datetime import date, timedelta

from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When

from crm.expressions import birthday_md_q, with_birthday_md
from crm.models import Client, Review

from ..models import (
    Campaign,
    CampaignIssuance,
    LedgerEntry,
    LedgerKind,
    Purchase,
    ReviewPlatform,
    RewardForm,
)
from .audience import audience_q
from .dates import CATCH_UP_DAYS, birthday_targets, day_start, local_date


def _issued(campaign: Campaign, period_key) -> Exists:
    return Exists(
        CampaignIssuance.objects.filter(
            campaign=campaign, client_id=OuterRef("pk"), period_key=period_key
        )
    )


def birthday_candidates(*, campaign: Campaign, day: date) -> list[tuple[int, str]]:
    """Clients whose birthday falls `days_before` days after `day` (or on the few days before
    that a missed run left behind). Period: the year of the birthday being celebrated;
    29 February counts as 28 February in common years. One look-up of the (merchant, month and
    day) index `client_birthday_md`."""
    wanted, whens = [], []
    for target in birthday_targets(day, campaign.days_before or 0):
        days = [(target.month, target.day)]
        if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
            days.append((2, 29))
        wanted += days
        whens.append(When(birthday_md_q(days), then=Value(str(target.year))))
    match = birthday_md_q(wanted)
    rows = (
        with_birthday_md(Client.objects)
        .filter(
            match,
            audience_q(campaign.audience),
            merchant_id=campaign.merchant_id,
            birthday__isnull=False,
        )
        .annotate(period=Case(*whens, output_field=CharField()))
        .exclude(_issued(campaign, OuterRef("period")))
        .values_list("pk", "period")
    )
    return list(rows)


def winback_candidates(*, campaign: Campaign, day: date) -> list[tuple[int, str]]:
    """Clients whose last purchase was `days_after_last_purchase` days before `day` (local
    dates; up to CATCH_UP_DAYS-1 days more if a run was missed). Period: the local date of
    that last purchase, so a new purchase re-arms the campaign."""
    merchant = campaign.merchant
    days = campaign.days_after_last_purchase or 0
    newest = day - timedelta(days=days)
    oldest = newest - timedelta(days=CATCH_UP_DAYS - 1)
    rows = Client.objects.filter(
        audience_q(campaign.audience),
        merchant=merchant,
        last_purchase_at__gte=day_start(merchant, oldest),
        last_purchase_at__lt=day_start(merchant, newest + timedelta(days=1)),
    ).values_list("pk", "last_purchase_at")
    return [(cid, local_date(merchant, at).isoformat()) for cid, at in rows]


def check_growth_candidates(*, campaign: Campaign, day: date) -> list[tuple[int, str]]:
    """Purchases ≥ the threshold in the last CATCH_UP_DAYS days (since the campaign exists)
    that the purchase hook did not reward. Period: the purchase id."""
    merchant = campaign.merchant
    since = max(day_start(merchant, day - timedelta(days=CATCH_UP_DAYS - 1)), campaign.created_at)
    rows = (
        Purchase.objects.filter(
            audience_q(campaign.audience, via="client__"),
            merchant=merchant,
            client__isnull=False,
            occurred_at__gte=since,
            occurred_at__lt=day_start(merchant, day + timedelta(days=1)),
        )
        .annotate(kept=F("amount") - F("refunded_amount"))
        .filter(kept__gte=campaign.min_check_amount or 0)
        .values_list("client_id", "pk")
    )
    return [(cid, str(pid)) for cid, pid in rows]


REVIEW_PERIOD = "review"


def review_platform_filter(campaign: Campaign) -> Q:
    if not campaign.review_platform or campaign.review_platform == ReviewPlatform.ANY:
        return Q()
    return Q(platform=campaign.review_platform)


def review_candidates(*, campaign: Campaign, day: date) -> list[tuple[int, str]]:
    """Clients with a review on the campaign's platform in the last CATCH_UP_DAYS days (since
    the campaign exists) not yet rewarded. Once per client: the period is constant."""
    merchant = campaign.merchant
    since = max(day_start(merchant, day - timedelta(days=CATCH_UP_DAYS - 1)), campaign.created_at)
    ids = (
        Review.objects.filter(
            review_platform_filter(campaign),
            audience_q(campaign.audience, via="client__"),
            merchant=merchant,
            client__isnull=False,
            created_at__gte=since,
            created_at__lt=day_start(merchant, day + timedelta(days=1)),
        )
        .values_list("client_id", flat=True)
        .distinct()
    )
    return [(cid, REVIEW_PERIOD) for cid in ids]


WELCOME_PERIOD = "welcome"


def welcome_program_points_exclusion(campaign: Campaign, *, via: str = ""):
    """A welcome campaign in points never tops up the program's own welcome points: clients
    already credited with them (a `welcome` ledger entry) are left out. A certificate is a
    different reward (capped, with an end date) and goes to everyone who joined."""
    if campaign.reward_form != RewardForm.POINTS:
        return Q()
    credited = LedgerEntry.objects.filter(
        client_id=OuterRef(f"{via}pk" if via else "pk"), kind=LedgerKind.WELCOME
    )
    return ~Exists(credited)


def welcome_candidates(*, campaign: Campaign, day: date) -> list[tuple[int, str]]:
    """Members who joined in the last CATCH_UP_DAYS days (since the campaign exists) and were
    not welcomed yet — the catch-up of the joining hook, and the path for members created
    directly (admin, import with a joining date). Once per client: the period is constant."""
    merchant = campaign.merchant
    since = max(day_start(merchant, day - timedelta(days=CATCH_UP_DAYS - 1)), campaign.created_at)
    ids = Client.objects.filter(
        welcome_program_points_exclusion(campaign),
        merchant=merchant,
        joined_at__gte=since,
        joined_at__lt=day_start(merchant, day + timedelta(days=1)),
    ).values_list("pk", flat=True)
    return [(cid, WELCOME_PERIOD) for cid in ids]
