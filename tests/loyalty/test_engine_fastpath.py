"""The purchase path's round trips and its cached configuration: a purchase costs one lock
statement (clients, referrers and the configuration fingerprint), its writes (one statement on
PostgreSQL, three elsewhere) and the transaction; the cached program is reloaded as soon as anything in it changes; repeats are
answered by the insert itself."""

from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from crm.models import Client
from loyalty.models import Campaign, LedgerEntry, Program, Purchase, Tier
from loyalty.services.errors import ClientError
from loyalty.services.locking import rules_forget
from loyalty.services.purchases import PurchaseInput, purchase_record, purchase_record_many
from tests.factories import ClientFactory, MerchantFactory, reference_merchant
from tests.loyalty.test_engine import assert_ledger_exact, chain

pytestmark = pytest.mark.django_db


def statements(ctx) -> list[str]:
    """Captured SQL without the transaction's own BEGIN/COMMIT/SAVEPOINT lines."""
    skip = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK", "PREPARE")
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(skip)]


@pytest.fixture
def zolotoff():
    merchant = reference_merchant("zolotoff")
    Campaign.objects.filter(merchant=merchant, kind="check_growth").update(is_active=False)
    return merchant


def buy(merchant, client, amount, **kw):
    kw.setdefault("payment_type", "card")
    kw.setdefault("source", "api")
    return purchase_record(merchant=merchant, client=client, amount=D(amount), **kw)


def test_one_purchase_with_a_three_level_chain_is_four_statements(zolotoff):
    a, b, c, d = chain(zolotoff, 3)
    buy(zolotoff, d, "1000", external_id="warm")  # first use loads the program
    with CaptureQueriesContext(connection) as ctx:
        result = buy(zolotoff, d, "9000", points_to_redeem=0, external_id="k1")
    sql = statements(ctx)
    # lock (clients + referrers + fingerprint), then purchase insert, ledger insert and client
    # update: one statement on PostgreSQL (data-modifying CTEs), three elsewhere
    assert len(sql) == (2 if connection.vendor == "postgresql" else 4), sql
    assert result.created and result.referral_points > 0
    # Without a check-growth campaign the campaign hook reads nothing afterwards.
    assert_ledger_exact(zolotoff)


def test_a_repeat_is_found_by_the_insert_and_returns_the_first_result(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    first = buy(zolotoff, client, "10000", external_id="pos-1")
    again = buy(zolotoff, client, "10000", external_id="pos-1")
    assert (first.created, again.created) == (True, False)
    assert again.purchase.pk == first.purchase.pk
    assert again.points_accrued == first.points_accrued
    assert Purchase.objects.filter(merchant=zolotoff, external_id="pos-1").count() == 1
    assert LedgerEntry.objects.filter(purchase=first.purchase).count() == 1
    assert_ledger_exact(zolotoff)


def test_a_repeat_that_the_rules_would_now_refuse_still_returns_the_first(zolotoff):
    """The first post spent the points; the repeat must not fail on the balance."""
    client = ClientFactory(merchant=zolotoff)
    from loyalty.services.adjustments import points_adjust

    points_adjust(merchant=zolotoff, client=client, points=D(100), reason="test", user=None)
    first = buy(zolotoff, client, "10000", points_to_redeem=D(100), external_id="pos-2")
    assert first.points_redeemed == D(100)
    again = buy(zolotoff, client, "10000", points_to_redeem=D(100), external_id="pos-2")
    assert again.duplicate and again.purchase.pk == first.purchase.pk
    assert_ledger_exact(zolotoff)


def test_tier_change_without_saving_the_program_is_seen_by_the_next_purchase(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    assert buy(zolotoff, client, "1000").points_accrued == D("30.00")  # 3 %
    entry = Tier.objects.get(program__merchant=zolotoff, position=1)
    Tier.objects.filter(pk=entry.pk).update(cashback_percent=D(4))  # no Program.save()
    assert buy(zolotoff, client, "1000").points_accrued == D("40.00")


def test_program_change_is_seen_by_the_next_purchase(zolotoff):
    a, b = chain(zolotoff, 1)
    assert buy(zolotoff, b, "1000").rewarded[a.pk] == D("550.00")  # bonus 500 + 5 %
    Program.objects.filter(merchant=zolotoff).update(referral_level1_percent=D(10))
    assert buy(zolotoff, b, "1000").rewarded[a.pk] == D("100.00")


def test_cached_rules_of_one_merchant_never_serve_another():
    rules_forget()
    one, two = reference_merchant("zolotoff"), reference_merchant("sakura")
    c1, c2 = ClientFactory(merchant=one), ClientFactory(merchant=two)
    r1, r2 = buy(one, c1, "1000"), buy(two, c2, "1000")
    assert r1.purchase.tier.program.merchant_id == one.pk
    assert r2.purchase.tier.program.merchant_id == two.pk


def test_a_merchant_without_program_records_purchases_without_points():
    merchant = MerchantFactory()
    client = ClientFactory(merchant=merchant)
    result = buy(merchant, client, "1000")
    assert (result.points_accrued, result.purchase.tier) == (D(0), None)
    assert Client.objects.get(pk=client.pk).total_spent == D(1000)


def test_a_client_id_that_is_not_the_merchants_is_refused(zolotoff):
    other = ClientFactory(merchant=MerchantFactory())
    impostor = Client(pk=other.pk, merchant_id=zolotoff.pk)  # the caller's claim is checked
    with pytest.raises(ClientError):
        buy(zolotoff, impostor, "1000")
    assert not Purchase.objects.filter(merchant=zolotoff).exists()


def test_batch_and_single_write_the_same_figures(zolotoff):
    a1, b1, c1, d1 = chain(zolotoff, 3)
    a2, b2, c2, d2 = chain(zolotoff, 3)
    amounts = ["1500", "18000", "4000", "9000"]
    for n, amount in enumerate(amounts):
        buy(zolotoff, d1, amount, external_id=f"s{n}")
    purchase_record_many(
        merchant=zolotoff,
        items=[
            PurchaseInput(
                client=d2, amount=D(a), payment_type="card", source="api", external_id=f"b{n}"
            )
            for n, a in enumerate(amounts)
        ],
    )
    fields = ("balance", "total_spent", "purchases_count", "tier_id")
    for left, right in ((a1, a2), (b1, b2), (c1, c2), (d1, d2)):
        x = Client.objects.values_list(*fields).get(pk=left.pk)
        y = Client.objects.values_list(*fields).get(pk=right.pk)
        assert x == y
    assert_ledger_exact(zolotoff)


def test_a_large_batch_gets_each_row_its_own_key(zolotoff):
    """Batches past the prepared-statement size go as one JSON array per table: every
    purchase, line and entry must come back with the key of its own row."""
    buyers = [chain(zolotoff, 3)[-1] for _ in range(3)]
    items = [
        PurchaseInput(
            client=buyers[n % 3],
            amount=D(1000 + n),
            excluded_amount=D(n % 4),
            payment_type="card",
            source="api",
            external_id=f"big-{n}",
        )
        for n in range(40)
    ]
    results = purchase_record_many(merchant=zolotoff, items=items)
    for n, result in enumerate(results):
        row = Purchase.objects.get(pk=result.purchase.pk)
        assert (row.external_id, row.amount) == (f"big-{n}", D(1000 + n))
        entries = LedgerEntry.objects.filter(purchase=row)
        accrued = sum((e.points for e in entries if e.kind == "accrual"), D(0))
        assert accrued == row.points_accrued > 0
        assert {e.client_id for e in entries if e.kind == "accrual"} == {buyers[n % 3].pk}
        assert sum(line.amount for line in row.lines.all()) in (D(0), row.amount)
    assert_ledger_exact(zolotoff)


def test_prepared_statements_survive_a_rolled_back_transaction(zolotoff):
    client = ClientFactory(merchant=zolotoff)
    with pytest.raises(RuntimeError), transaction.atomic():
        buy(zolotoff, client, "1000", external_id="rolled-back")
        raise RuntimeError
    result = buy(zolotoff, client, "1000", external_id="rolled-back")
    assert result.created
    assert Purchase.objects.filter(external_id="rolled-back").count() == 1
    assert_ledger_exact(zolotoff)
