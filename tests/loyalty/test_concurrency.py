"""Parallel purchases for one client and one referral chain, with real threads on
PostgreSQL: balances stay exact (cached = ledger sum) and never go negative."""

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from crm.models import Client
from loyalty.models import LedgerEntry, LedgerKind, Purchase
from loyalty.program import TierSpec, program_configure
from loyalty.services.adjustments import points_adjust
from loyalty.services.errors import RedemptionError
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from tests.conftest import requires_postgres
from tests.factories import ClientFactory, MerchantFactory, reference_merchant
from tests.loyalty.test_engine import assert_ledger_exact

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(count, target):
    errors, barrier = [], threading.Barrier(count)

    def wrapped(n):
        try:
            barrier.wait()
            target(n)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_parallel_purchases_one_client_and_chain_exact():
    merchant = reference_merchant("zolotoff")
    a = ClientFactory(merchant=merchant)
    b = ClientFactory(merchant=merchant, referred_by=a)
    c = ClientFactory(merchant=merchant, referred_by=b)
    d = ClientFactory(merchant=merchant, referred_by=c)
    client_join(merchant=merchant, client=d)  # 3 000

    def work(n):
        for i in range(10):
            purchase_record(
                merchant=merchant,
                client=Client.objects.get(pk=d.pk),
                amount=D(10000),
                points_to_redeem=D(200),
                payment_type="card",
                source="api",
                external_id=f"t{n}-{i}",
            )

    errors = run_threads(4, work)
    assert errors == []
    d.refresh_from_db()
    assert d.purchases_count == 40 and d.total_spent == D(400000)
    # Accrual at 3/5/7/9/11% of 9 800 as spend crosses 30k/80k/150k/300k, in any order.
    assert d.balance == D(3000) - 40 * D(200) + D(32144)
    # Referral 5/2/1 % of each 10 000 check (the program's default referral base).
    assert Client.objects.get(pk=c.pk).balance == D(500) + 40 * D(500)
    assert Client.objects.get(pk=b.pk).balance == 40 * D(200)
    assert Client.objects.get(pk=a.pk).balance == 40 * D(100)
    assert LedgerEntry.objects.filter(kind=LedgerKind.REFERRAL_BONUS).count() == 1
    assert_ledger_exact(merchant)


def test_parallel_redemptions_never_overdraw():
    merchant = MerchantFactory()
    program_configure(
        merchant=merchant, tiers=[TierSpec("Flat", D(0), D(100), D(0))], welcome_points=D(0)
    )
    client = ClientFactory(merchant=merchant)
    points_adjust(merchant=merchant, client=client, points=D(1000), reason="seed", user=None)
    refused = []

    def work(n):
        try:
            purchase_record(
                merchant=merchant,
                client=Client.objects.get(pk=client.pk),
                amount=D(1000),
                points_to_redeem=D(300),
                payment_type="card",
                source="api",
            )
        except RedemptionError:
            refused.append(n)

    assert run_threads(8, work) == []
    client.refresh_from_db()
    assert Purchase.objects.count() == 3 and len(refused) == 5
    assert client.balance == D(100)
    assert_ledger_exact(merchant)


def test_parallel_repeats_of_one_external_id_record_once():
    merchant = reference_merchant("sakura")
    client = ClientFactory(merchant=merchant)
    results = []

    def work(n):
        for target in (client, None):  # with a client (locks) and anonymous (constraint)
            results.append(
                purchase_record(
                    merchant=merchant,
                    client=Client.objects.get(pk=target.pk) if target else None,
                    amount=D(500),
                    payment_type="cash",
                    source="api",
                    external_id=f"same-{'c' if target else 'a'}",
                )
            )

    assert run_threads(6, work) == []
    assert Purchase.objects.count() == 2
    assert sum(r.created for r in results) == 2
    client.refresh_from_db()
    assert client.purchases_count == 1 and client.balance == D(15)
