"""Two partial refunds of one sale posted at the same moment (real threads on PostgreSQL):
both are applied, neither answers 500, and the balances equal the ledger."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client as HttpClient

from crm.models import Client
from loyalty.models import Purchase, Refund
from tests.conftest import requires_postgres
from tests.loyalty.test_engine import assert_ledger_exact
from tests.loyalty.test_pos import (
    STORE,
    TOKEN,
    USER,
    payback_document,
    put_documents,
    rustore,  # noqa: F401 (fixture)
    sell_document,
)

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _payback(doc_id: str, product: str, quantity: int, amount: int) -> dict:
    document = payback_document(doc_id=doc_id)
    document["body"]["positions"] = [
        {"product_id": product, "quantity": quantity, "result_sum": amount}
    ]
    document["body"]["result_sum"] = amount
    return document


def _post_together(documents: list[dict]) -> list:
    barrier, answers = threading.Barrier(len(documents)), [None] * len(documents)

    def send(n):
        try:
            barrier.wait()
            answers[n] = put_documents(HttpClient(raise_request_exception=False), documents[n])
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(documents))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


@pytest.mark.parametrize("trial", range(3))
def test_two_partial_refunds_of_one_sale_at_once_both_apply(client, rustore, trial):  # noqa: F811
    assert put_documents(client, sell_document()).status_code == 200
    purchase = Purchase.objects.get(merchant=rustore)
    buyer = Client.objects.get(pk=purchase.client_id)
    before = buyer.balance
    answers = _post_together(
        [
            _payback("aaaa0000-0000-4000-8000-000000000001", "p-1", 1, 30000),
            _payback("bbbb0000-0000-4000-8000-000000000002", "p-2", 2, 1600),
        ]
    )
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200], [a.content[:300] for a in answers]
    assert sorted(json.loads(a.content)["status"] for a in answers) == ["accepted", "accepted"]
    purchase.refresh_from_db()
    assert purchase.refunded_amount == purchase.amount
    assert Refund.objects.filter(purchase=purchase).count() == 2
    buyer.refresh_from_db()
    assert buyer.balance < before  # the cashback went back
    assert_ledger_exact(rustore)
    assert (STORE, TOKEN, USER)  # the sale came through the same fixture as the POS tests


@pytest.mark.parametrize("variant", ["amount", "same_line", "referrer"])
def test_variants(client, rustore, variant):  # noqa: F811
    from tests.factories import ClientFactory
    if variant == "referrer":
        a = ClientFactory(merchant=rustore, phone="+79181112233")
        ClientFactory(merchant=rustore, phone="+79181234567", referred_by=a)
    assert put_documents(client, sell_document()).status_code == 200
    purchase = Purchase.objects.get(merchant=rustore)
    if variant == "amount":
        docs = [_payback("aaaa0000-0000-4000-8000-000000000001", "p-1", 1, 10000),
                _payback("bbbb0000-0000-4000-8000-000000000002", "p-2", 2, 1000)]
        for d in docs:
            d["body"]["positions"] = []
    elif variant == "same_line":
        docs = [_payback("aaaa0000-0000-4000-8000-000000000001", "p-2", 1, 800),
                _payback("bbbb0000-0000-4000-8000-000000000002", "p-2", 1, 800)]
    else:
        docs = [_payback("aaaa0000-0000-4000-8000-000000000001", "p-1", 1, 30000),
                _payback("bbbb0000-0000-4000-8000-000000000002", "p-2", 2, 1600)]
    answers = _post_together(docs)
    print(variant, [(a.status_code, a.content[:300]) for a in answers])
    assert [a.status_code for a in answers] == [200, 200]
    assert Refund.objects.filter(purchase=purchase).count() == 2


def test_poster_variant(client, monkeypatch):
    from loyalty.pos import poster
    from tests.factories import ClientFactory
    from tests.loyalty.test_pos import FakePoster, hook, post_hook
    from tests.loyalty.test_pos import tbilisi as tb
    merchant = tb.__wrapped__()
    fake = FakePoster()
    monkeypatch.setattr(poster, "TRANSPORT", fake)
    ClientFactory(merchant=merchant, phone="+995555123456")
    assert post_hook(client, hook(action="closed")).status_code == 200
    fake.transaction["products"][0]["print_fiscal"] = "2"
    barrier, answers = threading.Barrier(2), [None, None]
    def send(n):
        try:
            barrier.wait()
            answers[n] = post_hook(HttpClient(raise_request_exception=False), hook())
        finally:
            connection.close()
    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    print([(a.status_code, a.content[:300]) for a in answers])
    assert [a.status_code for a in answers] == [200, 200]
