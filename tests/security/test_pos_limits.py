"""Plausibility bounds on purchase input (POS_MAX_AMOUNT, POS_EARLIEST_DATE,
POS_MAX_FUTURE_HOURS), the Evotor document cap (POS_MAX_DOCUMENTS_PER_REQUEST), and what a
refused request leaves behind: nothing written, the reason answered and logged. The cashier
page and the purchase import obey the same amount bound."""

import datetime as dt
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.importing_history import purchases_import
from loyalty.models import LedgerEntry, Purchase
from loyalty.pos import poster
from loyalty.pos.models import PosEvent
from onboarding.models import StaffMember
from tests.factories import ClientFactory, UserFactory
from tests.loyalty.test_pos import (
    FakePoster,
    hook,
    post_hook,
    put_documents,
    rustore,  # noqa: F401 (fixture)
    sell_document,
    tbilisi,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.django_db


def _sale(**changes) -> dict:
    document = sell_document(doc_id=str(uuid.uuid4()))
    document.update(changes.pop("top", {}))
    document["body"].update(changes)
    return document


def _refused(response, words: str, status: int = 400) -> None:
    assert response.status_code == status, response.content[:300]
    assert words in response.json()["message"], response.json()
    assert not Purchase.objects.exists() and not LedgerEntry.objects.filter(purchase__isnull=False)


@pytest.mark.parametrize(
    "raw_sum, words",
    [
        ("1e20", "more than the largest amount allowed"),
        ("1e30", "more than the largest amount allowed"),
        ("1e309", "is not a number"),  # JSON parses it as an infinity
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
    ],
)
def test_absurd_amounts_are_refused_with_the_reason(client, rustore, raw_sum, words):  # noqa: F811
    document = sell_document(doc_id=str(uuid.uuid4()))
    body = json.dumps(document).replace('"result_sum": 31600', f'"result_sum": {raw_sum}')
    _refused(put_documents(client, None, raw=body), words)
    event = PosEvent.objects.get(status=PosEvent.Status.REJECTED)  # logged for the merchant
    assert words in event.message


def test_amount_bound_is_a_setting(client, rustore, settings):  # noqa: F811
    settings.POS_MAX_AMOUNT = 10000
    _refused(put_documents(client, _sale()), "largest amount allowed, 10000")
    settings.POS_MAX_AMOUNT = 100_000
    assert put_documents(client, _sale()).status_code == 200


@pytest.mark.parametrize(
    "close_date, words",
    [
        ("9999-12-31T23:59:59.000+0000", "in the future"),
        ("0001-01-01T00:00:00.000+0300", "not a date"),
        ("1999-12-31T23:59:59.000+0000", "before 2000-01-01"),
    ],
)
def test_implausible_dates_are_refused(client, rustore, close_date, words):  # noqa: F811
    _refused(put_documents(client, _sale(top={"close_date": close_date})), words)


def test_future_allowance_is_a_setting(client, rustore, settings):  # noqa: F811
    ahead = (timezone.now() + dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    settings.POS_MAX_FUTURE_HOURS = 1
    _refused(put_documents(client, _sale(top={"close_date": ahead})), "in the future")
    settings.POS_MAX_FUTURE_HOURS = 48
    assert put_documents(client, _sale(top={"close_date": ahead})).status_code == 200


def test_ids_longer_than_their_column_and_nul_are_refused(client, rustore):  # noqa: F811
    _refused(put_documents(client, _sale(top={"id": "d" * 100})), "longer than 120 characters")
    _refused(put_documents(client, _sale(top={"id": "doc\x00"})), "NUL character")
    _refused(put_documents(client, _sale(customer_phone="+7918\x00")), "phone contains a NUL")


def test_a_body_with_one_bad_document_writes_nothing(client, rustore):  # noqa: F811
    good, bad = _sale(), _sale(result_sum=1e20)
    response = put_documents(client, [good, bad])
    _refused(response, "more than the largest amount allowed")


def test_evotor_document_cap_answers_413_before_reading(client, rustore, settings):  # noqa: F811
    settings.POS_MAX_DOCUMENTS_PER_REQUEST = 2
    response = put_documents(client, [_sale(), _sale(), _sale()])
    _refused(response, "3 documents in one request; at most 2", status=413)
    event = PosEvent.objects.get(status=PosEvent.Status.REJECTED)
    assert event.payload is None  # an oversized body is not kept
    assert put_documents(client, [_sale(), _sale()]).status_code == 200


@pytest.fixture
def poster_api(monkeypatch, tbilisi):  # noqa: F811
    fake = FakePoster()
    monkeypatch.setattr(poster, "TRANSPORT", fake)
    ClientFactory(merchant=tbilisi, phone="+995555123456")
    return fake


def test_poster_transaction_we_refuse_is_acknowledged_as_rejected(client, poster_api):
    """Poster holds back later hooks while one is not answered 200: a transaction we can
    never store is kept as rejected, with the reason, and acknowledged."""
    poster_api.transaction["payed_sum"] = "1e30"
    response = post_hook(client, hook(action="closed"))
    assert response.status_code == 200
    assert response.json()["result"] == "rejected"
    assert "largest amount allowed" in response.json()["message"]
    event = PosEvent.objects.get()
    assert event.status == PosEvent.Status.REJECTED and event.external_id == "poster:16776"
    assert not Purchase.objects.exists()


def test_poster_comment_with_nul_is_stored_safely(client, poster_api):
    poster_api.transaction["comment"] = "table 5\x00"
    response = post_hook(client, hook(action="closed"))
    assert response.json()["result"] == "accepted"
    assert Purchase.objects.get().raw_payload["comment"] == "table 5\ufffd"


def test_poster_account_with_nul_is_unknown(client, poster_api):
    payload = hook()
    payload["account"] = "mykava6\x00"
    assert post_hook(client, payload).status_code == 401


def test_cashier_page_obeys_the_amount_bound(client, settings):
    from loyalty.services.members import client_join
    from tests.factories import reference_merchant

    settings.POS_MAX_AMOUNT = 5000
    merchant = reference_merchant("sakura")
    user = UserFactory(username="cashier-limits", role="cashier")
    StaffMember.objects.create(merchant=merchant, user=user, full_name="Кассир")
    member = ClientFactory(merchant=merchant, phone="+79130000001")
    client_join(merchant=merchant, client=member)
    client.force_login(user)
    data = {"client_id": member.pk, "request_id": str(uuid.uuid4()), "by_phone": "True",
            "amount": "5000.01", "excluded_amount": "0", "payment_type": "card", "points": "0",
            "certificate": ""}  # fmt: skip
    response = client.post(reverse("loyalty:cashier_purchase", args=["sakura"]), data)
    assert response.status_code in (200, 400)
    assert "more than the largest amount allowed" in response.content.decode()
    assert not Purchase.objects.exists()


def test_purchase_import_obeys_the_amount_bound(tmp_path, settings):
    from django.utils import translation

    from tests.factories import reference_merchant

    settings.POS_MAX_AMOUNT = 5000
    merchant = reference_merchant("zolotoff")
    ClientFactory(merchant=merchant, phone="+79130000001")
    path = tmp_path / "history.csv"
    path.write_text("Телефон;Дата;Сумма\n8 913 000-00-01;05.03.2024;5000\n"
                    "8 913 000-00-01;06.03.2024;5000,01\n", encoding="utf-8")  # fmt: skip
    with translation.override("en"):
        report = purchases_import(merchant=merchant, path=str(path))
    assert (report.created, report.rejected) == (1, 1)
    assert report.errors[0]["row"] == 3
    assert "more than the largest amount allowed" in report.errors[0]["message"]
