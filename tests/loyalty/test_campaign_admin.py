"""Campaign results in the admin, the segment-gift preview/send page, scoping."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Segment
from loyalty.models import CampaignIssuance, Certificate, LedgerEntry, Purchase
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def specialist(client):
    user = UserFactory(username="spec-campaigns", role="specialist")
    merchant = MerchantFactory(name="ZOLOTOFF")
    merchant.specialists.add(user)
    client.force_login(user)
    return merchant


def test_campaign_changelist_shows_issued_redeemed_and_revenue(client, specialist):
    merchant = specialist
    campaign = CampaignFactory(merchant=merchant, kind="birthday", days_before=10, name="BDAY")
    buyer = MemberFactory(merchant=merchant)
    now = timezone.now()
    purchases = [
        Purchase.objects.create(
            merchant=merchant,
            client=buyer,
            source="cashier",
            occurred_at=now,
            amount=Decimal(amount),
            paid_money=Decimal(amount),
            refunded_amount=Decimal(refunded),
        )
        for amount, refunded in (("10000", "0"), ("5000", "1000"), ("999", "0"))
    ]
    for n, purchase in enumerate(purchases):
        cert = Certificate.objects.create(
            merchant=merchant,
            client=buyer,
            campaign=campaign,
            points=100,
            redemption_cap_percent=20,
            issued_at=now,
            valid_until=now + timedelta(days=5),
            status="redeemed" if n < 2 else "active",
            redeemed_purchase=purchase if n < 2 else None,
        )
        CampaignIssuance.objects.create(
            merchant=merchant,
            campaign=campaign,
            client=buyer,
            period_key=str(n),
            points=100,
            certificate=cert,
            issued_at=now,
        )
    other = MerchantFactory()
    CampaignFactory(merchant=other, name="HIDDEN-CAMPAIGN")

    page = client.get(reverse("admin:loyalty_campaign_changelist"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "BDAY" in html and "HIDDEN-CAMPAIGN" not in html
    assert "₽14,000.00" in html  # 10 000 + (5 000 − 1 000 refunded), English format

    from loyalty.campaigns.stats import campaign_stats_annotations
    from loyalty.models import Campaign

    row = Campaign.objects.annotate(**campaign_stats_annotations()).get(pk=campaign.pk)
    assert (row.stat_issued, row.stat_redeemed, row.stat_revenue) == (3, 2, Decimal("14000.00"))
    detail = client.get(reverse("admin:loyalty_campaign_change", args=[campaign.pk]))
    assert detail.status_code == 200
    assert "₽14,000.00" in detail.content.decode()


def test_issuance_admin_is_read_only_and_scoped(client, specialist):
    page = client.get(reverse("admin:loyalty_campaignissuance_changelist"))
    assert page.status_code == 200
    assert client.get(reverse("admin:loyalty_campaignissuance_add")).status_code == 403


def gift_setup(merchant, lapsed=3, fresh=2):
    campaign = CampaignFactory(
        merchant=merchant,
        kind="segment_gift",
        name="Gift",
        reward_form="points",
        reward_points=Decimal(10),
        burn_after_days=3,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )
    segment = Segment.objects.create(
        merchant=merchant, name="Lapsed 30", kind="lapsed", lapsed_days=30
    )
    long_ago = timezone.now() - timedelta(days=45)
    for _ in range(lapsed):
        MemberFactory(merchant=merchant, last_purchase_at=long_ago)
    for _ in range(fresh):
        MemberFactory(merchant=merchant, last_purchase_at=timezone.now())
    MemberFactory(merchant=merchant)  # never bought: not "lapsed"
    return campaign, segment


def test_segment_gift_page_previews_then_sends_once(
    client, specialist, django_capture_on_commit_callbacks
):
    campaign, segment = gift_setup(specialist)
    url = reverse("admin:loyalty_campaign_segment_gift")
    assert client.get(url, {"campaign": campaign.pk}).status_code == 200

    preview = client.post(url, {"campaign": campaign.pk, "segment": segment.pk, "preview": "1"})
    html = preview.content.decode()
    assert preview.status_code == 200
    assert 'id="segment-gift-preview"' in html
    assert "<td>3</td>" in html and "<td>30</td>" in html  # clients; points each, grouped
    assert not LedgerEntry.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {"campaign": campaign.pk, "segment": segment.pk, "send": "1"})
    assert sent.status_code == 302
    assert LedgerEntry.objects.filter(kind="campaign").count() == 3
    assert all(e.expires_at for e in LedgerEntry.objects.all())
    # A second click the same day gifts nobody again.
    client.post(url, {"campaign": campaign.pk, "segment": segment.pk, "send": "1"})
    assert LedgerEntry.objects.filter(kind="campaign").count() == 3
    again = client.post(url, {"campaign": campaign.pk, "segment": segment.pk, "preview": "1"})
    assert "<td>0</td>" in again.content.decode()


def test_segment_gift_page_rejects_other_merchants_and_mismatches(client, specialist):
    campaign, _segment = gift_setup(specialist)
    other = MerchantFactory()
    foreign_campaign, foreign_segment = gift_setup(other, lapsed=1, fresh=0)
    url = reverse("admin:loyalty_campaign_segment_gift")
    page = client.post(url, {"campaign": campaign.pk, "segment": foreign_segment.pk})
    assert page.status_code == 200
    assert not LedgerEntry.objects.exists()
    assert "errornote" in page.content.decode()
    page = client.post(url, {"campaign": foreign_campaign.pk, "segment": foreign_segment.pk})
    assert "errornote" in page.content.decode()
    assert not LedgerEntry.objects.exists()
