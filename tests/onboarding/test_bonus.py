"""The staff bonus on hand-made purchases: card sales only, refunds, closed periods frozen,
late purchases and refunds landing in the open period, the report page and exports."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from loyalty.models import Program, Purchase, Refund
from loyalty.program import program_for
from onboarding import bonus
from onboarding.models import BonusLine, BonusPeriod, OnboardingEvent
from tests.factories import (
    BranchFactory,
    ClientFactory,
    MerchantFactory,
    StaffMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def month_start(day: dt.date, back: int) -> dt.date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1)


def at(merchant, day: dt.date, hour=12):
    return dt.datetime.combine(day, dt.time(hour), tzinfo=merchant.tzinfo)


def buy(merchant, staff, day, amount, *, client=True, hour=12):
    return Purchase.objects.create(
        merchant=merchant,
        client=ClientFactory(merchant=merchant) if client else None,
        cashier=staff,
        branch=staff.branch if staff else None,
        source="cashier",
        occurred_at=at(merchant, day, hour),
        amount=Decimal(amount),
        paid_money=Decimal(amount),
    )


def refund(purchase, day, amount):
    purchase.refunded_amount += Decimal(amount)
    purchase.save(update_fields=["refunded_amount"])
    return Refund.objects.create(
        merchant=purchase.merchant,
        purchase=purchase,
        amount=Decimal(amount),
        occurred_at=at(purchase.merchant, day),
    )


@pytest.fixture
def shop():
    merchant = MerchantFactory(name="ruStore", slug="rustore-test", time_zone="Europe/Moscow")
    program = program_for(merchant)
    program.staff_bonus_percent = Decimal("0.1")
    program.save()
    branch = BranchFactory(merchant=merchant, name="Korenovsk")
    anna = StaffMemberFactory(merchant=merchant, full_name="Anna", branch=branch)
    boris = StaffMemberFactory(merchant=merchant, full_name="Boris", branch=branch)
    today = merchant.local_today()
    return {
        "merchant": merchant,
        "anna": anna,
        "boris": boris,
        "m2": month_start(today, 2),  # two months ago
        "m1": month_start(today, 1),  # last month
        "m0": month_start(today, 0),  # this month
    }


def rows_by_name(report):
    return {r.staff_name: r for r in report.rows}


def test_bonus_is_rate_times_card_sales_minus_refunds(shop):
    m, anna, boris, m2 = shop["merchant"], shop["anna"], shop["boris"], shop["m2"]
    big = buy(m, anna, m2 + dt.timedelta(days=2), "50000")
    small = buy(m, anna, m2 + dt.timedelta(days=5), "30000")
    buy(m, anna, m2 + dt.timedelta(days=6), "10000", client=False)  # no card: no bonus
    buy(m, None, m2 + dt.timedelta(days=6), "9000")  # nobody served it
    buy(m, boris, m2 + dt.timedelta(days=7), "20000.55")
    refund(small, m2 + dt.timedelta(days=9), "5000")
    assert big.pk
    period = bonus.period_for(merchant=m, day=m2)
    report = bonus.bonus_report(merchant=m, period=period)
    rows = rows_by_name(report)
    assert set(rows) == {"Anna", "Boris"}
    a = rows["Anna"]
    assert (a.purchases_count, a.card_sales, a.refunds, a.net_sales, a.bonus) == (
        2,
        Decimal("80000.00"),
        Decimal("5000.00"),
        Decimal("75000.00"),
        Decimal("75.00"),
    )
    assert a.branch_name == "Korenovsk"
    assert rows["Boris"].bonus == Decimal("20.00")  # 20000.55 × 0.1% = 20.0006 → 20.00
    assert report.totals.bonus == Decimal("95.00") and not report.frozen
    assert report.rate_percent == Decimal("0.100")


def test_period_boundaries_are_merchant_local(shop):
    m, anna, m1, m0 = shop["merchant"], shop["anna"], shop["m1"], shop["m0"]
    # 00:30 Moscow on the 1st of this month is still the previous month in UTC,
    # but belongs to this month for the merchant.
    buy(m, anna, m0, "1000", hour=0)
    last_of_m1 = m0 - dt.timedelta(days=1)
    buy(m, anna, last_of_m1, "2000", hour=23)
    assert rows_by_name(
        bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=m0))
    )["Anna"].card_sales == Decimal("1000.00")
    assert rows_by_name(
        bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=m1))
    )["Anna"].card_sales == Decimal("2000.00")


def test_closed_period_is_frozen_and_late_events_land_in_open_period(shop):
    m, anna, boris = shop["merchant"], shop["anna"], shop["boris"]
    m2, m1, m0 = shop["m2"], shop["m1"], shop["m0"]
    closer = UserFactory(username="closer", role="specialist")
    sale = buy(m, anna, m2 + dt.timedelta(days=3), "40000")
    buy(m, boris, m2 + dt.timedelta(days=4), "10000")
    m1_sale = buy(m, anna, m1 + dt.timedelta(days=3), "8000")

    period = bonus.period_for(merchant=m, day=m2)
    bonus.bonus_period_close(merchant=m, period=period, actor=closer)
    period.refresh_from_db()
    assert period.status == "closed" and period.closed_by == closer and period.closed_at
    assert period.rate_percent == Decimal("0.100")
    assert BonusLine.objects.filter(period=period).count() == 2
    frozen = rows_by_name(bonus.bonus_report(merchant=m, period=period))
    assert frozen["Anna"].bonus == Decimal("40.00") and frozen["Boris"].bonus == Decimal("10.00")
    assert OnboardingEvent.objects.filter(kind="period_closed", actor=closer).exists()

    # After closing: a refund of the closed month's sale, a late purchase dated in the
    # closed month, a refund of last month's (open) sale, and a rate change.
    refund(sale, m0, "15000")
    buy(m, boris, m2 + dt.timedelta(days=10), "6000")
    refund(m1_sale, m0, "3000")
    Program.objects.filter(merchant=m).update(staff_bonus_percent=Decimal("1"))

    # The closed period does not move.
    again = rows_by_name(bonus.bonus_report(merchant=m, period=period))
    assert again["Anna"].bonus == Decimal("40.00") and again["Anna"].refunds == Decimal("0.00")
    assert again["Boris"].card_sales == Decimal("10000.00")
    assert bonus.bonus_report(merchant=m, period=period).rate_percent == Decimal("0.100")

    # Last month is open: the refund of its own sale subtracts there.
    last = rows_by_name(
        bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=m1))
    )
    assert last["Anna"].net_sales == Decimal("5000.00") and last["Anna"].bonus == Decimal("50.00")

    # This month receives the late purchase and the refund of the closed month's sale.
    now = rows_by_name(bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=m0)))
    assert now["Anna"].card_sales == Decimal("0.00")
    assert now["Anna"].refunds == Decimal("15000.00")
    assert now["Anna"].bonus == Decimal("-150.00")  # a claw-back at the current 1%
    assert now["Boris"].card_sales == Decimal("6000.00") and now["Boris"].purchases_count == 1


def test_events_recorded_before_close_stay_in_the_closed_period(shop):
    m, anna, m2 = shop["merchant"], shop["anna"], shop["m2"]
    sale = buy(m, anna, m2 + dt.timedelta(days=1), "1000")
    refund(sale, m2 + dt.timedelta(days=2), "400")
    # Recorded late (last month), but before the period was closed: counted in its own
    # period. Not this month's first day: early on the 1st that moment is still to come.
    Purchase.objects.filter(pk=sale.pk).update(created_at=at(m, shop["m1"]))
    period = bonus.period_for(merchant=m, day=m2)
    bonus.bonus_period_close(merchant=m, period=period)
    line = BonusLine.objects.get(period=period)
    assert (line.card_sales, line.refunds, line.bonus) == (
        Decimal("1000.00"),
        Decimal("400.00"),
        Decimal("0.60"),
    )
    current = bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=shop["m0"]))
    assert current.rows == []


def test_cannot_close_twice_or_before_the_end(shop):
    m = shop["merchant"]
    current = bonus.period_for(merchant=m, day=shop["m0"])
    with pytest.raises(ValidationError, match="after its last day"):
        bonus.bonus_period_close(merchant=m, period=current)
    past = bonus.period_for(merchant=m, day=shop["m1"])
    bonus.bonus_period_close(merchant=m, period=past)
    with pytest.raises(ValidationError, match="already closed"):
        bonus.bonus_period_close(merchant=m, period=past)
    other = MerchantFactory()
    with pytest.raises(BonusPeriod.DoesNotExist):
        bonus.bonus_period_close(merchant=other, period=past)


def test_computation_is_set_based(shop, django_assert_max_num_queries):
    m, m2 = shop["merchant"], shop["m2"]
    staff = [StaffMemberFactory(merchant=m) for _ in range(10)]
    for i, person in enumerate(staff):
        for j in range(3):
            p = buy(m, person, m2 + dt.timedelta(days=j), 100 + i)
        refund(p, m2 + dt.timedelta(days=5), "10")
    period = bonus.period_for(merchant=m, day=m2)
    with django_assert_max_num_queries(5):
        rows = bonus.bonus_compute(merchant=m, period=period)
    assert len(rows) == 10


def test_exports_escape_formulas_and_hold_no_formula_cells(shop):
    m, m2 = shop["merchant"], shop["m2"]
    evil = StaffMemberFactory(merchant=m, full_name='=HYPERLINK("http://x","y")')
    buy(m, evil, m2 + dt.timedelta(days=1), "1234.50")
    report = bonus.bonus_report(merchant=m, period=bonus.period_peek(merchant=m, day=m2))
    text = bonus.bonus_export_csv(report).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Staff" and rows[1][0] == '\'=HYPERLINK("http://x","y")'
    assert rows[1][3] == "1234.50" and rows[1][6] == "1.23"
    workbook = load_workbook(io.BytesIO(bonus.bonus_export_xlsx(report)))
    sheet = workbook.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][0].startswith("'=")
    assert values[1][3] == pytest.approx(1234.5) and values[1][6] == pytest.approx(1.23)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_report_page_export_and_close_are_scoped(client, shop):
    m, anna, m1 = shop["merchant"], shop["anna"], shop["m1"]
    buy(m, anna, m1 + dt.timedelta(days=1), "10000")
    hidden = MerchantFactory(name="Hidden merchant")
    hidden_staff = StaffMemberFactory(merchant=hidden, full_name="Hidden cashier")
    buy(hidden, hidden_staff, m1 + dt.timedelta(days=1), "999")
    specialist = UserFactory(username="spec-b", role="specialist")
    m.specialists.add(specialist)
    client.force_login(specialist)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    url = reverse("admin:onboarding_staff_bonus")
    body = client.get(url, {"merchant": m.pk, "period": m1.isoformat()}).content.decode()
    assert "Anna" in body and "10.00" in body and "Close period" in body
    body = client.get(url, {"merchant": hidden.pk, "period": m1.isoformat()}).content.decode()
    assert "Hidden cashier" not in body and "Hidden merchant" not in body
    export = client.get(url, {"merchant": m.pk, "period": m1.isoformat(), "export": "csv"})
    assert export["Content-Type"].startswith("text/csv") and "Anna" in export.content.decode()
    xlsx = client.get(url, {"merchant": m.pk, "period": m1.isoformat(), "export": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    # Closing through the page records the specialist.
    response = client.post(url, {"merchant": m.pk, "period": m1.isoformat()})
    assert response.status_code == 302
    period = BonusPeriod.objects.get(merchant=m, start=m1)
    assert period.status == "closed" and period.closed_by == specialist
    body = client.get(url, {"merchant": m.pk, "period": m1.isoformat()}).content.decode()
    assert "Closed" in body and "spec-b" in body
    # A POST for someone else's merchant never closes it.
    client.post(url, {"merchant": hidden.pk, "period": m1.isoformat()})
    assert not BonusPeriod.objects.filter(merchant=hidden, status="closed").exists()


def test_partner_reads_report_but_cannot_close(client, shop):
    m, m1 = shop["merchant"], shop["m1"]
    partner = UserFactory(username="partner-b", role="partner")
    m.partner = partner
    m.save()
    client.force_login(partner)
    url = reverse("admin:onboarding_staff_bonus")
    assert client.get(url, {"merchant": m.pk}).status_code == 200
    assert client.post(url, {"merchant": m.pk, "period": m1.isoformat()}).status_code == 403
    assert not BonusPeriod.objects.filter(merchant=m, status="closed").exists()
