"""Segment gifts: who is in a segment, preview figures, validation messages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.models import Segment
from loyalty.campaigns import providers
from loyalty.campaigns.segments import (
    SegmentGiftError,
    segment_client_ids,
    segment_gift_preview,
    segment_gift_send,
)
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def gift(merchant, **kw):
    fields = {
        "kind": "segment_gift",
        "reward_form": "points",
        "reward_points": Decimal(5),
        "burn_after_days": 3,
        "certificate_valid_days": None,
        "redemption_cap_percent": None,
        **kw,
    }
    return CampaignFactory(merchant=merchant, **fields)


def test_phone_list_segment_normalises_and_ignores_unknown_and_invalid():
    merchant = MerchantFactory()
    a = MemberFactory(merchant=merchant, phone="+79131112233")
    MemberFactory(merchant=merchant, phone="+79131112234")
    MemberFactory(phone="+79131112235")  # another merchant's client
    segment = Segment.objects.create(
        merchant=merchant,
        name="List",
        kind="phone_list",
        phones=["8 (913) 111-22-33", "not a phone", "+79131112235"],
    )
    assert segment_client_ids(segment=segment, today=merchant.local_today()) == [a.pk]


def test_preview_counts_clients_and_points():
    merchant = MerchantFactory(time_zone="Asia/Tbilisi")
    campaign = gift(merchant)
    segment = Segment.objects.create(merchant=merchant, name="L", kind="lapsed", lapsed_days=10)
    old = timezone.now() - timedelta(days=20)
    for _ in range(4):
        MemberFactory(merchant=merchant, last_purchase_at=old)
    preview = segment_gift_preview(campaign=campaign, segment=segment)
    assert (preview.clients, preview.points_each, preview.points_total) == (
        4,
        Decimal("5.00"),
        Decimal("20.00"),
    )
    assert preview.burn_at - timezone.now() <= timedelta(days=3)
    assert segment_gift_send(campaign=campaign, segment=segment).issued == 4
    after = segment_gift_preview(campaign=campaign, segment=segment)
    assert (after.clients, after.already_gifted) == (0, 4)


def test_validation_messages():
    merchant = MerchantFactory()
    segment = Segment.objects.create(merchant=merchant, name="L", kind="lapsed", lapsed_days=10)
    birthday = CampaignFactory(merchant=merchant, kind="birthday", days_before=1)
    with pytest.raises(SegmentGiftError, match="segment gift"):
        segment_gift_preview(campaign=birthday, segment=segment)
    with pytest.raises(SegmentGiftError, match="different merchants"):
        segment_gift_send(campaign=gift(MerchantFactory()), segment=segment)
    with pytest.raises(SegmentGiftError, match="switched off"):
        segment_gift_send(campaign=gift(merchant, is_active=False), segment=segment)
    no_days = Segment.objects.create(merchant=merchant, name="X", kind="lapsed")
    with pytest.raises(SegmentGiftError, match="no purchase for"):
        segment_gift_preview(campaign=gift(merchant), segment=no_days)


def test_rfm_segment_uses_the_report_or_says_it_is_missing(monkeypatch):
    merchant = MerchantFactory()
    client = MemberFactory(merchant=merchant)
    segment = Segment.objects.create(
        merchant=merchant, name="Champions", kind="rfm", rfm_segment="champions"
    )
    # The reports app installed its provider at start-up.
    from reports.rfm import segment_client_ids as rfm_ids

    assert providers.rfm_provider() is rfm_ids
    monkeypatch.setattr(
        providers, "_rfm_provider", lambda *, merchant, segment, today: [client.pk, 10**9]
    )
    assert segment_client_ids(segment=segment, today=merchant.local_today()) == [client.pk]

    def unknown(*, merchant, segment, today):
        raise ValueError("Unknown RFM segment 'champions'")

    monkeypatch.setattr(providers, "_rfm_provider", unknown)
    with pytest.raises(SegmentGiftError, match="Unknown RFM segment"):
        segment_client_ids(segment=segment, today=merchant.local_today())

    monkeypatch.setattr(providers, "_rfm_provider", None)  # no reports app installed
    with pytest.raises(SegmentGiftError, match="not available"):
        segment_client_ids(segment=segment, today=merchant.local_today())
