"""Item 10 of the journey: a person reads times in the merchant's zone, money with its sign and
the language's grouping, and CSVs open as tables in a Russian spreadsheet."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from crm.exporting import clients_export, csv_cell, csv_dialect
from onboarding import bonus
from onboarding.localtime import format_local, merchant_localtime
from onboarding.models import BonusPeriod
from onboarding.money import currency_symbol, format_money, format_number, points_label
from reports.exports import segment_csv
from tests.factories import MerchantFactory

from .conftest import SALE_AT, ru_get

NBSP = "\u00a0"


# --- money and points ---------------------------------------------------------------------


def test_money_in_russian_groups_with_no_break_spaces_and_a_decimal_comma():
    with translation.override("ru"):
        assert format_money(D("6362191.46"), "RUB") == f"6{NBSP}362{NBSP}191,46{NBSP}₽"
        assert format_money(D("111300000"), "KZT", decimal_places=0) == (
            f"111{NBSP}300{NBSP}000{NBSP}₸"
        )
        assert format_money(D("12900"), "GEL") == f"12{NBSP}900,00{NBSP}₾"
        assert format_money(D("-1500.5"), "RUB") == f"-1{NBSP}500,50{NBSP}₽"
        assert format_money(D("0.005"), "RUB") == f"0,01{NBSP}₽"  # half up, one rule
        assert format_money(None, "RUB") == "—"


def test_money_in_english_puts_the_sign_first_and_groups_with_commas():
    with translation.override("en"):
        assert format_money(D("6362191.46"), "RUB") == "₽6,362,191.46"
        assert format_money(D("-10"), "USD") == "-$10.00"


def test_unknown_currency_keeps_its_code_and_no_currency_gives_a_bare_number():
    assert currency_symbol("XYZ") == "XYZ"
    with translation.override("en"):
        assert format_money(D("5"), "") == "5.00"


def test_points_are_grouped_and_take_the_plural_form():
    with translation.override("ru"):
        assert format_number(D("3000")) == f"3{NBSP}000"
        assert points_label(D("3000")) == f"3{NBSP}000 баллов"
        assert points_label(1) == "1 балл"
        assert points_label(22) == "22 балла"
        assert points_label(11) == "11 баллов"
        assert points_label(D("2.5")) == "2,50 балла"
    with translation.override("en"):
        assert points_label(1) == "1 point"
        assert points_label(D("3000")) == "3,000 points"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_numbers_read_as_djangos_locale_formatting_writes_them(lang):
    """The grouping fast path gives `number_format`'s text: signs, rounding half up, zeros
    that were negative, whole and fractional values, every count of places."""
    from django.utils.formats import number_format

    values = [D("1234567.5"), D("-1234.5"), D("-0.004"), D("0.005"), D("-999.995"), D("1E+3")]
    values += [D(n) / D(10**k) for n in (0, 7, -42, 999_999, 10**12 + 1) for k in (0, 1, 3)]
    with translation.override(lang):
        for value in [*values, 5, -7, 0.1 + 0.2]:
            for places in (None, 0, 1, 2):
                number = D(str(value)) if isinstance(value, float) else D(value)
                shown = places if places is not None else 0 if number == int(number) else 2
                rounded = number.quantize(D(1).scaleb(-shown), rounding="ROUND_HALF_UP")
                expected = number_format(rounded, shown, use_l10n=True, force_grouping=True)
                assert format_number(value, decimal_places=places) == expected, (value, places)
        assert format_number(D("-0.004")) == ("0,00" if lang == "ru" else "0.00")


# --- times ----------------------------------------------------------------------------------


def test_helper_moves_a_utc_time_into_the_merchant_zone(zerno):
    local = merchant_localtime(SALE_AT, zerno["merchant"])
    assert (local.hour, local.minute) == (20, 16)
    with translation.override("ru"):
        assert format_local(SALE_AT, zerno["merchant"]) == "14.03.2025 20:16"
        assert format_local(SALE_AT, "Not/AZone") == "14.03.2025 13:16"  # the active zone


@pytest.mark.parametrize(
    "url_name", ["admin:loyalty_purchase_changelist", "admin:loyalty_ledgerentry_changelist"]
)
def test_admin_lists_show_the_merchant_local_time(client, zerno, url_name):
    client.force_login(zerno["root"])
    html = ru_get(client, reverse(url_name)).content.decode()
    assert "20:16" in html
    assert "13:16" not in html


def test_admin_lists_show_money_with_the_sign_and_points_grouped(client, zerno):
    client.force_login(zerno["root"])
    html = ru_get(client, reverse("admin:loyalty_purchase_changelist")).content.decode()
    assert f"6{NBSP}362{NBSP}191,46{NBSP}₽" in html  # the check amount
    assert f"318{NBSP}109,57" in html  # 5 % cashback in points, grouped, no sign
    assert "6362191" not in html


def test_admin_record_page_shows_the_merchant_local_time(client, zerno):
    client.force_login(zerno["root"])
    url = reverse("admin:loyalty_purchase_change", args=[zerno["sale"].pk])
    html = ru_get(client, url).content.decode()
    assert "20:16" in html and "13:16" not in html
    assert timezone.get_current_timezone_name() == "UTC"  # nothing leaks past the request


def test_cashier_page_shows_local_time_and_money_with_the_sign(client, zerno):
    client.force_login(zerno["cashier"])
    html = ru_get(client, reverse("loyalty:cashier_purchases", args=["zerno"])).content.decode()
    assert "14.03.2025 20:16" in html
    assert f"6{NBSP}362{NBSP}191,46{NBSP}₽" in html
    assert "RUB" not in html
    assert timezone.get_current_timezone_name() == "UTC"


def test_dashboard_and_case_study_show_the_sign_not_the_code(client, zerno):
    client.force_login(zerno["owner"])
    for name in ("reports:dashboard", "reports:case_study"):
        html = ru_get(client, reverse(name, args=["zerno"])).content.decode()
        assert "₽" in html, name
        assert " RUB" not in html and ">RUB<" not in html, name
        assert f"6{NBSP}362{NBSP}191" in html, name  # grouped, not "6362191"


# --- staff bonus: months and CSV ------------------------------------------------------------


def test_bonus_months_go_back_to_the_merchant_start(zerno):
    merchant = zerno["merchant"]
    today = merchant.local_today()
    months = bonus.period_choices(merchant=merchant)
    # the launch (10 January 2025) is the earliest fact: every month since, newest first
    expected = (today.year - 2025) * 12 + today.month
    assert len(months) == expected > 12
    assert months[0] == today.replace(day=1)
    assert months[-1] == dt.date(2025, 1, 1)
    assert months == sorted(set(months), reverse=True)


def test_bonus_months_of_a_new_merchant_start_with_its_first_month(db):
    merchant = MerchantFactory(time_zone="Asia/Tomsk")
    assert bonus.period_choices(merchant=merchant) == [merchant.local_today().replace(day=1)]


def test_bonus_page_opens_on_the_last_finished_month_while_it_is_open(client, zerno):
    merchant = zerno["merchant"]
    today = merchant.local_today()
    previous = today.replace(day=1) - dt.timedelta(days=1)
    assert bonus.default_period_day(merchant=merchant) == previous
    client.force_login(zerno["specialist"])
    html = ru_get(
        client, reverse("admin:onboarding_staff_bonus"), merchant=merchant.pk
    ).content.decode()
    assert f'value="{previous.replace(day=1):%Y-%m-%d}" selected' in html
    period = bonus.period_for(merchant=merchant, day=previous)
    BonusPeriod.objects.filter(pk=period.pk).update(status=BonusPeriod.Status.CLOSED)
    assert bonus.default_period_day(merchant=merchant) == today


def test_bonus_csv_opens_in_a_russian_spreadsheet(zerno):
    merchant = zerno["merchant"]
    from loyalty.models import Program

    Program.objects.filter(merchant=merchant).update(staff_bonus_percent=D("0.1"))
    period = bonus.period_for(merchant=merchant, day=dt.date(2025, 3, 14))
    report = bonus.bonus_report(merchant=merchant, period=period)
    with translation.override("ru"):
        body = bonus.bonus_export_csv(report)
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads Cyrillic
    text = body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Сотрудник" and len(rows[0]) == 7
    anna = next(r for r in rows if r[0] == "Анна Кассир")
    assert anna[3] == "6362191,46"  # decimal comma, no grouping: Excel reads a number
    assert anna[6] == "6362,19"
    with translation.override("en"):
        english = bonus.bonus_export_csv(report).decode("utf-8-sig")
    assert next(r for r in csv.reader(io.StringIO(english)) if r[0] == "Анна Кассир")[3] == (
        "6362191.46"
    )


def test_every_csv_export_follows_the_same_dialect(zerno):
    merchant = zerno["merchant"]
    with translation.override("ru"):
        assert csv_dialect() == (";", ",")
        out = io.BytesIO()
        clients_export(merchant=merchant, fmt="csv", out=out)
        text = out.getvalue().decode("utf-8")
        assert text.startswith("\ufeffphone;full_name;")
        today = merchant.local_today()
        segment = segment_csv(merchant=merchant, segment="new", today=today)
        assert segment.startswith("\ufeffТелефон;")
    with translation.override("en"):
        assert csv_dialect() == (",", ".")
    assert csv_cell(SALE_AT, tz=merchant.tzinfo) == "2025-03-14 20:16:00"
    assert csv_cell(D("12.50"), decimal_mark=",") == "12,50"


def test_admin_client_csv_export_uses_the_dialect():
    import tablib

    from crm.resources import SpreadsheetCSV

    data = tablib.Dataset(headers=["phone", "balance"])
    data.append(["+79131110001", "1234.50"])
    with translation.override("ru"):
        body = SpreadsheetCSV().export_data(data)
    assert body.startswith("\ufeff")
    assert body.lstrip("\ufeff").splitlines() == ["phone;balance", "+79131110001;1234,50"]
