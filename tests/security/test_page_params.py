"""Page numbers from the address bar on our paginated pages: the admin's sidebar search,
paginated inlines and the client card's lists. Anything that is not a page of the results
answers 404 or shows page 1 — never a 500."""

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

pytestmark = pytest.mark.django_db

BAD_PAGES = ["abc", "0", "-1", "1.5", "²", "99999", "99999999999999999999999", ""]


@pytest.mark.parametrize("page", BAD_PAGES)
def test_admin_search_bad_page(world, page):
    browser = HttpClient(raise_request_exception=False)
    browser.force_login(world["spec_a"])
    response = browser.get("/admin/search/", {"s": "client", "page": page})
    assert response.status_code in (200, 404), (page, response.status_code)
    if response.status_code == 200:  # empty page number: page 1 of the results
        assert page == ""


def test_admin_search_first_page_still_works(client, world):
    client.force_login(world["spec_a"])
    response = client.get("/admin/search/", {"s": "client", "page": "1"})
    assert response.status_code == 200
    assert "Clients" in response.content.decode()


def test_paginated_inlines_ignore_bad_pages(client, world):
    client.force_login(world["spec_a"])
    url = reverse("admin:crm_client_change", args=[world["a"]["client"].pk])
    body = client.get(url).content.decode()
    prefixes = set(re.findall(r'name="([\w-]+)-TOTAL_FORMS"', body))
    assert prefixes, "the client page has inline formsets"
    for prefix in prefixes:
        for page in BAD_PAGES:
            response = client.get(url, {f"{prefix}-page": page})
            assert response.status_code == 200, (prefix, page)
            assert world["a"]["client"].full_name in response.content.decode()


@pytest.mark.parametrize("page", BAD_PAGES)
def test_card_lists_fall_back_to_a_real_page(world, page):
    from cards import selectors

    member = world["a"]["client"]
    for listing in (selectors.purchases_page, selectors.ledger_page, selectors.inbox_page):
        shown = listing(client=member, page=page)
        assert 1 <= shown.number <= shown.paginator.num_pages, (listing.__name__, page)
    assert selectors.purchases_page(client=member, page=page).object_list[0].client == member
