"""The engine's rules with the reference merchants' numbers (CASES.md): accrual, caps,
installments, certificates, welcome, referral levels, tiers, idempotency."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db.models import Sum
from django.utils import timezone

from crm.models import Client
from loyalty.models import Certificate, LedgerEntry, LedgerKind, Program, Purchase
from loyalty.services.errors import CertificateError, ClientError, RedemptionError
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from loyalty.services.referrals import referrer_assign
from loyalty.services.tiers import client_tier_assign
from tests.factories import CertificateFactory, ClientFactory, reference_merchant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in their English source form."""
    from django.utils import translation

    with translation.override("en"):
        yield


def buy(merchant, client, amount, **kw):
    kw.setdefault("payment_type", "card")
    kw.setdefault("source", "cashier")
    return purchase_record(merchant=merchant, client=client, amount=D(amount), **kw)


def balance(client) -> D:
    return Client.objects.get(pk=client.pk).balance


def assert_ledger_exact(merchant):
    """Every cached balance equals its ledger sum, and none is negative."""
    sums = dict(
        LedgerEntry.objects.filter(merchant=merchant)
        .values("client_id")
        .annotate(s=Sum("points"))
        .values_list("client_id", "s")
    )
    for client in Client.objects.filter(merchant=merchant):
        assert client.balance == (sums.get(client.pk) or 0), client
        assert client.balance >= 0


def chain(merchant, depth):
    """Clients A ← B ← C ← … (each referred by the previous); returns [A, B, C, …]."""
    people = [ClientFactory(merchant=merchant)]
    for _n in range(depth):
        people.append(ClientFactory(merchant=merchant, referred_by=people[-1]))
    return people


@pytest.fixture
def zolotoff():
    return reference_merchant("zolotoff")


@pytest.fixture
def rustore():
    return reference_merchant("rustore")


@pytest.fixture
def sakura():
    return reference_merchant("sakura")


# --- accrual and redemption (000: 3% entry tier, points pay ≤ 5%) ------------------------


def test_000_accrual_on_money_paid(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    client_join(merchant=zolotoff, client=client)
    assert balance(client) == D(3000)
    result = buy(zolotoff, client, "10000")
    assert result.created and result.points_accrued == D("300.00")
    client.refresh_from_db()
    assert client.balance == D("3300.00")
    assert client.total_spent == D(10000) and client.purchases_count == 1
    assert client.first_purchase_at == client.last_purchase_at == result.purchase.occurred_at
    assert result.purchase.paid_money == D(10000)
    assert_ledger_exact(zolotoff)


def test_000_redemption_cap_excludes_promo_items(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    client_join(merchant=zolotoff, client=client)
    # 20 000 check with 4 000 of promo items: eligible 16 000, entry-tier cap 5% = 800.
    with pytest.raises(RedemptionError, match="800"):
        buy(zolotoff, client, "20000", excluded_amount=D(4000), points_to_redeem=D("800.01"))
    assert balance(client) == D(3000) and not Purchase.objects.exists()
    result = buy(zolotoff, client, "20000", excluded_amount=D(4000), points_to_redeem=D(800))
    p = result.purchase
    assert (p.points_redeemed, p.paid_money) == (D(800), D(19200))
    # Promo items earn at 000 (promo_earns_points): 3% of the 19 200 paid in money.
    assert p.points_accrued == D("576.00")
    assert balance(client) == D("2776.00")
    assert_ledger_exact(zolotoff)


def test_promo_items_do_not_earn_when_program_says_so(rustore):
    Program.objects.filter(merchant=rustore).update(promo_earns_points=False)
    client = ClientFactory(merchant=rustore)
    # 002 Серебро: 1% cashback; 10 000 check of which 3 000 promo → earns on 7 000.
    result = buy(rustore, client, "10000", excluded_amount=D(3000))
    assert result.points_accrued == D("70.00")


def test_redemption_never_more_than_balance(rustore):
    client = ClientFactory(merchant=rustore)
    client_join(merchant=rustore, client=client)  # 500 welcome
    # 002 Серебро cap 10%: 10 000 → 1 000 allowed by the cap, but the balance is 500.
    with pytest.raises(RedemptionError, match="500"):
        buy(rustore, client, "10000", points_to_redeem=D(600))
    result = buy(rustore, client, "10000", points_to_redeem=D(500))
    assert result.purchase.paid_money == D(9500)
    assert result.points_accrued == D("95.00")
    assert balance(client) == D("95.00")


def test_installment_accrues_but_cannot_redeem(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    client_join(merchant=zolotoff, client=client)
    with pytest.raises(RedemptionError, match="[Ii]nstallment"):
        buy(zolotoff, client, "50000", payment_type="installment", points_to_redeem=D(100))
    result = buy(zolotoff, client, "50000", payment_type="installment")
    assert result.points_accrued == D("1500.00")  # 3% of 50 000


def test_negative_and_foreign_inputs_rejected(zolotoff, rustore):
    client = ClientFactory(merchant=zolotoff)
    with pytest.raises(RedemptionError):
        buy(zolotoff, client, "100", points_to_redeem=D(-1))
    with pytest.raises(ClientError):
        buy(rustore, client, "100")
    from loyalty.services.errors import LoyaltyError

    with pytest.raises(LoyaltyError):
        buy(zolotoff, client, "-5")
    with pytest.raises(LoyaltyError):
        buy(zolotoff, client, "100", excluded_amount=D(101))
    assert not Purchase.objects.exists()


def test_purchase_without_client_earns_nothing(zolotoff):
    result = buy(zolotoff, None, "1000")
    assert result.points_accrued == 0 and result.purchase.client is None
    assert not LedgerEntry.objects.exists()


# --- certificates --------------------------------------------------------------------------


def test_000_birthday_certificate_within_its_cap(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    cert = CertificateFactory(client=client, points=D(1500), redemption_cap_percent=D(20))
    # 5 000 check: the certificate pays 20% = 1 000 (not its 1 500 face value).
    result = buy(zolotoff, client, "5000", certificate=cert)
    p = result.purchase
    assert (p.certificate_redeemed, p.paid_money, p.points_accrued) == (
        D(1000),
        D(4000),
        D("120.00"),
    )
    cert.refresh_from_db()
    # What it did not pay stays on it until its end date (issue 12, item 4).
    assert cert.status == Certificate.Status.ACTIVE and cert.redeemed_purchase == p
    assert (cert.used_points, cert.remaining) == (D(1000), D(500))
    second = buy(zolotoff, client, "5000", certificate=cert)
    assert second.purchase.certificate_redeemed == D(500)
    cert.refresh_from_db()
    assert cert.status == Certificate.Status.REDEEMED and cert.remaining == 0
    with pytest.raises(CertificateError):
        buy(zolotoff, client, "5000", certificate=cert)


def test_certificate_expired_or_foreign_rejected(zolotoff):
    client, other = ClientFactory(merchant=zolotoff), ClientFactory(merchant=zolotoff)
    expired = CertificateFactory(
        client=client,
        issued_at=timezone.now() - timedelta(days=30),
        valid_until=timezone.now() - timedelta(days=10),
    )
    with pytest.raises(CertificateError):
        buy(zolotoff, client, "5000", certificate=expired)
    with pytest.raises(CertificateError):
        buy(zolotoff, other, "5000", certificate=CertificateFactory(client=client))
    with pytest.raises(RedemptionError):
        buy(
            zolotoff,
            client,
            "5000",
            payment_type="installment",
            certificate=CertificateFactory(client=client),
        )


def test_points_and_certificate_never_exceed_eligible(sakura):
    client = ClientFactory(merchant=sakura)
    client_join(merchant=sakura, client=client)  # 100 welcome
    cert = CertificateFactory(client=client, points=D(2000), redemption_cap_percent=D(100))
    # 003: cap 50%. 1 000 check, 100 points, certificate of 2 000 at 100%: pays the 900 left.
    result = buy(sakura, client, "1000", points_to_redeem=D(100), certificate=cert)
    p = result.purchase
    assert (p.points_redeemed, p.certificate_redeemed, p.paid_money) == (D(100), D(900), D(0))
    assert p.points_accrued == 0


# --- welcome -------------------------------------------------------------------------------


def test_welcome_points_once(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    first = client_join(merchant=zolotoff, client=client)
    again = client_join(merchant=zolotoff, client=client)
    assert (first.joined, first.welcome_points) == (True, D(3000))
    assert (again.joined, again.welcome_points) == (False, 0)
    assert LedgerEntry.objects.filter(client=client, kind=LedgerKind.WELCOME).count() == 1
    assert balance(client) == D(3000)
    client.refresh_from_db()
    assert client.joined_at is not None and client.tier.position == 1


# --- referral ------------------------------------------------------------------------------


def rewards(purchase):
    return {
        (e.client_id, e.kind, e.referral_level): e.points
        for e in purchase.ledger_entries.exclude(
            kind__in=[LedgerKind.ACCRUAL, LedgerKind.REDEMPTION]
        )
    }


def test_000_referral_three_levels_and_one_time_bonus(zolotoff):
    a, b, c, d = chain(zolotoff, 3)
    first = buy(zolotoff, d, "10000").purchase
    assert rewards(first) == {
        (c.pk, LedgerKind.REFERRAL_BONUS, 1): D(500),
        (c.pk, LedgerKind.REFERRAL, 1): D(500),  # 5%
        (b.pk, LedgerKind.REFERRAL, 2): D(200),  # 2%
        (a.pk, LedgerKind.REFERRAL, 3): D(100),  # 1%
    }
    second = buy(zolotoff, d, "10000").purchase
    assert rewards(second) == {
        (c.pk, LedgerKind.REFERRAL, 1): D(500),
        (b.pk, LedgerKind.REFERRAL, 2): D(200),
        (a.pk, LedgerKind.REFERRAL, 3): D(100),
    }
    assert (balance(c), balance(b), balance(a)) == (D(1500), D(400), D(200))
    assert_ledger_exact(zolotoff)


def test_002_referral_levels(rustore):
    root, l3, l2, l1, friend = chain(rustore, 4)
    result = buy(rustore, friend, "10000")
    assert rewards(result.purchase) == {
        (l1.pk, LedgerKind.REFERRAL_BONUS, 1): D(500),
        (l1.pk, LedgerKind.REFERRAL, 1): D(150),  # 1.5%
        (l2.pk, LedgerKind.REFERRAL, 2): D(100),  # 1%
        (l3.pk, LedgerKind.REFERRAL, 3): D(50),  # 0.5%
    }
    assert balance(root) == 0  # a fourth level earns nothing


def test_003_one_level_five_percent_and_50_bonus(sakura):
    a, b, c = chain(sakura, 2)
    result = buy(sakura, c, "1000")
    assert rewards(result.purchase) == {
        (b.pk, LedgerKind.REFERRAL_BONUS, 1): D(50),
        (b.pk, LedgerKind.REFERRAL, 1): D(50),
    }
    assert balance(a) == 0


def test_referral_percent_of_the_check_by_default_or_of_money_paid(rustore):
    _root, friend = chain(rustore, 1)
    client_join(merchant=rustore, client=friend)
    result = buy(rustore, friend, "1000", points_to_redeem=D(100))
    assert result.purchase.paid_money == D(900)
    assert rewards(result.purchase)[(_root.pk, LedgerKind.REFERRAL, 1)] == D("15.00")
    Program.objects.filter(merchant=rustore).update(referral_base="paid")
    result = buy(rustore, friend, "1000", points_to_redeem=D(100))
    assert rewards(result.purchase)[(_root.pk, LedgerKind.REFERRAL, 1)] == D("13.50")


def test_referral_bonus_on_registration_trigger(sakura):
    Program.objects.filter(merchant=sakura).update(referral_bonus_trigger="registration")
    referrer, friend = chain(sakura, 1)
    joined = client_join(merchant=sakura, client=friend)
    assert joined.referral_bonus == D(50)
    assert balance(referrer) == D(50)
    client_join(merchant=sakura, client=friend)  # again: nothing more
    result = buy(sakura, friend, "1000")
    assert (referrer.pk, LedgerKind.REFERRAL_BONUS, 1) not in rewards(result.purchase)
    assert balance(referrer) == D(100)  # 50 bonus + 5% of 1 000


def test_never_own_ancestor(zolotoff):
    a, b, c = chain(zolotoff, 2)
    with pytest.raises(ClientError):
        referrer_assign(client=a, referrer=c)
    with pytest.raises(ClientError):
        referrer_assign(client=a, referrer=a)
    # A tree corrupted behind the engine's back (a cycle) still never rewards the buyer.
    Client.objects.filter(pk=a.pk).update(referred_by=c)
    result = buy(zolotoff, c, "1000")
    assert c.pk not in {e.client_id for e in result.purchase.ledger_entries.filter(kind="referral")}
    assert_ledger_exact(zolotoff)


# --- tiers ---------------------------------------------------------------------------------


def test_000_tier_rises_with_cumulative_spend(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    buy(zolotoff, client, "25000")
    second = buy(zolotoff, client, "10000")  # served at the entry tier (3%)
    assert second.points_accrued == D(300)
    client.refresh_from_db()
    assert client.tier.name == "Вы достойны лучшего"  # 35 000 ≥ 30 000
    third = buy(zolotoff, client, "10000")
    assert third.points_accrued == D(500)  # 5%
    assert third.purchase.tier.position == 2
    buy(zolotoff, client, "300000")
    client.refresh_from_db()
    assert client.tier.position == 5  # straight to the top on one big check


def test_manual_tier_lock(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    top = zolotoff.program.tiers.get(position=5)
    client_tier_assign(merchant=zolotoff, client=client, tier=top)
    result = buy(zolotoff, client, "1000")
    assert result.points_accrued == D(110)  # 11%
    client.refresh_from_db()
    assert client.tier == top and client.tier_locked
    client_tier_assign(merchant=zolotoff, client=client, tier=None)
    client.refresh_from_db()
    assert client.tier.position == 1 and not client.tier_locked


# --- idempotency and hooks ------------------------------------------------------------------


def test_repeat_returns_first_result(zolotoff):
    a, friend = chain(zolotoff, 1)
    first = buy(zolotoff, friend, "10000", external_id="doc-1")
    again = buy(zolotoff, friend, "10000", external_id="doc-1")
    assert again.duplicate and again.purchase.pk == first.purchase.pk
    assert again.points_accrued == D(300) and again.referral_points == D(1000)
    assert Purchase.objects.count() == 1
    assert LedgerEntry.objects.count() == 3  # accrual, bonus, level-1 referral: once
    # Another merchant may use the same external id.
    other = reference_merchant("rustore")
    assert buy(other, None, "10", external_id="doc-1").created


def test_batch_with_repeated_key_records_once(zolotoff):
    from loyalty.services.purchases import PurchaseInput, purchase_record_many

    client = ClientFactory(merchant=zolotoff)
    items = [
        PurchaseInput(
            amount=D(100), payment_type="card", source="import", client=client, external_id="x"
        ),
        PurchaseInput(
            amount=D(100), payment_type="card", source="import", client=client, external_id="x"
        ),
        PurchaseInput(amount=D(200), payment_type="card", source="import", client=client),
    ]
    results = purchase_record_many(merchant=zolotoff, items=items)
    assert [r.created for r in results] == [True, False, True]
    client.refresh_from_db()
    assert (client.purchases_count, client.total_spent, client.balance) == (2, D(300), D(9))


def test_after_purchase_hook_runs_on_commit_only_for_checks_reaching_a_campaign(
    zolotoff, monkeypatch, django_capture_on_commit_callbacks
):
    from loyalty import events
    from loyalty.services.purchases import PurchaseInput, purchase_record_many
    from tests.factories import CampaignFactory

    calls = []
    # The engine's only listener for this test: what it announces, nothing else.
    monkeypatch.setitem(events._reactions, events.PURCHASES_RECORDED, [calls.append])
    from loyalty.models import Campaign

    growth = Campaign.objects.filter(merchant=zolotoff, kind="check_growth")
    assert growth.filter(is_active=True).exists()  # 000 gives a certificate from 15 000
    growth.update(is_active=False)
    client = ClientFactory(merchant=zolotoff)
    # No active check-growth campaign: the hook is not even scheduled.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        buy(zolotoff, client, "20000")
    assert (calls, callbacks) == ([], [])
    inactive = CampaignFactory(
        merchant=zolotoff, kind="check_growth", min_check_amount=D(15000), is_active=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        buy(zolotoff, client, "20000")
    assert calls == []
    inactive.is_active = True
    inactive.save()
    with django_capture_on_commit_callbacks(execute=True):
        buy(zolotoff, client, "14999.99")
        big = buy(zolotoff, client, "15000")
    assert calls == [[big.purchase.pk]]
    # A batch wakes the hook once, with the checks that may qualify; history never does.
    calls.clear()
    items = [
        PurchaseInput(amount=D(a), payment_type="card", source="import", client=client)
        for a in ("16000", "100", "30000")
    ]
    items.append(
        PurchaseInput(
            amount=D(50000), payment_type="card", source="import", client=client, history=True
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        results = purchase_record_many(merchant=zolotoff, items=items)
    assert calls == [[results[0].purchase.pk, results[2].purchase.pk]]
    assert_ledger_exact(zolotoff)
