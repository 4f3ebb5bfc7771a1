"""Short-lived gifts to a segment (lapsed clients, an RFM segment, an uploaded phone list):
preview, then send. A K-day gift can be spent on the day it is given and the K-1 days after;
its unspent part burns at the end of that last day in the merchant's time zone, i.e. at the
first daily run after it (see expiry.gifts_burn). Only clients in the campaign's audience get it.

RFM segments are computed by the reports app, which sits above loyalty: it registers its
function by dotted path at start-up (`providers.rfm_provider_register` in its AppConfig.ready),
so loyalty never imports it."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from crm.models import Client, Segment
from crm.phones import phone_or_none
from onboarding.money import q

from ..models import Campaign, CampaignIssuance, CampaignKind, RewardForm
from .audience import audience_q
from .dates import day_start, gift_burn_at, gift_last_day, local_date, run_moment
from .issuance import IssueOutcome, issue_rewards
from .providers import rfm_provider

PHONE_CHUNK = 5000


class SegmentGiftError(ValueError):
    """The gift cannot be previewed or sent; the message says why."""


def segment_client_ids(*, segment: Segment, today: date, audience: str | None = None) -> list[int]:
    """Ids of the merchant's clients in the segment as of the merchant's `today`; with an
    `audience` (Campaign.audience), only the clients it admits."""
    merchant = segment.merchant
    base = Client.objects.filter(merchant=merchant)
    if audience is not None:
        base = base.filter(audience_q(audience))
    if segment.kind == Segment.Kind.LAPSED:
        if not segment.lapsed_days:
            raise SegmentGiftError(_("Set “no purchase for, days” on the segment."))
        cutoff = day_start(merchant, today - timedelta(days=segment.lapsed_days - 1))
        return list(base.filter(last_purchase_at__lt=cutoff).values_list("pk", flat=True))
    if segment.kind == Segment.Kind.RFM:
        rfm_client_ids = rfm_provider()
        if rfm_client_ids is None:
            raise SegmentGiftError(
                _("RFM segments are not available yet: the RFM report is not installed.")
            )
        if not segment.rfm_segment:
            raise SegmentGiftError(_("Choose the RFM segment on the segment."))
        try:
            ids = rfm_client_ids(merchant=merchant, segment=segment.rfm_segment, today=today)
        except ValueError as exc:
            raise SegmentGiftError(str(exc)) from exc
        return list(base.filter(pk__in=ids).values_list("pk", flat=True))
    if segment.kind == Segment.Kind.PHONE_LIST:
        phones = sorted(
            {p for p in (phone_or_none(raw, merchant.country) for raw in segment.phones) if p}
        )
        ids = []
        for start in range(0, len(phones), PHONE_CHUNK):
            ids += base.filter(phone__in=phones[start : start + PHONE_CHUNK]).values_list(
                "pk", flat=True
            )
        return sorted(set(ids))
    raise SegmentGiftError(_("Unknown segment kind."))


def _check(campaign: Campaign, segment: Segment) -> None:
    if campaign.kind != CampaignKind.SEGMENT_GIFT:
        raise SegmentGiftError(_("Choose a “short-lived segment gift” campaign."))
    if campaign.merchant_id != segment.merchant_id:
        raise SegmentGiftError(_("The campaign and the segment belong to different merchants."))
    if not campaign.is_active:
        raise SegmentGiftError(_("The campaign is switched off."))
    if campaign.reward_form != RewardForm.POINTS or not campaign.burn_after_days:
        raise SegmentGiftError(
            _("A segment gift needs points that burn: set the reward form and “burn after”.")
        )
    if not campaign.reward_points or campaign.reward_points <= 0:
        raise SegmentGiftError(_("The reward must be more than zero points."))


def gift_period(segment: Segment, day: date) -> str:
    """One gift per segment per local day: a repeated click sends nothing twice."""
    return f"segment{segment.pk}:{day.isoformat()}"


@dataclass(frozen=True)
class SegmentGiftPreview:
    clients: int
    already_gifted: int
    points_each: Decimal
    points_total: Decimal
    last_day: date
    burn_at: datetime


def segment_gift_preview(
    *, campaign: Campaign, segment: Segment, now: datetime | None = None
) -> SegmentGiftPreview:
    """How many clients would get the gift now and how many points in total."""
    _check(campaign, segment)
    merchant = segment.merchant
    today = local_date(merchant, now) if now else merchant.local_today()
    ids = segment_client_ids(segment=segment, today=today, audience=campaign.audience)
    gifted = set(
        CampaignIssuance.objects.filter(
            campaign=campaign, period_key=gift_period(segment, today)
        ).values_list("client_id", flat=True)
    )
    already = len(gifted.intersection(ids))
    clients = len(ids) - already
    points = q(campaign.reward_points)
    return SegmentGiftPreview(
        clients=clients,
        already_gifted=already,
        points_each=points,
        points_total=q(points * clients),
        last_day=gift_last_day(today, campaign.burn_after_days),
        burn_at=gift_burn_at(merchant, today, campaign.burn_after_days),
    )


def segment_gift_send(
    *, campaign: Campaign, segment: Segment, now: datetime | None = None
) -> IssueOutcome:
    """Gift the campaign's points to every client of the segment in the campaign's audience;
    the unspent part burns at the end of the K-th local day (the day of giving is the first).
    Once per segment per local day (a repeated send issues nothing)."""
    _check(campaign, segment)
    merchant = segment.merchant
    today = local_date(merchant, now) if now else merchant.local_today()
    ids = segment_client_ids(segment=segment, today=today, audience=campaign.audience)
    key = gift_period(segment, today)
    return issue_rewards(
        campaign=campaign,
        items=[(cid, key) for cid in ids],
        moment=run_moment(merchant, today, now),
        merchant_name=merchant.name,
        tzinfo=merchant.tzinfo,
        burn_at=gift_burn_at(merchant, today, campaign.burn_after_days),
    )
