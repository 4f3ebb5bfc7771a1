"""Refunds of one sale arriving at the same moment (real threads on PostgreSQL): each is
applied against what the other left — none answers 500 or 400 — and balances equal the
ledger."""

import json
import threading
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client as HttpClient

from crm.models import Client
from loyalty.models import Purchase, Refund
from loyalty.pos import poster
from tests.conftest import requires_postgres
from tests.factories import ClientFactory
from tests.loyalty.test_engine import assert_ledger_exact
from tests.loyalty.test_pos import (
    FakePoster,
    hook,
    payback_document,
    post_hook,
    put_documents,
    rustore,  # noqa: F401 (fixture)
    sell_document,
    tbilisi,  # noqa: F401 (fixture)
)

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def together(send, count: int) -> list:
    """Run send(n) for n in range(count) in threads released at once; their answers."""
    barrier, answers = threading.Barrier(count), [None] * count

    def run(n):
        try:
            barrier.wait()
            answers[n] = send(n, HttpClient(raise_request_exception=False))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def _payback(doc_id: str, positions: list, amount) -> dict:
    document = payback_document(doc_id=doc_id)
    document["body"]["positions"] = positions
    document["body"]["result_sum"] = amount
    return document


def test_two_partial_refunds_naming_lines_both_apply(client, rustore):  # noqa: F811
    assert put_documents(client, sell_document()).status_code == 200
    purchase = Purchase.objects.get(merchant=rustore)
    buyer_before = Client.objects.get(pk=purchase.client_id).balance
    documents = [
        _payback("aaaa0000-0000-4000-8000-000000000001", [
            {"product_id": "p-1", "quantity": 1, "result_sum": 30000}], 30000),
        _payback("bbbb0000-0000-4000-8000-000000000002", [
            {"product_id": "p-2", "quantity": 2, "result_sum": 1600}], 1600),
    ]  # fmt: skip
    answers = together(lambda n, http: put_documents(http, documents[n]), 2)
    assert [a.status_code for a in answers] == [200, 200], [a.content for a in answers]
    assert sorted(json.loads(a.content)["status"] for a in answers) == ["accepted"] * 2
    purchase.refresh_from_db()
    assert purchase.refunded_amount == purchase.amount == D(31600)
    assert Refund.objects.filter(purchase=purchase).count() == 2
    buyer = Client.objects.get(pk=purchase.client_id)
    assert buyer.balance == buyer_before - purchase.points_accrued  # all cashback taken back
    assert_ledger_exact(rustore)


def test_two_refunds_by_amount_beyond_what_is_left_the_second_takes_the_rest(
    client,
    rustore,  # noqa: F811
):
    """Each asks 20 000 of a 31 600 check: one gets 20 000, the other what is left."""
    assert put_documents(client, sell_document()).status_code == 200
    purchase = Purchase.objects.get(merchant=rustore)
    documents = [
        _payback("aaaa0000-0000-4000-8000-000000000003", [], 20000),
        _payback("bbbb0000-0000-4000-8000-000000000004", [], 20000),
    ]
    answers = together(lambda n, http: put_documents(http, documents[n]), 2)
    assert [a.status_code for a in answers] == [200, 200], [a.content for a in answers]
    amounts = sorted(Refund.objects.filter(purchase=purchase).values_list("amount", flat=True))
    assert amounts == [D(11600), D(20000)]
    purchase.refresh_from_db()
    assert purchase.refunded_amount == D(31600)
    assert_ledger_exact(rustore)


def test_two_poster_hooks_for_one_return_record_it_once(client, tbilisi, monkeypatch):  # noqa: F811
    fake = FakePoster()
    monkeypatch.setattr(poster, "TRANSPORT", fake)
    ClientFactory(merchant=tbilisi, phone="+995555123456")
    assert post_hook(client, hook(action="closed")).status_code == 200
    fake.transaction["products"][0]["print_fiscal"] = "2"  # the 10.50 line returned
    answers = together(lambda n, http: post_hook(http, hook()), 2)
    assert [a.status_code for a in answers] == [200, 200], [a.content for a in answers]
    assert sorted(a.json()["result"] for a in answers) == ["accepted", "duplicate"]
    purchase = Purchase.objects.get(merchant=tbilisi)
    assert purchase.refunded_amount == D("10.50") and Refund.objects.count() == 1
    assert_ledger_exact(tbilisi)
