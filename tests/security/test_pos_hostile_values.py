"""POS values the database cannot store, or that make no sense, never give a 500: NUL
characters, lone surrogates, amounts of 1e20/1e30/1e309/NaN/Infinity, ids longer than their
columns, dates in year 1 or 9999. Every field of every endpoint gets every hostile value; a
refused request (400/401/413, or a Poster hook acknowledged as rejected) writes nothing."""

import copy
import json
import uuid

import pytest
from django.test import Client as HttpClient

from crm.models import Client
from loyalty.models import LedgerEntry, Purchase, Refund
from loyalty.pos.models import PendingRefund, PosEvent
from tests.loyalty.test_pos import (
    APP_TOKEN,
    SALE_ID,
    STORE,
    TOKEN,
    USER,
    FakePoster,
    hook,
    payback_document,
    put_documents,
    rustore,  # noqa: F401 (fixture)
    sell_document,
    tbilisi,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db


class Raw(str):
    """A JSON token written as it is (1e309 is valid JSON that no float holds)."""


HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: valid JSON, not encodable as UTF-8
    1e20,
    1e30,
    Raw("1e309"),
    Raw("-1e309"),
    float("nan"),
    float("inf"),
    "NaN",
    "-Infinity",
    "1e20",
    10**30,
    -1,
    0,
    "x" * 500,
    [],
    {"a": "\x00"},
    None,
    True,
    "9999-12-31T23:59:59.000+0000",
    "0001-01-01T00:00:00.000+0300",
]


def dumps(value) -> str:
    """JSON with Raw tokens in place (json.dumps would quote them)."""
    raws = {}

    def mark(v):
        if isinstance(v, Raw):
            key = f"@raw{len(raws)}@"
            raws[key] = str(v)
            return key
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value))
    for key, token in raws.items():
        text = text.replace(f'"{key}"', token)
    return text


def put(document: dict, path: tuple, value) -> dict:
    document = copy.deepcopy(document)
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def written() -> tuple:
    return (
        Purchase.objects.count(),
        Refund.objects.count(),
        PendingRefund.objects.count(),
        LedgerEntry.objects.count(),
        Client.objects.count(),
    )


def hostile_run(send, fields) -> list:
    """Send every hostile value to every field; return what went wrong."""
    problems = []
    for path in fields:
        for value in HOSTILE:
            before = written()
            response = send(path, value)
            status = response.status_code
            if status >= 500:
                problems.append((path, value, status))
                continue
            refused = status in (400, 401, 413) or (
                status == 200 and response.json().get("result") == "rejected"
            )
            if status not in (200, 400, 401, 413):
                problems.append((path, value, status))
            elif refused and written() != before:
                problems.append((path, value, "half-written"))
    return problems


SELL_FIELDS = [
    ("id",),
    ("type",),
    ("store_id",),
    ("user_id",),
    ("close_user_id",),
    ("close_date",),
    ("body", "customer_phone"),
    ("body", "result_sum"),
    ("body", "positions", 0, "product_id"),
    ("body", "positions", 0, "uuid"),
    ("body", "positions", 0, "product_name"),
    ("body", "positions", 0, "quantity"),
    ("body", "positions", 0, "result_sum"),
    ("body", "payments", 0, "sum"),
    ("body", "payments", 0, "type"),
]
PAYBACK_FIELDS = [
    ("id",),
    ("close_date",),
    ("body", "base_document_id"),
    ("body", "result_sum"),
    ("body", "positions", 0, "product_id"),
    ("body", "positions", 0, "quantity"),
    ("body", "positions", 0, "result_sum"),
]


def test_evotor_documents_survive_every_hostile_value(rustore):  # noqa: F811
    http = HttpClient(raise_request_exception=False)

    def send_sell(path, value):
        document = put(sell_document(doc_id=str(uuid.uuid4())), path, value)
        return put_documents(http, None, raw=dumps(document))

    def send_payback(path, value):
        document = put(payback_document(doc_id=str(uuid.uuid4())), path, value)
        return put_documents(http, None, raw=dumps(document))

    assert put_documents(http, sell_document()).status_code == 200  # the sale to refund
    problems = hostile_run(send_sell, SELL_FIELDS) + hostile_run(send_payback, PAYBACK_FIELDS)
    assert problems == []


def test_evotor_store_in_the_path_and_user_verify_survive_hostile_values(rustore, settings):  # noqa: F811
    settings.EVOTOR_APP_TOKEN = APP_TOKEN
    http = HttpClient(raise_request_exception=False)
    for store in ("%00", "a%00b", "x" * 300, "%ED%A0%80"):
        response = put_documents(http, sell_document(), store=store)
        assert response.status_code in (401, 404), (store, response.status_code)

    def verify(path, value):
        return http.post(
            "/pos/evotor/user/verify",
            dumps(put({"userUuid": USER}, path, value)),
            content_type="application/json",
            headers={"Authorization": f"Bearer {APP_TOKEN}"},
        )

    def receipt_v2(path, value):
        body = {"id": "e", "userId": USER, "type": "ReceiptCreated",
                "data": {"id": SALE_ID, "storeId": STORE, "totalAmount": 1}}  # fmt: skip
        return http.post(
            "/pos/evotor/api/v2/receipts",
            dumps(put(body, path, value)),
            content_type="application/json",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    assert hostile_run(verify, [("userUuid",)]) == []
    fields = [("id",), ("userId",), ("data", "id"), ("data", "storeId")]
    assert hostile_run(receipt_v2, fields) == []


POSTER_TX_FIELDS = [
    ("transaction_id",),
    ("date_close",),
    ("payed_sum",),
    ("payed_bonus",),
    ("pay_type",),
    ("spot_id",),
    ("user_id",),
    ("client_phone",),
    ("card_number",),
    ("comment",),
    ("products", 0, "payed_sum"),
    ("products", 0, "num"),
    ("products", 0, "print_fiscal"),
]


def test_poster_hooks_survive_every_hostile_value(tbilisi, monkeypatch):  # noqa: F811
    from loyalty.pos import poster

    http = HttpClient(raise_request_exception=False)
    fake = FakePoster()
    monkeypatch.setattr(poster, "TRANSPORT", fake)
    original = copy.deepcopy(fake.transaction)
    original["comment"] = "ok"
    tx_id = iter(range(100000, 200000))

    def send_tx(path, value):
        fake.transaction = put(original, path, value)
        fake.products = FakePoster().products
        if path[0] == "products":  # the line rows come from getTransactionProducts
            fake.products = put(fake.products, path[1:], value)
        return http.post(
            "/pos/poster/", dumps(hook(object_id=next(tx_id))), content_type="application/json"
        )

    def send_hook(path, value):
        payload = hook()
        payload[path[0]] = value
        return http.post("/pos/poster/", dumps(payload), content_type="application/json")

    problems = hostile_run(send_tx, POSTER_TX_FIELDS)
    problems += hostile_run(send_hook, [("account",), ("object_id",), ("data",), ("verify",)])
    assert problems == []
    # Poster's queue is never blocked by a hook we refuse: rejected ones are acknowledged.
    assert PosEvent.objects.filter(status=PosEvent.Status.REJECTED).exists()
