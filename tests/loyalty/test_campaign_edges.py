"""Issue 12, item 7 — campaign edges, with the issue's figures: the audience (members by
default, or every contact with consent), a segment gift burning at the end of its last local
day, the welcome campaign, and same-day birthday catch-up."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from crm.models import Client, ClientSource, Segment
from loyalty.campaigns.dates import CATCH_UP_DAYS, birthday_targets
from loyalty.campaigns.hooks import after_join, after_purchases, welcome_issue
from loyalty.campaigns.issuance import issue_rewards
from loyalty.campaigns.run import campaigns_run_day
from loyalty.campaigns.segments import segment_gift_preview, segment_gift_send
from loyalty.models import (
    Campaign,
    CampaignIssuance,
    Certificate,
    LedgerEntry,
    OutboxMessage,
    Program,
    Purchase,
)
from loyalty.services.members import client_join, client_register
from tests.factories import CampaignFactory, ClientFactory, MemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db

D = Decimal


def local(merchant, *args):
    return datetime(*args, tzinfo=ZoneInfo(merchant.time_zone))


def ledger_matches_balance(client) -> bool:
    client.refresh_from_db()
    total = LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"] or 0
    return client.balance == total


# --- Audience ----------------------------------------------------------------------------


def jewellery_base(merchant, birthday):
    """The jewellery demo's shape on one birthday: 195 contacts due a gift, 162 of them
    imported contacts who never joined, 33 digitised members."""
    joined = local(merchant, 2024, 6, 1, 12)
    rows = [
        Client(
            merchant=merchant,
            phone=f"+7913{i:07d}",
            full_name=f"Контакт {i}",
            birthday=birthday,
            source=ClientSource.IMPORT if i < 162 else ClientSource.PLATFORM,
            imported=i < 162,
            joined_at=None if i < 162 else joined,
        )
        for i in range(195)
    ]
    Client.objects.bulk_create(rows)
    return Client.objects.filter(merchant=merchant)


def birthday_zolotoff(merchant, **kw):
    return CampaignFactory(
        merchant=merchant,
        kind="birthday",
        reward_points=D(1500),
        days_before=10,
        certificate_valid_days=20,
        redemption_cap_percent=D(20),
        **kw,
    )


def test_birthday_gifts_go_to_members_only_by_default():
    merchant = MerchantFactory(name="ZOLOTOFF", time_zone="Asia/Novokuznetsk")
    campaign = birthday_zolotoff(merchant)
    assert campaign.audience == "members"
    clients = jewellery_base(merchant, date(1990, 3, 12))

    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))

    assert (report.campaigns[0].candidates, report.issued) == (33, 33)
    gifted = set(CampaignIssuance.objects.values_list("client_id", flat=True))
    assert gifted == set(clients.filter(joined_at__isnull=False).values_list("pk", flat=True))
    assert not CampaignIssuance.objects.filter(client__imported=True).exists()
    assert Certificate.objects.count() == OutboxMessage.objects.count() == 33


def test_contacts_audience_adds_every_contact_with_consent_and_keeps_members():
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    birthday_zolotoff(merchant, audience="contacts")
    clients = jewellery_base(merchant, date(1990, 3, 12))
    # 12 imported contacts refused messages; 3 members did too.
    refused_contacts = list(
        clients.filter(imported=True).order_by("pk").values_list("pk", flat=True)[:12]
    )
    refused_members = list(
        clients.filter(imported=False).order_by("pk").values_list("pk", flat=True)[:3]
    )
    Client.objects.filter(pk__in=refused_contacts + refused_members).update(consent=False)

    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))

    assert report.issued == 195 - 12
    gifted = set(CampaignIssuance.objects.values_list("client_id", flat=True))
    assert gifted.isdisjoint(refused_contacts)
    # A member without consent keeps the gift; its message goes to the card inbox only.
    assert set(refused_members) <= gifted
    assert OutboxMessage.objects.count() == 195 - 12
    assert OutboxMessage.objects.filter(client_id__in=refused_members, channel="inbox").count() == 3


def test_issuance_itself_refuses_clients_outside_the_audience():
    """Whatever a caller passes (a hook, a back-fill), a non-member gets nothing."""
    merchant = MerchantFactory()
    campaign = CampaignFactory(merchant=merchant, kind="winback", reward_form="points")
    member = MemberFactory(merchant=merchant)
    contact = ClientFactory(merchant=merchant, imported=True)
    outcome = issue_rewards(
        campaign=campaign,
        items=[(member.pk, "p"), (contact.pk, "p")],
        moment=local(merchant, 2025, 5, 1, 9),
        merchant_name=merchant.name,
        tzinfo=merchant.tzinfo,
    )
    assert outcome.issued == 1
    assert list(CampaignIssuance.objects.values_list("client_id", flat=True)) == [member.pk]
    contact.refresh_from_db()
    assert contact.balance == 0


def test_a_claimed_partner_certificate_has_no_audience():
    """The client presents a partner's code: nobody is selected, so a contact who never
    joined still gets the certificate they claimed."""
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant, kind="partner_certificate", partner_name="Салон", certificates_count=5
    )
    contact = ClientFactory(merchant=merchant)
    outcome = issue_rewards(
        campaign=campaign,
        items=[(contact.pk, "partner-batch:1")],
        moment=local(merchant, 2025, 5, 1, 12),
        merchant_name=merchant.name,
        tzinfo=merchant.tzinfo,
    )
    assert outcome.certificates == 1


def test_winback_and_check_growth_hook_respect_the_audience():
    merchant = MerchantFactory()
    CampaignFactory(
        merchant=merchant, kind="winback", days_after_last_purchase=60, reward_form="points"
    )
    growth = CampaignFactory(merchant=merchant, kind="check_growth", min_check_amount=D(15000))
    last = local(merchant, 2025, 3, 1, 12)
    member = MemberFactory(merchant=merchant, last_purchase_at=last)
    ClientFactory(merchant=merchant, last_purchase_at=last)  # bought, never joined
    report = campaigns_run_day(merchant=merchant, day=date(2025, 4, 30))
    assert report.issued == 1
    assert CampaignIssuance.objects.get().client_id == member.pk

    stranger = ClientFactory(merchant=merchant)
    purchase = Purchase.objects.create(
        merchant=merchant,
        client=stranger,
        source="cashier",
        amount=D(20000),
        paid_money=D(20000),
        payment_type="card",
        occurred_at=last,
    )
    assert after_purchases([purchase.pk]).issued == 0
    assert not CampaignIssuance.objects.filter(campaign=growth).exists()


def test_segment_gift_preview_and_send_count_only_the_audience():
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant,
        kind="segment_gift",
        reward_form="points",
        reward_points=D(5),
        burn_after_days=3,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )
    segment = Segment.objects.create(merchant=merchant, name="L", kind="lapsed", lapsed_days=10)
    old = local(merchant, 2024, 1, 1, 12)
    MemberFactory.create_batch(2, merchant=merchant, last_purchase_at=old)
    ClientFactory.create_batch(3, merchant=merchant, last_purchase_at=old, imported=True)
    now = local(merchant, 2025, 2, 1, 10)
    assert segment_gift_preview(campaign=campaign, segment=segment, now=now).clients == 2
    assert segment_gift_send(campaign=campaign, segment=segment, now=now).issued == 2
    Campaign.objects.filter(pk=campaign.pk).update(audience="contacts")
    campaign.refresh_from_db()
    assert segment_gift_preview(campaign=campaign, segment=segment, now=now).clients == 3


# --- A segment gift burns at the end of its last local day -------------------------------


def gift_campaign(merchant, points=100, days=3):
    return CampaignFactory(
        merchant=merchant,
        kind="segment_gift",
        reward_form="points",
        reward_points=D(points),
        burn_after_days=days,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )


@pytest.mark.parametrize("time_zone", ["Asia/Tbilisi", "Asia/Novokuznetsk", "Europe/Moscow"])
def test_three_day_gift_sent_at_ten_burns_at_the_first_run_after_its_last_day(time_zone):
    merchant = MerchantFactory(time_zone=time_zone)
    campaign = gift_campaign(merchant, 100, 3)
    client = MemberFactory(merchant=merchant, phone="+79130000001")
    segment = Segment.objects.create(
        merchant=merchant, name="List", kind="phone_list", phones=["+79130000001"]
    )
    sent = local(merchant, 2025, 2, 1, 10)
    preview = segment_gift_preview(campaign=campaign, segment=segment, now=sent)
    assert preview.last_day == date(2025, 2, 3)
    assert preview.burn_at == local(merchant, 2025, 2, 4, 0)
    segment_gift_send(campaign=campaign, segment=segment, now=sent)
    # The message names the last day the points can be spent.
    assert "03.02.2025" in OutboxMessage.objects.get(client=client).body

    # The last day's run (3 February) keeps the gift; the next run (4 February) burns it,
    # whatever hour the gift was sent at — not a day later.
    assert campaigns_run_day(merchant=merchant, day=date(2025, 2, 3)).expiry.gifts_burned == 0
    report = campaigns_run_day(merchant=merchant, day=date(2025, 2, 4))
    assert (report.expiry.gifts_burned, report.expiry.points_burned) == (1, D("100.00"))
    client.refresh_from_db()
    assert client.balance == 0 and ledger_matches_balance(client)
    # Once only.
    assert campaigns_run_day(merchant=merchant, day=date(2025, 2, 5)).expiry.gifts_burned == 0


def test_gift_burns_at_local_midnight_when_the_run_is_moved_there():
    merchant = MerchantFactory(time_zone="Asia/Tbilisi")
    campaign = gift_campaign(merchant, 100, 3)
    MemberFactory(merchant=merchant, phone="+79130000003")
    segment = Segment.objects.create(
        merchant=merchant, name="List", kind="phone_list", phones=["+79130000003"]
    )
    segment_gift_send(campaign=campaign, segment=segment, now=local(merchant, 2025, 2, 1, 10))
    late_evening = campaigns_run_day(merchant=merchant, now=local(merchant, 2025, 2, 3, 23, 55))
    assert late_evening.expiry.gifts_burned == 0
    after_midnight = campaigns_run_day(merchant=merchant, now=local(merchant, 2025, 2, 4, 0, 5))
    assert after_midnight.expiry.gifts_burned == 1


def test_gift_sent_late_in_the_evening_still_lasts_its_days_in_the_merchant_zone():
    """23:30 in Novokuznetsk is already 1 February there but 31 January in Moscow/UTC."""
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    gift_campaign(merchant, 40, 1)
    MemberFactory(merchant=merchant, phone="+79130000002")
    segment = Segment.objects.create(
        merchant=merchant, name="List", kind="phone_list", phones=["+79130000002"]
    )
    sent = datetime(2025, 1, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1 February, local
    campaign = Campaign.objects.get(merchant=merchant)
    segment_gift_send(campaign=campaign, segment=segment, now=sent)
    entry = LedgerEntry.objects.get(kind="campaign")
    assert entry.expires_at == local(merchant, 2025, 2, 2, 0)
    assert campaigns_run_day(merchant=merchant, day=date(2025, 2, 2)).expiry.gifts_burned == 1


# --- Welcome campaign ----------------------------------------------------------------------


def welcome(merchant, **kw):
    fields = {
        "kind": "welcome",
        "reward_form": "certificate",
        "reward_points": D(500),
        "certificate_valid_days": 14,
        "redemption_cap_percent": D(30),
        **kw,
    }
    return CampaignFactory(merchant=merchant, **fields)


def test_welcome_certificate_on_joining_once_per_client(
    program, django_capture_on_commit_callbacks
):
    merchant = program.merchant
    campaign = welcome(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        result = client_register(merchant=merchant, phone="8 913 555-00-11", full_name="Анна")
    client = result.client
    # The program's own welcome points and the campaign's certificate: two rewards, each once.
    assert result.welcome_points == D("100.00")
    issuance = CampaignIssuance.objects.get(campaign=campaign)
    assert (issuance.client_id, issuance.period_key) == (client.pk, "welcome")
    cert = issuance.certificate
    assert (cert.points, cert.redemption_cap_percent, cert.status) == (
        D("500.00"),
        D("30.00"),
        "active",
    )
    message = OutboxMessage.objects.get(issuance=issuance)
    assert message.body.startswith("Анна")
    assert "500" in message.body
    # Joining again, the hook again and the daily catch-up give nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client_join(merchant=merchant, client=client)
    assert after_join([client.pk]).issued == 0
    campaigns_run_day(merchant=merchant, now=client.joined_at + timedelta(hours=1))
    assert CampaignIssuance.objects.filter(campaign=campaign).count() == 1
    assert Certificate.objects.count() == 1
    assert LedgerEntry.objects.filter(client=client, kind="welcome").count() == 1


def test_member_created_directly_is_welcomed_on_commit_and_by_the_daily_catch_up(
    django_capture_on_commit_callbacks,
):
    merchant = MerchantFactory()
    campaign = welcome(merchant)
    with django_capture_on_commit_callbacks(execute=True):
        created = MemberFactory(merchant=merchant)
    assert CampaignIssuance.objects.get(campaign=campaign).client_id == created.pk
    # Members written in bulk (no signal) are caught up by the next daily run.
    joined = local(merchant, 2026, 1, 10, 15)
    Client.objects.bulk_create(
        [Client(merchant=merchant, phone=f"+7913777000{i}", joined_at=joined) for i in range(3)]
    )
    ClientFactory(merchant=merchant)  # a contact who never joined: no welcome
    Campaign.objects.filter(pk=campaign.pk).update(created_at=local(merchant, 2026, 1, 1, 9))
    report = campaigns_run_day(merchant=merchant, day=date(2026, 1, 11))
    assert report.issued == 3
    assert campaigns_run_day(merchant=merchant, day=date(2026, 1, 12)).issued == 0
    # Members who joined before the campaign existed are not welcomed retroactively.
    Client.objects.filter(merchant=merchant).update(joined_at=local(merchant, 2025, 12, 31, 9))
    assert campaigns_run_day(merchant=merchant, day=date(2026, 1, 1)).issued == 0


def test_welcome_points_never_double_the_programs_welcome_points(
    program, django_capture_on_commit_callbacks
):
    merchant = program.merchant  # the program credits 100 welcome points
    points = welcome(
        merchant, reward_form="points", certificate_valid_days=None, redemption_cap_percent=None
    )
    # The specialist is told at once, from either side.
    with pytest.raises(ValidationError) as campaign_error:
        points.full_clean()
    assert "reward_form" in campaign_error.value.message_dict
    assert "100" in campaign_error.value.message_dict["reward_form"][0]
    with pytest.raises(ValidationError) as program_error:
        Program.objects.get(merchant=merchant).full_clean()
    assert "welcome_points" in program_error.value.message_dict

    # Saved anyway (a script, old data): a client credited by the program gets no more points.
    with django_capture_on_commit_callbacks(execute=True):
        client = client_register(merchant=merchant, phone="+79135550012").client
    assert not CampaignIssuance.objects.exists()
    client.refresh_from_db()
    assert client.balance == D("100.00") and ledger_matches_balance(client)

    # Without program welcome points the campaign's points are the welcome.
    Program.objects.filter(merchant=merchant).update(welcome_points=0)
    points.full_clean()
    with django_capture_on_commit_callbacks(execute=True):
        other = client_register(merchant=merchant, phone="+79135550013").client
    other.refresh_from_db()
    assert other.balance == D("500.00") and ledger_matches_balance(other)
    assert LedgerEntry.objects.get(client=other, kind="campaign").campaign_id == points.pk
    assert welcome_issue(client_ids=[other.pk]).issued == 0


# --- Same-day birthday catch-up ------------------------------------------------------------


def test_same_day_birthday_campaign_catches_up_missed_runs_like_the_others():
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    same_day = CampaignFactory(merchant=merchant, kind="birthday", days_before=0)
    one = MemberFactory(merchant=merchant, birthday=date(1990, 6, 10))
    two = MemberFactory(merchant=merchant, birthday=date(1988, 6, 9))
    three = MemberFactory(merchant=merchant, birthday=date(1985, 6, 8))

    # The runs of 8, 9 and 10 June were missed; the run of 11 June catches up the gifts due
    # on the two days before it, as a campaign set N days ahead does.
    report = campaigns_run_day(merchant=merchant, day=date(2025, 6, 11))
    assert report.issued == 2
    got = set(
        CampaignIssuance.objects.filter(campaign=same_day).values_list("client_id", flat=True)
    )
    assert got == {one.pk, two.pk}
    assert three.pk not in got  # due 8 June: beyond the catch-up window
    assert set(CampaignIssuance.objects.values_list("period_key", flat=True)) == {"2025"}
    assert campaigns_run_day(merchant=merchant, day=date(2025, 6, 12)).issued == 0
    # Every campaign catches up the same number of missed days, whatever its days_before.
    assert {len(birthday_targets(date(2025, 6, 11), n)) for n in (0, 1, 2, 10, 365)} == {
        CATCH_UP_DAYS
    }


def test_same_day_birthday_on_time_is_given_on_the_day():
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind="birthday", days_before=0)
    client = MemberFactory(merchant=merchant, birthday=date(1990, 6, 10))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 6, 9)).issued == 0
    assert campaigns_run_day(merchant=merchant, day=date(2025, 6, 10)).issued == 1
    assert CampaignIssuance.objects.get().client_id == client.pk
    assert campaigns_run_day(merchant=merchant, day=date(2025, 6, 11)).issued == 0


def test_same_day_birthday_on_new_years_eve_caught_up_in_january_keeps_its_year():
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind="birthday", days_before=0)
    MemberFactory(merchant=merchant, birthday=date(1990, 12, 31))
    assert campaigns_run_day(merchant=merchant, day=date(2026, 1, 1)).issued == 1
    assert CampaignIssuance.objects.get().period_key == "2025"
    assert campaigns_run_day(merchant=merchant, day=date(2026, 12, 31)).issued == 1
