import csv
import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import pytest
from django.urls import reverse

from crm.models import ClientSource
from reports.exports import escape_cell
from tests.factories import ClientFactory, MerchantFactory, UserFactory

from .conftest import buy, sync_client_figures

PASSWORD = "pass-Word-123"


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def two_merchants(small_merchant):
    other = MerchantFactory(slug="other-shop", name="Other shop")
    owner = UserFactory(username="owner-a", role="owner")
    small_merchant.owners.add(owner)
    other_owner = UserFactory(username="owner-b", role="owner")
    other.owners.add(other_owner)
    return small_merchant, other, owner


def urls(slug):
    return [
        reverse("reports:dashboard", args=[slug]),
        reverse("reports:dashboard_xlsx", args=[slug]),
        reverse("reports:segment_export", args=[slug, "champions", "csv"]),
        reverse("reports:segment_export", args=[slug, "lapsed", "xlsx"]),
        reverse("reports:case_study", args=[slug]),
    ]


def test_owner_sees_own_dashboard_and_not_another_merchant(client, two_merchants):
    mine, other, owner = two_merchants
    login(client, owner)
    page = client.get(reverse("reports:dashboard", args=[mine.slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "kpi benefit" in html and mine.name in html
    assert page.context["b"].sales.card_purchases == 5
    for url in urls(mine.slug)[1:]:
        assert client.get(url).status_code == 200, url
    for url in urls(other.slug):
        assert client.get(url).status_code == 404, url


def test_anonymous_is_sent_to_login(client, small_merchant):
    response = client.get(reverse("reports:dashboard", args=[small_merchant.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_specialist_and_partner_reach_their_merchant_only(client, two_merchants):
    mine, other, _owner = two_merchants
    specialist = UserFactory(username="spec", role="specialist")
    partner = UserFactory(username="partner-x", role="partner")
    mine.specialists.add(specialist)
    mine.partner = partner
    mine.save()
    for user in (specialist, partner):
        login(client, user)
        assert client.get(urls(mine.slug)[0]).status_code == 200
        assert client.get(urls(other.slug)[0]).status_code == 404
        client.logout()


def test_single_merchant_owner_is_redirected_from_portfolio(client, two_merchants):
    mine, _other, owner = two_merchants
    login(client, owner)
    response = client.get(reverse("reports:portfolio"))
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:dashboard", args=[mine.slug])


def test_partner_portfolio_lists_only_their_merchants_sorted(client, two_merchants):
    mine, other, _owner = two_merchants
    partner = UserFactory(username="partner-p", role="partner")
    third = MerchantFactory(slug="third", name="Aaa first by name", launch_date=date(2024, 1, 1))
    for m in (mine, third):
        m.partner = partner
        m.save()
    login(client, partner)
    page = client.get(reverse("reports:portfolio"))
    assert page.status_code == 200
    names = [r["name"] for r in page.context["rows"]]
    assert names == ["Aaa first by name", mine.name]
    assert other.name not in page.content.decode()
    by_members = client.get(reverse("reports:portfolio") + "?sort=members&dir=desc")
    rows = by_members.context["rows"]
    assert [r["name"] for r in rows] == [mine.name, "Aaa first by name"]
    assert rows[0]["members"] == 5
    assert rows[0]["actual_discount"] == D("0.85")
    assert rows[0]["benefit"] == D("10290.00")


def test_filters_and_bad_input(client, two_merchants):
    mine, _other, owner = two_merchants
    login(client, owner)
    url = reverse("reports:dashboard", args=[mine.slug])
    feb = client.get(url, {"start": "2025-02-01", "end": "2025-02-28"})
    assert feb.context["b"].sales.card_revenue == D("2800.00")
    bad = client.get(url, {"start": "yesterday", "branch": "999999"})
    assert bad.status_code == 200
    assert bad.context["filters"] == {"start": None, "end": None, "branch_id": None}
    other_branch = MerchantFactory(slug="x").branches.create(name="Foreign")
    foreign = client.get(url, {"branch": other_branch.pk})
    assert foreign.context["filters"]["branch_id"] is None


def test_dashboard_xlsx_has_no_formulas_and_escapes_text(client, two_merchants):
    mine, _other, owner = two_merchants
    mine.name = '=HYPERLINK("http://x")'
    mine.save()
    login(client, owner)
    response = client.get(reverse("reports:dashboard_xlsx", args=[mine.slug]))
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    values = {}
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
        if ws.title == "Point B":
            values = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert values["merchant"] == '\'=HYPERLINK("http://x")'
    assert values["card_revenue"] == 11800
    assert values["economic_benefit"] == 10290


def test_segment_csv_export_is_escaped(client, two_merchants):
    mine, _other, owner = two_merchants
    evil = ClientFactory(merchant=mine, full_name="@SUM(A1)", source=ClientSource.ORGANIC)
    buy(mine, evil, 10, day=date(2020, 1, 1))
    sync_client_figures(evil)
    login(client, owner)
    response = client.get(reverse("reports:segment_export", args=[mine.slug, "lapsed", "csv"]))
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Cyrillic
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))  # English: ","
    assert rows[0][0] == "Phone"
    names = {r[1] for r in rows[1:]}
    assert "'@SUM(A1)" in names
    assert all(r[0].startswith("'+") for r in rows[1:])  # phones start with +
    assert (
        client.get(
            reverse("reports:segment_export", args=[mine.slug, "nonsense", "csv"])
        ).status_code
        == 404
    )


def test_escape_cell():
    assert escape_cell("=1+1") == "'=1+1"
    assert escape_cell("-5") == "'-5"
    assert escape_cell("plain") == "plain"
    assert escape_cell(5) == 5


def test_dashboard_query_count_does_not_grow_with_clients(
    client, two_merchants, django_assert_max_num_queries
):
    mine, _other, owner = two_merchants
    login(client, owner)
    url = reverse("reports:dashboard", args=[mine.slug])
    client.get(url)
    for n in range(30):
        extra = ClientFactory(merchant=mine, joined_at=mine.clients_by_name["a"].joined_at)
        buy(mine, extra, 100 + n, day=date(2025, 1, 20))
        sync_client_figures(extra)
    # 47: the lift looks for the nightly snapshot's figures of the day, the partners block for
    # the figures the refresh keeps (one look-up each).
    with django_assert_max_num_queries(47):
        assert client.get(url).status_code == 200
