"""POS webhooks with payloads built from Evotor's and Poster's documentation (see POS.md):
authentication (401, nothing changed), malformed bodies (400 with a reason), sales, refunds,
repeats and refunds before their sale."""

import hashlib
import json
from decimal import Decimal as D

import pytest

from crm.models import Client
from loyalty.models import Purchase, Refund
from loyalty.pos import poster
from loyalty.pos.evotor import token_hash
from loyalty.pos.models import PendingRefund, PosEvent
from onboarding.models import Branch, StaffMember
from tests.factories import ClientFactory, reference_merchant

pytestmark = pytest.mark.django_db

STORE = "20240713-774A-4B1C-80A1-9D2B8C7E6F50"
USER = "01-000000000000001"
SALE_ID = "6c7a5a2c-8b0e-4d3a-9a77-1f0e7a0b1c01"
TOKEN = "user-token-issued-by-us"
APP_TOKEN = "3f1c2b9e-app-token"
APP_ID = "a1b2c3d4-0000-4000-8000-00000000abcd"


@pytest.fixture
def rustore(settings):
    settings.EVOTOR_APP_TOKEN = APP_TOKEN
    settings.EVOTOR_APP_ID = APP_ID
    merchant = reference_merchant("rustore")
    merchant.evotor_user_id = USER
    merchant.evotor_token_hash = token_hash(TOKEN)
    merchant.save()
    branch = merchant.branches.first()
    branch.pos_store_id = STORE.lower()  # stored lower-case; Evotor sends mixed case
    branch.save()
    StaffMember.objects.create(
        merchant=merchant,
        full_name="Кассир",
        pos_employee_id="20240713-EEEE-4000-8000-000000000001",
    )
    return merchant


def sell_document(doc_id=SALE_ID, phone="+7 (918) 123-45-67", payments=None):
    return {
        "id": doc_id,
        "type": "SELL",
        "number": 1234,
        "store_id": STORE,
        "device_id": "20240713-1111-4000-8000-000000000001",
        "user_id": USER,
        "close_user_id": "20240713-EEEE-4000-8000-000000000001",
        "session_id": "20240713-2222-4000-8000-000000000001",
        "session_number": 12,
        "close_date": "2024-12-05T04:29:52.000+0000",
        "time_zone_offset": 25200000,
        "version": "V2",
        "extras": {},
        "body": {
            "positions": [
                {
                    "product_id": "p-1",
                    "product_name": "Смартфон",
                    "quantity": 1,
                    "price": 30000,
                    "sum": 30000,
                    "result_price": 30000,
                    "result_sum": 30000,
                    "product_type": "NORMAL",
                },
                {
                    "product_id": "p-2",
                    "product_name": "Чехол (акция)",
                    "quantity": 2,
                    "price": 1000,
                    "sum": 2000,
                    "result_price": 800,
                    "result_sum": 1600,
                    "position_discount": {
                        "discount_sum": 400,
                        "discount_percent": 20,
                        "discount_type": "PERC",
                        "coupon": None,
                        "discount_price": 200,
                    },
                    "product_type": "NORMAL",
                },
            ],
            "payments": payments
            or [
                {
                    "id": "pay-1",
                    "sum": 31600,
                    "type": "ELECTRON",
                    "parts": [{"part_sum": 31600, "change": 0}],
                    "app_payment": None,
                }
            ],
            "sum": 32000,
            "result_sum": 31600,
            "customer_phone": phone,
            "customer_email": None,
        },
    }


def payback_document(doc_id="7d8e9f00-0000-4000-8000-000000000002", base=SALE_ID):
    return {
        "id": doc_id,
        "type": "PAYBACK",
        "store_id": STORE,
        "user_id": USER,
        "close_date": "2024-12-06T05:00:00.000+0000",
        "time_zone_offset": 25200000,
        "version": "V2",
        "body": {
            "base_document_id": base,
            "base_document_number": 1234,
            "positions": [{"product_id": "p-2", "quantity": 2, "result_sum": 1600}],
            "payments": [{"id": "pay-2", "sum": 1600, "type": "ELECTRON"}],
            "sum": 1600,
            "result_sum": 1600,
        },
    }


def put_documents(client, body, token=TOKEN, store=STORE, raw=None):
    return client.put(
        f"/pos/evotor/api/v1/inventories/stores/{store}/documents",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "X-Evotor-User-Id": USER},
    )


# --- Evotor --------------------------------------------------------------------------------


def test_evotor_user_verify_issues_token(client, rustore):
    url = "/pos/evotor/user/verify"
    body = json.dumps({"userUuid": USER, "username": "v.pupkin", "password": "x"})
    assert client.post(url, body, content_type="application/json").status_code == 401
    bad = client.post(
        url, body, content_type="application/json", headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    unknown = client.post(
        url,
        json.dumps({"userUuid": "01-999999999999999"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {APP_TOKEN}"},
    )
    assert unknown.status_code == 401
    ok = client.post(
        url, body, content_type="application/json", headers={"Authorization": f"Bearer {APP_TOKEN}"}
    )
    assert ok.status_code == 200
    token = ok.json()["token"]
    assert ok.json()["userId"] == USER and len(token) >= 32
    rustore.refresh_from_db()
    assert rustore.evotor_token_hash == hashlib.sha256(token.encode()).hexdigest()
    event = PosEvent.objects.get(merchant=rustore)
    assert "password" not in json.dumps(event.payload) and token not in json.dumps(event.payload)
    missing = client.post(
        url, "{}", content_type="application/json", headers={"Authorization": f"Bearer {APP_TOKEN}"}
    )
    assert missing.status_code == 400 and "userUuid" in missing.json()["message"]


def test_evotor_sale_accrues_and_repeat_is_duplicate(client, rustore):
    buyer = ClientFactory(merchant=rustore, phone="+79181234567")
    response = put_documents(client, sell_document())
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    purchase = Purchase.objects.get()
    assert (purchase.amount, purchase.excluded_amount, purchase.client_id) == (
        D(31600),
        D(1600),
        buyer.pk,
    )
    assert purchase.by_phone and purchase.source == "evotor" and purchase.payment_type == "card"
    assert purchase.points_accrued == D(316)  # Серебро 1%
    assert purchase.branch.pos_store_id == STORE.lower() and purchase.cashier.full_name == "Кассир"
    assert purchase.occurred_at.isoformat() == "2024-12-05T04:29:52+00:00"
    assert purchase.raw_payload["id"] == SALE_ID
    again = put_documents(client, sell_document())
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert Purchase.objects.count() == 1 and Client.objects.get(pk=buyer.pk).balance == D(316)


def test_evotor_bad_token_or_store_changes_nothing(client, rustore):
    ClientFactory(merchant=rustore, phone="+79181234567")
    assert put_documents(client, sell_document(), token="stolen").status_code == 401
    other_store = "20240713-0000-4000-8000-0000000000ff"
    assert put_documents(client, sell_document(), store=other_store).status_code == 401
    response = client.put(
        f"/pos/evotor/api/v1/inventories/stores/{STORE}/documents",
        data=json.dumps(sell_document()),
        content_type="application/json",
    )
    assert response.status_code == 401
    assert not Purchase.objects.exists() and not PosEvent.objects.exists()


def test_evotor_malformed_bodies_get_400_with_reason(client, rustore):
    response = put_documents(client, None, raw="{not json")
    assert response.status_code == 400 and "JSON" in response.json()["message"]
    document = sell_document()
    del document["close_date"]
    response = put_documents(client, document)
    assert response.status_code == 400 and "close_date" in response.json()["message"]
    document = sell_document()
    document["body"]["result_sum"] = "много"
    response = put_documents(client, document)
    assert response.status_code == 400 and "result_sum" in response.json()["message"]
    assert not Purchase.objects.exists()
    assert PosEvent.objects.filter(status="rejected").count() == 3


def test_evotor_sale_without_phone_recorded_without_points(client, rustore):
    response = put_documents(client, sell_document(phone=None))
    assert response.status_code == 200
    purchase = Purchase.objects.get()
    assert purchase.client is None and purchase.points_accrued == 0


def test_evotor_other_documents_ignored(client, rustore):
    document = {"id": "x", "type": "OPEN_SESSION", "store_id": STORE, "body": {}}
    response = put_documents(client, document)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert not Purchase.objects.exists()


def test_evotor_payback_reverses_and_waits_for_its_sale(client, rustore):
    buyer = ClientFactory(merchant=rustore, phone="+79181234567")
    early = put_documents(client, payback_document())
    assert early.status_code == 200 and early.json()["status"] == "pending"
    assert PendingRefund.objects.count() == 1 and not Refund.objects.exists()
    put_documents(client, sell_document())
    refund = Refund.objects.get()
    assert refund.amount == D(1600)
    # 316 accrued; 1 600 of 31 600 refunded → 16.00 reversed.
    assert Client.objects.get(pk=buyer.pk).balance == D(300)
    repeat = put_documents(client, payback_document())
    assert repeat.json()["status"] == "duplicate" and Refund.objects.count() == 1


def test_evotor_points_paid_through_our_app(client, rustore):
    buyer = ClientFactory(merchant=rustore, phone="+79181234567", balance=D(0))
    from loyalty.services.adjustments import points_adjust

    points_adjust(merchant=rustore, client=buyer, points=D(5000), reason="test", user=None)
    payments = [
        {"id": "p1", "sum": 30600, "type": "ELECTRON"},
        {
            "id": "p2",
            "sum": 1000,
            "type": "ELECTRON",
            "app_payment": {"app_id": APP_ID, "name": "Баллы"},
        },
    ]
    put_documents(client, sell_document(payments=payments))
    purchase = Purchase.objects.get()
    assert (purchase.points_redeemed, purchase.paid_money) == (D(1000), D(30600))
    assert purchase.points_accrued == D(306)


def test_evotor_receipts_v2_logged_and_ignored(client, rustore):
    body = {
        "id": "evt-1",
        "timestamp": 1733372992000,
        "userId": USER,
        "type": "ReceiptCreated",
        "version": 2,
        "data": {
            "id": SALE_ID,
            "type": "SELL",
            "storeId": STORE,
            "deviceId": "d",
            "employeeId": "e",
            "dateTime": "2024-12-05T04:29:52.000Z",
            "paymentSource": "PAY_CARD",
            "items": [],
            "totalAmount": 31600,
        },
    }
    url = "/pos/evotor/api/v2/receipts"
    bad = client.post(
        url,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": "Bearer x"},
    )
    assert bad.status_code == 401
    ok = client.post(
        url,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "ignored"
    assert not Purchase.objects.exists()


# --- Poster --------------------------------------------------------------------------------

SECRET = "fe2bc8e865d8fc2236968ee53c3b2bd5"


@pytest.fixture
def tbilisi():
    merchant = reference_merchant("tbilisi-restaurant")
    merchant.poster_account = "mykava6"
    merchant.poster_client_secret = SECRET
    merchant.poster_api_token = "687409:4164553abf6a031302898da7800b59fb"
    merchant.save()
    branch = merchant.branches.first()
    branch.pos_store_id = "1"
    branch.save()
    return merchant


class FakePoster:
    """Stands in for Poster's API: answers by method, records calls."""

    def __init__(self):
        self.calls = []
        self.transaction = {
            "transaction_id": "16776",
            "date_start": "1518873040083",
            "date_close": "1518873046314",
            "status": "2",
            "pay_type": "3",
            "payed_bonus": "0",
            "payed_card": "1000",
            "payed_cash": "1750",
            "payed_sum": "2750",
            "payed_cert": "0",
            "sum": "2750",
            "spot_id": "1",
            "user_id": "1",
            "client_id": "5",
            "client_phone": "+995 555 12 34 56",
            "card_number": "0",
            "print_fiscal": "1",
            "products": [
                {
                    "product_id": "162",
                    "num": "1",
                    "product_price": "1050",
                    "payed_sum": "1050",
                    "print_fiscal": "1",
                },
                {
                    "product_id": "161",
                    "num": "1",
                    "product_price": "1700",
                    "payed_sum": "1700",
                    "print_fiscal": "1",
                },
            ],
        }
        self.products = [
            {"product_id": "162", "payed_sum": "1050", "promotion_id": "3", "nodiscount": "0"},
            {"product_id": "161", "payed_sum": "1700", "promotion_id": "0", "nodiscount": "0"},
        ]
        self.fail = False

    def __call__(self, method, params):
        self.calls.append((method, params))
        if self.fail:
            raise poster.PosterApiError("timeout")
        if method == "dash.getTransaction":
            return {"response": [self.transaction]}
        if method == "dash.getTransactionProducts":
            return {"response": self.products}
        return {"response": []}


@pytest.fixture
def fake_poster(monkeypatch):
    fake = FakePoster()
    monkeypatch.setattr(poster, "TRANSPORT", fake)
    return fake


def hook(
    action="changed",
    object_id=16776,
    secret=SECRET,
    data='{"transactions_history":{"type_history":"close","value2":2750}}',
    **extra,
):
    payload = {
        "account": "mykava6",
        "account_number": "333226",
        "object": "transaction",
        "object_id": object_id,
        "action": action,
        "time": "1688722229",
        "data": data,
        **extra,
    }
    parts = [payload["account"], payload["object"], str(payload["object_id"]), payload["action"]]
    if data is not None:
        parts.append(data)
    else:
        del payload["data"]
    parts += [payload["time"], secret]
    payload["verify"] = hashlib.md5(";".join(parts).encode()).hexdigest()
    return payload


def post_hook(client, payload):
    return client.post("/pos/poster/", json.dumps(payload), content_type="application/json")


def test_poster_signature_follows_the_docs():
    payload = hook()
    assert poster.signature(payload, SECRET) == payload["verify"]
    without_data = hook(data=None)
    assert poster.signature(without_data, SECRET) == without_data["verify"]


def test_poster_sale_recorded_once(client, tbilisi, fake_poster):
    buyer = ClientFactory(merchant=tbilisi, phone="+995555123456")
    response = post_hook(client, hook(action="closed"))
    assert response.status_code == 200 and response.json()["status"] == "accept"
    purchase = Purchase.objects.get()
    # 27.50 GEL paid; 10.50 of it a promotion line; Покупатель 2% on money paid.
    assert (purchase.amount, purchase.excluded_amount, purchase.points_accrued) == (
        D("27.50"),
        D("10.50"),
        D("0.55"),
    )
    assert purchase.client_id == buyer.pk and purchase.payment_type == "mixed"
    assert purchase.branch.pos_store_id == "1" and purchase.external_id == "poster:16776"
    assert fake_poster.calls[0][1]["token"] == tbilisi.poster_api_token
    again = post_hook(client, hook(action="changed"))
    assert again.json()["result"] == "duplicate" and Purchase.objects.count() == 1


def test_poster_bad_signature_rejected_before_any_api_call(client, tbilisi, fake_poster):
    response = post_hook(client, hook(secret="wrong"))
    assert response.status_code == 401
    tampered = hook()
    tampered["object_id"] = 99999
    assert post_hook(client, tampered).status_code == 401
    unknown = hook()
    unknown["account"] = "someone-else"
    assert post_hook(client, unknown).status_code == 401
    assert fake_poster.calls == [] and not Purchase.objects.exists()


def test_poster_malformed_and_other_objects(client, tbilisi, fake_poster):
    bad = client.post("/pos/poster/", "nope", content_type="application/json")
    assert bad.status_code == 400
    missing = hook()
    del missing["time"]
    assert post_hook(client, missing).status_code == 400
    payload = dict(hook(), object="product")  # re-signed below with the other object
    parts = ["mykava6", "product", "16776", "changed", payload["data"], payload["time"], SECRET]
    payload["verify"] = hashlib.md5(";".join(parts).encode()).hexdigest()
    response = post_hook(client, payload)
    assert response.status_code == 200 and response.json()["result"] == "ignored"


def test_poster_open_or_unpaid_transactions_not_recorded(client, tbilisi, fake_poster):
    fake_poster.transaction.update(status="1", date_close="0")
    assert post_hook(client, hook()).json()["result"] == "ignored"
    fake_poster.transaction.update(status="2", date_close="1518873046314", pay_type="0")
    assert post_hook(client, hook()).json()["result"] == "ignored"
    assert not Purchase.objects.exists()


def test_poster_returned_lines_and_deletion_refund_as_net_change(client, tbilisi, fake_poster):
    buyer = ClientFactory(merchant=tbilisi, phone="+995555123456")
    post_hook(client, hook(action="closed"))
    fake_poster.transaction["products"][0]["print_fiscal"] = "2"  # the 10.50 line returned
    post_hook(client, hook())
    post_hook(client, hook())  # repeated hook: no second refund
    purchase = Purchase.objects.get()
    assert purchase.refunded_amount == D("10.50") and Refund.objects.count() == 1
    fake_poster.transaction["status"] = "3"  # the check deleted
    post_hook(client, hook(action="removed"))
    purchase.refresh_from_db()
    assert purchase.refunded_amount == D("27.50") and Refund.objects.count() == 2
    assert Client.objects.get(pk=buyer.pk).balance == 0


def test_poster_api_outage_accepted_and_kept_for_retry(client, tbilisi, fake_poster):
    fake_poster.fail = True
    response = post_hook(client, hook())
    assert response.status_code == 200 and response.json()["result"] == "failed"
    event = PosEvent.objects.get()
    assert event.status == "failed" and event.payload["object_id"] == 16776


def test_poster_client_found_through_api_profile(client, tbilisi, fake_poster):
    buyer = ClientFactory(merchant=tbilisi, phone="+995555123456")
    fake_poster.transaction.update(client_phone="", card_number="0")

    original = fake_poster.__call__

    def with_profile(method, params):
        if method == "clients.getClient":
            fake_poster.calls.append((method, params))
            return {
                "response": [
                    {"client_id": "5", "phone": "+995 555 12-34-56", "phone_number": "995555123456"}
                ]
            }
        return original(method, params)

    import loyalty.pos.poster as module

    module.TRANSPORT = with_profile
    try:
        post_hook(client, hook())
    finally:
        module.TRANSPORT = fake_poster
    assert Purchase.objects.get().client_id == buyer.pk
    assert any(m == "clients.getClient" for m, _p in fake_poster.calls)


def test_pos_events_are_scoped_to_their_merchant(client, tbilisi, fake_poster):
    post_hook(client, hook())
    assert set(PosEvent.objects.values_list("merchant_id", flat=True)) == {tbilisi.pk}
    assert Branch.objects.filter(merchant=tbilisi, pos_store_id="1").exists()
