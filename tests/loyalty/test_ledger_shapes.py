"""A row's values for the engine's writes (`ledger.shapes.row_params`) and an Evotor
document's receipt checked once on its way to the engine."""

from decimal import Decimal as D

import pytest
from django.db import connection

from crm.models import Client
from loyalty.ledger.shapes import insert_shape, row_params
from loyalty.models import Purchase
from loyalty.pos import receipt as receipt_module
from tests.factories import ClientFactory
from tests.loyalty.test_pos import put_documents, rustore, sell_document  # noqa: F401

pytestmark = pytest.mark.django_db


def orm_values(obj, skip=()) -> list:
    """What the ORM itself would write for each column: `get_db_prep_save` of the attribute."""
    return [
        field.get_db_prep_save(getattr(obj, field.attname), connection)
        for field in insert_shape(type(obj)).fields
        if field not in skip
    ]


def test_row_values_are_the_orms_for_a_full_row(rustore):  # noqa: F811
    buyer = ClientFactory(merchant=rustore, phone="+79181234567", balance=D("12.50"))
    row = Client.objects.get(pk=buyer.pk)
    values = row_params(insert_shape(Client), row, connection)
    assert values == orm_values(row)
    assert D("12.50") in values and rustore.pk in values


def test_a_deferred_field_is_read_through_the_model_as_before(rustore):  # noqa: F811
    buyer = ClientFactory(merchant=rustore, phone="+79181234567", balance=D(7))
    row = Client.objects.defer("balance").get(pk=buyer.pk)
    assert "balance" not in row.__dict__
    values = row_params(insert_shape(Client), row, connection)
    assert row.__dict__["balance"] == D(7)  # loaded by the attribute, as the ORM does
    assert values == orm_values(row) and D(7) in values


def test_a_related_object_saved_after_assignment_gives_its_new_key(rustore):  # noqa: F811
    buyer = Client(merchant=rustore, phone="+79181234567")
    purchase = Purchase(merchant=rustore, client=buyer, amount=D(100))
    buyer.save()  # the purchase still holds client_id None and the cached client
    shape = insert_shape(Purchase)
    values = row_params(shape, purchase, connection)
    assert purchase.client_id == buyer.pk
    position = [f.attname for f in shape.fields].index("client_id")
    assert values[position] == buyer.pk
    skipped = [f for f in shape.fields if f.attname == "client_id"]
    assert len(row_params(shape, purchase, connection, skip=skipped)) == len(shape.fields) - 1


def test_an_unsaved_related_object_is_refused(rustore):  # noqa: F811
    purchase = Purchase(merchant=rustore, client=Client(merchant=rustore), amount=D(1))
    with pytest.raises(ValueError, match="client: the related object is not saved"):
        row_params(insert_shape(Purchase), purchase, connection)


def test_an_evotor_document_is_checked_once_and_still_refused_when_bad(
    client,
    rustore,  # noqa: F811
    monkeypatch,
):
    ClientFactory(merchant=rustore, phone="+79181234567")
    calls = []
    real = receipt_module.receipt_check

    def counted(receipt):
        calls.append(receipt.external_id)
        return real(receipt)

    monkeypatch.setattr(receipt_module, "receipt_check", counted)
    monkeypatch.setattr("loyalty.pos.evotor.receipt_check", counted)
    response = put_documents(client, sell_document())
    assert response.json()["status"] == "accepted"
    assert len(calls) == 1 and Purchase.objects.count() == 1
    bad = sell_document(doc_id="x" * 400)
    refused = put_documents(client, bad)
    assert refused.status_code == 400 and "document id" in refused.json()["message"]
    assert Purchase.objects.count() == 1


def test_a_receipt_recorded_without_the_flag_is_checked(rustore):  # noqa: F811
    from datetime import UTC, datetime

    from loyalty.pos.common import BadRequest
    from loyalty.pos.receipt import SALE, Receipt, receipt_record
    from loyalty.services.lines import LineInput

    receipt = Receipt(
        source="evotor",
        kind=SALE,
        external_id="a\x00b",
        occurred_at=datetime(2024, 12, 5, tzinfo=UTC),
        lines=[LineInput(amount=D(100))],
    )
    with pytest.raises(BadRequest, match="NUL"):
        receipt_record(merchant=rustore, receipt=receipt)
    assert Purchase.objects.count() == 0
