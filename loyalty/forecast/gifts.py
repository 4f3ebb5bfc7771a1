"""Campaign gifts in a forecast: when the merchant's active birthday, win-back, check-growth
and welcome campaigns would give a replayed member a certificate or points, on the
campaigns' own dates (`loyalty.campaigns.dates`). Certificates pay at the till by the engine's
`certificate_share`."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from onboarding.money import ZERO

from ..campaigns.dates import birthday_in_year, gift_last_day
from ..models import Campaign, CampaignKind, RewardForm

FORECAST_KINDS = (
    CampaignKind.BIRTHDAY,
    CampaignKind.WINBACK,
    CampaignKind.CHECK_GROWTH,
    CampaignKind.WELCOME,
)


class Gift:
    """A certificate as the engine's `certificate_share` reads it."""

    __slots__ = ("campaign", "points", "used_points", "redemption_cap_percent", "last_day", "burns")

    def __init__(self, campaign, day: date):
        self.campaign = campaign
        self.points = campaign.reward_points
        self.used_points = ZERO
        self.redemption_cap_percent = campaign.redemption_cap_percent or ZERO
        self.last_day = gift_last_day(day, campaign.certificate_valid_days or 1)
        self.burns = campaign.certificate_remainder_burns


@dataclass
class CampaignTally:
    campaign_id: int
    name: str
    kind: str
    reward_form: str
    issued: int = 0
    face_value: Decimal = ZERO
    redeemed: Decimal = ZERO


def campaigns_for_forecast(merchant) -> tuple[list, list]:
    """(campaigns the forecast replays, active campaigns it cannot: reviews, segment gifts,
    partner certificates depend on what clients do outside the purchase history)."""
    active = list(Campaign.objects.filter(merchant=merchant, is_active=True).order_by("pk"))
    replayed = [c for c in active if c.kind in FORECAST_KINDS and c.reward_points]
    return replayed, [c for c in active if c not in replayed]


def birthday_issue_days(birthday: date, days_before: int, first: date, last: date) -> list:
    """The days from `first` to `last` a birthday gift `days_before` ahead is given."""
    days = []
    for year in range(first.year, last.year + 2):
        issue = birthday_in_year(birthday, year) - timedelta(days=days_before)
        if first <= issue <= last:
            days.append(issue)
    return days


def winback_issue_day(campaign, last: date | None, day: date) -> date | None:
    """The day a win-back gift was given to a member whose last purchase was `last`, if that
    day came by `day`."""
    if last is None:
        return None
    due = last + timedelta(days=campaign.days_after_last_purchase or 0)
    return due if due <= day else None


def is_certificate(campaign) -> bool:
    return campaign.reward_form == RewardForm.CERTIFICATE
