from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from psycopg.types.json import Jsonb

from crm.models import Client
from loyalty.ledger.params import array_text, ids_in, json_rows
from tests.factories import ClientFactory, MerchantFactory


def test_ints_and_finite_decimals_become_one_literal():
    assert array_text([3, 1, 2]) == "{3,1,2}"
    assert array_text([Decimal("1.50"), Decimal("-2")]) == "{1.50,-2}"
    assert array_text([]) == "{}"


def test_anything_else_stays_a_list_for_the_driver():
    assert array_text([1, "2"]) == [1, "2"]
    assert array_text([True, False]) == [True, False]  # bools are not ids
    assert array_text([1, None]) == [1, None]
    assert isinstance(array_text([Decimal("NaN")]), list)  # NaN is not an amount
    assert array_text([1, Decimal("2")]) == [1, Decimal("2")]


@pytest.mark.django_db
def test_ids_in_selects_exactly_the_given_rows():
    merchant = MerchantFactory()
    clients = [ClientFactory(merchant=merchant) for _ in range(4)]
    wanted = [clients[0].pk, clients[2].pk, 10**12]
    found = set(Client.objects.filter(pk__in=ids_in(wanted)).values_list("pk", flat=True))
    assert found == {clients[0].pk, clients[2].pk}
    if connection.vendor != "postgresql":
        assert ids_in(wanted) == wanted


def test_json_rows_write_numbers_and_moments_as_text_and_json_columns_as_json():
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    text = json_rows([{"id": 1, "points": Decimal("1.50"), "at": at, "raw": Jsonb({"a": [1]})}])
    assert (
        text
        == '[{"id": 1, "points": "1.50", "at": "2025-03-01T12:00:00+00:00", "raw": {"a": [1]}}]'
    )
    with pytest.raises(TypeError):
        json_rows([{"x": object()}])
