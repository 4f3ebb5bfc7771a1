"""Admin client search: a phone in any spelling finds the client by exact E.164 match; the
client table's indexes."""

import pytest
from django.db import connection
from django.urls import reverse

from crm.models import Client
from crm.selectors import client_search_phones
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def specialist(client):
    user = UserFactory(username="finder", role="specialist")
    ru = MerchantFactory(name="RU shop", country="RU")
    kz = MerchantFactory(name="KZ shop", country="KZ")
    other = MerchantFactory(name="Other shop", country="RU")
    ru.specialists.add(user)
    kz.specialists.add(user)
    ClientFactory(merchant=ru, phone="+79131234567", full_name="Anna RU")
    ClientFactory(merchant=kz, phone="+77011234567", full_name="Aigul KZ")
    ClientFactory(merchant=other, phone="+79131234567", full_name="Hidden Twin")
    ClientFactory(merchant=ru, phone="+79130000000", full_name="Someone Else")
    client.force_login(user)
    return user


@pytest.mark.parametrize(
    "term", ["8 (913) 123-45-67", "+7 913 123 45 67", "9131234567", "'89131234567"]
)
def test_phone_in_any_spelling_finds_the_client(client, specialist, term):
    body = client.get(reverse("admin:crm_client_changelist"), {"q": term}).content.decode()
    assert "Anna RU" in body
    assert "Someone Else" not in body
    assert "Hidden Twin" not in body  # same phone, another specialist's merchant


def test_kazakh_number_uses_the_merchant_region(client, specialist):
    assert "+77011234567" in client_search_phones("8 701 123 45 67", user=specialist)
    body = client.get(reverse("admin:crm_client_changelist"), {"q": "8 701 123 45 67"})
    assert "Aigul KZ" in body.content.decode()


def test_non_phone_terms_search_names(client, specialist):
    assert client_search_phones("Anna", user=specialist) == []
    assert client_search_phones("4567", user=specialist) == []
    body = client.get(reverse("admin:crm_client_changelist"), {"q": "Aigul"}).content.decode()
    assert "Aigul KZ" in body and "Anna RU" not in body


def test_the_client_table_keeps_an_index_for_each_filter_and_no_redundant_one():
    """Each purchase rewrites the client's row, so every index on the table costs the engine,
    the import and the daily run: the merchant key is served by the composite indexes that
    lead with it, the promo code is never looked up; the list's filters keep theirs."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Client._meta.db_table)
    indexed = {tuple(c["columns"]) for c in found.values() if c["index"] or c["unique"]}
    assert ("merchant_id",) not in indexed and ("source_detail",) not in indexed
    # The phone leads the (phone, merchant) key, which also serves a search across merchants.
    assert ("phone",) not in indexed
    assert found["uniq_client_phone"]["unique"]
    assert found["uniq_client_phone"]["columns"] == ["phone", "merchant_id"]
    for columns in (
        ("phone", "merchant_id"),
        ("merchant_id", "source"),
        ("merchant_id", "tier_id"),
    ):
        assert columns in indexed
