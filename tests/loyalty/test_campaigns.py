"""Time-travel tests of the daily campaign rules: birthday (time zones, leap day, year end,
catch-up), win-back (re-arm), check growth and review hooks, idempotency."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from crm.models import Client, Review
from loyalty.campaigns.hooks import after_purchase, after_review
from loyalty.campaigns.run import campaigns_run_day
from loyalty.models import (
    CampaignIssuance,
    Certificate,
    LedgerEntry,
    OutboxMessage,
    Purchase,
)
from tests.conftest import requires_postgres
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

pytestmark = pytest.mark.django_db

NOVOKUZNETSK = "Asia/Novokuznetsk"


def local(merchant, *args):
    return datetime(*args, tzinfo=ZoneInfo(merchant.time_zone))


def birthday_000(merchant, **kw):
    """ZOLOTOFF's birthday gift: certificate 1500, 10 days before, valid 20, cap 20%."""
    return CampaignFactory(
        merchant=merchant,
        kind="birthday",
        reward_points=Decimal(1500),
        days_before=10,
        certificate_valid_days=20,
        redemption_cap_percent=Decimal(20),
        **kw,
    )


def test_birthday_certificate_ten_days_before_with_message():
    merchant = MerchantFactory(name="ZOLOTOFF", time_zone=NOVOKUZNETSK)
    campaign = birthday_000(
        merchant, message_template="{name}, {merchant}: {points} до {valid_until} {unknown}"
    )
    anna = MemberFactory(merchant=merchant, full_name="Анна", birthday=date(1990, 3, 12))
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 13))
    MemberFactory(merchant=merchant, birthday=None)

    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 1)).issued == 0
    report = campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))

    assert report.issued == 1
    issuance = CampaignIssuance.objects.get(campaign=campaign)
    assert (issuance.client_id, issuance.period_key, issuance.points) == (
        anna.pk,
        "2025",
        Decimal("1500.00"),
    )
    cert = issuance.certificate
    assert cert.points == Decimal("1500.00")
    assert cert.redemption_cap_percent == Decimal("20.00")
    assert cert.status == Certificate.Status.ACTIVE
    assert cert.issued_at == local(merchant, 2025, 3, 2, 9)
    assert cert.valid_until == local(merchant, 2025, 3, 22, 9)
    message = OutboxMessage.objects.get(issuance=issuance)
    assert message.body == "Анна, ZOLOTOFF: 1500 до 22.03.2025 {unknown}"
    assert message.channel == "console"
    assert message.recipient == anna.phone
    assert message.status == OutboxMessage.Status.PENDING
    # The certificate does not touch the points balance.
    anna.refresh_from_db()
    assert anna.balance == 0


def test_birthday_double_run_issues_nothing_new():
    merchant = MerchantFactory()
    birthday_000(merchant)
    MemberFactory.create_batch(3, merchant=merchant, birthday=date(1985, 6, 11))
    first = campaigns_run_day(merchant=merchant, day=date(2025, 6, 1))
    second = campaigns_run_day(merchant=merchant, day=date(2025, 6, 1))
    next_day = campaigns_run_day(merchant=merchant, day=date(2025, 6, 2))
    assert (first.issued, second.issued, next_day.issued) == (3, 0, 0)
    assert Certificate.objects.count() == 3
    assert OutboxMessage.objects.count() == 3


def test_birthday_uses_merchant_local_date_across_midnight():
    """20:00 UTC on 1 March is already 2 March in Novokuznetsk (UTC+7) but not in Moscow."""
    now = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
    east = MerchantFactory(time_zone=NOVOKUZNETSK)
    west = MerchantFactory(time_zone="Europe/Moscow")
    for merchant in (east, west):
        birthday_000(merchant)
        MemberFactory(merchant=merchant, birthday=date(1990, 3, 12))

    east_report = campaigns_run_day(merchant=east, now=now)
    west_report = campaigns_run_day(merchant=west, now=now)

    assert east_report.day == date(2025, 3, 2)
    assert east_report.issued == 1
    assert west_report.day == date(2025, 3, 1)
    assert west_report.issued == 0
    # Run "now": the certificate is issued at the real moment.
    assert Certificate.objects.get(merchant=east).issued_at == now


@pytest.mark.parametrize(
    ("year", "issue_day", "quiet_day"),
    [
        (2025, date(2025, 2, 25), date(2025, 2, 24)),  # common year: celebrated on 28 Feb
        (2028, date(2028, 2, 26), date(2028, 2, 25)),  # leap year: on 29 Feb itself
    ],
)
def test_leap_day_birthday(year, issue_day, quiet_day):
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind="birthday", reward_points=Decimal(300), days_before=3)
    client = MemberFactory(merchant=merchant, birthday=date(2000, 2, 29))
    # 300 points 3 days before (САКУРА): only the right day, once.
    assert campaigns_run_day(merchant=merchant, day=quiet_day).issued == 0
    assert campaigns_run_day(merchant=merchant, day=issue_day).issued == 1
    assert campaigns_run_day(merchant=merchant, day=issue_day + timedelta(days=1)).issued == 0
    assert CampaignIssuance.objects.get().period_key == str(year)
    assert CampaignIssuance.objects.get().client_id == client.pk


def test_birthday_once_per_year_and_again_next_year():
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind="birthday", reward_points=Decimal(5000), days_before=7)
    MemberFactory(merchant=merchant, birthday=date(1970, 5, 20))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 5, 13)).issued == 1
    assert campaigns_run_day(merchant=merchant, day=date(2025, 5, 13)).issued == 0
    assert campaigns_run_day(merchant=merchant, day=date(2026, 5, 13)).issued == 1
    assert sorted(CampaignIssuance.objects.values_list("period_key", flat=True)) == [
        "2025",
        "2026",
    ]


def test_birthday_across_new_year_belongs_to_next_year():
    merchant = MerchantFactory()
    birthday_000(merchant)
    MemberFactory(merchant=merchant, birthday=date(1999, 1, 4))
    assert campaigns_run_day(merchant=merchant, day=date(2024, 12, 25)).issued == 1
    assert CampaignIssuance.objects.get().period_key == "2025"


def test_missed_day_is_caught_up_but_never_beyond_the_catch_up_window():
    merchant = MerchantFactory()
    CampaignFactory(merchant=merchant, kind="birthday", days_before=1)
    on_time = MemberFactory(merchant=merchant, birthday=date(1990, 4, 11))
    # The run of 9 April (due for on_time) was missed; 10 April catches it up.
    assert campaigns_run_day(merchant=merchant, day=date(2025, 4, 10)).issued == 1
    assert CampaignIssuance.objects.get().client_id == on_time.pk
    # A gift due more than CATCH_UP_DAYS-1 days ago (birthday 7 April, due 6 April) is
    # not given by a later run.
    late = MemberFactory(merchant=merchant, birthday=date(1990, 4, 7))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 4, 10)).issued == 0
    assert not CampaignIssuance.objects.filter(client=late).exists()


def winback_003(merchant):
    """САКУРА: certificate 150 points valid 7 days, 60 days after the last purchase."""
    return CampaignFactory(
        merchant=merchant,
        kind="winback",
        reward_points=Decimal(150),
        days_after_last_purchase=60,
        certificate_valid_days=7,
        redemption_cap_percent=Decimal(50),
    )


def test_winback_once_per_lapse_and_rearmed_by_a_new_purchase():
    merchant = MerchantFactory()
    winback_003(merchant)
    client = MemberFactory(merchant=merchant, last_purchase_at=local(merchant, 2025, 1, 10, 15))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 10)).issued == 0  # 59 days
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 11)).issued == 1  # 60 days
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 11)).issued == 0
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 12)).issued == 0
    assert CampaignIssuance.objects.get().period_key == "2025-01-10"
    # A new purchase re-arms: the next lapse gets a new certificate.
    Client.objects.filter(pk=client.pk).update(last_purchase_at=local(merchant, 2025, 3, 15, 12))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 5, 14)).issued == 1
    assert sorted(CampaignIssuance.objects.values_list("period_key", flat=True)) == [
        "2025-01-10",
        "2025-03-15",
    ]
    # The first certificate (valid 7 days) has lapsed by then; the new one is active.
    assert sorted(Certificate.objects.values_list("status", flat=True)) == ["active", "expired"]


def test_winback_counts_days_in_the_merchant_time_zone():
    """18:00 UTC on 1 January is 2 January in Novokuznetsk: day 60 is 3 March, not 2 March."""
    merchant = MerchantFactory(time_zone=NOVOKUZNETSK)
    winback_003(merchant)
    MemberFactory(merchant=merchant, last_purchase_at=datetime(2025, 1, 1, 18, tzinfo=UTC))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 2)).issued == 0
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 3)).issued == 1
    assert CampaignIssuance.objects.get().period_key == "2025-01-02"


def test_winback_points_move_balance_through_the_ledger():
    """ZOLOTOFF: 1000 points 716 days after the last purchase."""
    merchant = MerchantFactory()
    campaign = CampaignFactory(
        merchant=merchant,
        kind="winback",
        reward_form="points",
        reward_points=Decimal(1000),
        days_after_last_purchase=716,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )
    client = MemberFactory(
        merchant=merchant, last_purchase_at=local(merchant, 2023, 1, 1, 12), balance=Decimal(5)
    )
    LedgerEntry.objects.create(
        merchant=merchant, client=client, kind="adjustment", points=5, created_at=client.created_at
    )
    day = date(2023, 1, 1) + timedelta(days=716)
    assert campaigns_run_day(merchant=merchant, day=day).issued == 1
    client.refresh_from_db()
    assert client.balance == Decimal("1005.00")
    entry = LedgerEntry.objects.get(kind="campaign")
    assert (entry.points, entry.campaign_id, entry.expires_at) == (
        Decimal("1000.00"),
        campaign.pk,
        None,
    )
    assert LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"] == Decimal(
        "1005.00"
    )
    assert not Certificate.objects.exists()
    assert campaigns_run_day(merchant=merchant, day=day).issued == 0
    client.refresh_from_db()
    assert client.balance == Decimal("1005.00")


def test_inactive_campaign_and_other_merchants_are_untouched():
    merchant, other = MerchantFactory(), MerchantFactory()
    birthday_000(merchant, is_active=False)
    birthday_000(other)
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 12))
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 2)).issued == 0
    assert campaigns_run_day(merchant=other, day=date(2025, 3, 2)).issued == 0


def check_growth_000(merchant):
    return CampaignFactory(
        merchant=merchant,
        kind="check_growth",
        reward_points=Decimal(2000),
        min_check_amount=Decimal(15000),
        certificate_valid_days=30,
        redemption_cap_percent=Decimal(20),
    )


def make_purchase(merchant, client, amount, at=None):
    return Purchase.objects.create(
        merchant=merchant,
        client=client,
        source="cashier",
        occurred_at=at or datetime.now(UTC),
        amount=Decimal(amount),
        paid_money=Decimal(amount),
    )


def test_check_growth_after_purchase_hook():
    merchant = MerchantFactory()
    campaign = check_growth_000(merchant)
    client = MemberFactory(merchant=merchant)
    small = make_purchase(merchant, client, "14999.99")
    big = make_purchase(merchant, client, "15000")
    assert after_purchase(small.pk) is None or after_purchase(small.pk).issued == 0
    outcome = after_purchase(big.pk)
    assert outcome.issued == 1
    assert after_purchase(big.pk).issued == 0
    issuance = CampaignIssuance.objects.get(campaign=campaign)
    assert issuance.period_key == str(big.pk)
    cert = issuance.certificate
    assert (cert.points, cert.redemption_cap_percent) == (Decimal("2000.00"), Decimal("20.00"))
    assert cert.valid_until - cert.issued_at == timedelta(days=30)
    # An anonymous purchase or an unknown id is ignored without error.
    anonymous = make_purchase(merchant, None, "20000")
    assert after_purchase(anonymous.pk) is None
    assert after_purchase(10**9) is None


def test_check_growth_missed_by_the_hook_is_caught_by_the_daily_run():
    merchant = MerchantFactory()
    check_growth_000(merchant)
    client = MemberFactory(merchant=merchant)
    purchase = make_purchase(merchant, client, "30000")
    report = campaigns_run_day(merchant=merchant)
    assert report.issued == 1
    assert CampaignIssuance.objects.get().period_key == str(purchase.pk)
    assert after_purchase(purchase.pk).issued == 0


def test_review_reward_points_once_per_client(django_capture_on_commit_callbacks):
    """001: 1000 points for a review on 2GIS."""
    merchant = MerchantFactory()
    CampaignFactory(
        merchant=merchant,
        kind="review_reward",
        reward_form="points",
        reward_points=Decimal(1000),
        review_platform="2gis",
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )
    client = MemberFactory(merchant=merchant)
    with django_capture_on_commit_callbacks(execute=True):
        Review.objects.create(
            merchant=merchant,
            client=client,
            platform="maps",
            rating=5,
            created_at=client.created_at,
        )
    assert not CampaignIssuance.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        first = Review.objects.create(
            merchant=merchant,
            client=client,
            platform="2gis",
            rating=5,
            created_at=client.created_at,
        )
        Review.objects.create(
            merchant=merchant,
            client=client,
            platform="2gis",
            rating=4,
            created_at=client.created_at,
        )
    client.refresh_from_db()
    assert client.balance == Decimal("1000.00")
    assert CampaignIssuance.objects.count() == 1
    assert after_review(first.pk).issued == 0


def test_review_reward_certificate_on_any_platform():
    """003: a 250-point certificate; an "any" platform campaign accepts every review."""
    merchant = MerchantFactory()
    CampaignFactory(
        merchant=merchant,
        kind="review_reward",
        reward_points=Decimal(250),
        review_platform="any",
        certificate_valid_days=14,
        redemption_cap_percent=Decimal(50),
    )
    client = MemberFactory(merchant=merchant)
    review = Review.objects.create(
        merchant=merchant, client=client, platform="other", created_at=client.created_at
    )
    assert after_review(review.pk).issued == 1
    assert Certificate.objects.get().points == Decimal("250.00")


def test_clients_without_consent_get_the_reward_in_the_card_inbox_only():
    merchant = MerchantFactory()
    birthday_000(merchant, channel="sms")
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 12), consent=False)
    assert campaigns_run_day(merchant=merchant, day=date(2025, 3, 2)).issued == 1
    message = OutboxMessage.objects.get()
    # Nothing goes out over SMS; the gift is visible on the card's inbox.
    assert (message.channel, message.recipient) == ("inbox", "")


def test_email_channel_message_goes_to_the_client_address():
    merchant = MerchantFactory()
    birthday_000(merchant, channel="email", message_template="")
    MemberFactory(
        merchant=merchant, birthday=date(1990, 3, 12), email="anna@example.com", full_name=""
    )
    campaigns_run_day(merchant=merchant, day=date(2025, 3, 2))
    message = OutboxMessage.objects.get()
    assert message.recipient == "anna@example.com"
    assert "1500" in message.body and "22.03.2025" in message.body
    assert merchant.name in message.subject


def test_run_campaigns_command_prints_and_backfills(capsys):
    merchant = MerchantFactory(slug="zolotoff-test")
    birthday_000(merchant)
    MemberFactory(merchant=merchant, birthday=date(1990, 3, 12))
    call_command("run_campaigns", "--date", "2025-03-02", "--merchant", "zolotoff-test")
    out = capsys.readouterr().out
    assert "zolotoff-test 2025-03-02" in out
    assert "issued 1 (1500.00 points, 1 certificates" in out
    call_command("run_campaigns", "--date", "2025-03-02", "--merchant", "zolotoff-test")
    assert capsys.readouterr().out.strip().endswith("issued 0")


def test_run_campaigns_command_rejects_bad_input():
    from django.core.management.base import CommandError

    MerchantFactory(slug="m1")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_campaigns", "--date", "02.03.2025")
    with pytest.raises(CommandError, match="No merchant"):
        call_command("run_campaigns", "--merchant", "nope")
    with pytest.raises(CommandError, match="has not come yet"):
        call_command("run_campaigns", "--date", "2999-01-01", "--merchant", "m1")


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_issue_each_reward_once():
    merchant = MerchantFactory()
    birthday_000(merchant)
    CampaignFactory(
        merchant=merchant,
        kind="winback",
        reward_form="points",
        reward_points=Decimal(100),
        days_after_last_purchase=15,
        certificate_valid_days=None,
        redemption_cap_percent=None,
    )
    day = date(2025, 3, 2)
    lapsed_at = local(merchant, 2025, 2, 15, 12)
    for n in range(2500):  # more than one chunk
        MemberFactory(
            merchant=merchant,
            birthday=date(1990, 3, 12) if n % 2 else None,
            last_purchase_at=lapsed_at if n % 3 == 0 else None,
        )
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(campaigns_run_day(merchant=merchant, day=day).issued)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = 1250 + 834
    assert sum(results) == expected
    assert CampaignIssuance.objects.count() == expected
    assert Certificate.objects.count() == 1250
    assert OutboxMessage.objects.count() == expected
    assert Client.objects.aggregate(s=Sum("balance"))["s"] == Decimal(834 * 100)
    assert LedgerEntry.objects.aggregate(s=Sum("points"))["s"] == Decimal(834 * 100)
