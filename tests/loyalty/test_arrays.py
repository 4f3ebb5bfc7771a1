from decimal import Decimal

import pytest
from django.db import connection

from crm.models import Client
from loyalty.services.arrays import array_text, ids_in
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
