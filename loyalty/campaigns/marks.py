"""Days the daily run completed: a re-run of such a day is decided by one look-up.

A mark (`CampaignDayMark`) is written after a run of a merchant's local day committed, with
a fingerprint of the settings each part ran under: every campaign's own fields, and for
expiry the program's expiry period and the merchant's time zone. A re-run of the same day
skips each part whose fingerprint is unchanged — an edited, new or re-activated campaign, or
a changed expiry period, runs again (idempotently, as ever). What only time can make due
within the day still runs, as index look-ups: certificates whose validity ended since, and
gifts whose burn time passed since the marked run. Rewards for events after the marked run
(a purchase or review the hooks missed, a member created directly) are the next day's
catch-up (CATCH_UP_DAYS), as for any event after a run; `run_campaigns --full` runs a day
in full again (client data fixed after it ran). A run killed half-way writes no mark, so the
next run redoes the whole day."""

import hashlib
import json
from datetime import date, datetime

from django.db import IntegrityError, transaction

from onboarding.models import Merchant

from ..models import Campaign, CampaignDayMark

EXPIRY = "expiry"


def campaign_key(campaign: Campaign) -> str:
    return f"campaign:{campaign.pk}"


def _digest(values) -> str:
    raw = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def campaign_stamp(campaign: Campaign, merchant: Merchant) -> str:
    """Every stored field of the campaign (an edit through any path changes it) and the
    merchant's time zone (which moves the local day)."""
    values = {f.attname: f.value_from_object(campaign) for f in campaign._meta.concrete_fields}
    values["time_zone"] = merchant.time_zone
    return _digest(values)


def expiry_stamp(merchant: Merchant, months: int | None) -> str:
    return _digest({"months": months, "time_zone": merchant.time_zone})


def day_mark(merchant: Merchant, day: date) -> CampaignDayMark | None:
    return CampaignDayMark.objects.filter(merchant=merchant, day=day).first()


def day_mark_write(
    *, merchant: Merchant, day: date, stamps: dict, moment: datetime, previous
) -> None:
    """Record the completed run. Parts a concurrent run of the same day marked stay marked
    (both runs completed them); the later moment is kept."""
    if previous is not None:
        stamps = {**previous.stamps, **stamps}
        moment = max(moment, previous.ran_at)
    updated = CampaignDayMark.objects.filter(merchant=merchant, day=day).update(
        stamps=stamps, ran_at=moment
    )
    if updated:
        return
    try:
        with transaction.atomic():
            CampaignDayMark.objects.create(merchant=merchant, day=day, stamps=stamps, ran_at=moment)
    except IntegrityError:  # a concurrent run of the day marked it first
        CampaignDayMark.objects.filter(merchant=merchant, day=day).update(
            stamps=stamps, ran_at=moment
        )


def day_marks_clear(merchant: Merchant) -> int:
    """Forget every completed day of the merchant (a fix of data the runs read, e.g. clients'
    birthdays rewritten by an import, then a re-run of today)."""
    return CampaignDayMark.objects.filter(merchant=merchant).delete()[0]
