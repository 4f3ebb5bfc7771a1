"""The scored tables' rows per merchant as the night's check reads them (`rescore.stored_rows`):
on PostgreSQL kept by triggers (migration reports 0011) through the refresh's inserts and
deletions, rows lost outside it, another merchant's rows and a TRUNCATE; counted on SQLite."""

from datetime import timedelta

import pytest
from django.db import connection

from reports import rescore
from reports.models import ClientPurchases, RfmScore
from reports.ranked import SCORES, SUMMARIES
from reports.rollup import reports_refresh
from tests.factories import MerchantFactory

from .conftest import buy
from .test_rfm_rescore import FIRST_NIGHT, a_night, crowd  # noqa: F401 (fixture)

TABLES = {RfmScore: SCORES.table, ClientPurchases: SUMMARIES.table}


def kept(merchant) -> dict:
    with connection.cursor() as cursor:
        return {model: rescore.stored_rows(cursor, t, merchant.pk) for model, t in TABLES.items()}


def counted(merchant) -> dict:
    return {model: model.objects.filter(merchant=merchant).count() for model in TABLES}


def test_the_kept_counts_follow_every_write(crowd):  # noqa: F811
    merchant = crowd
    reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert kept(merchant) == counted(merchant)
    assert all(n > 40 for n in counted(merchant).values())
    other = MerchantFactory(slug="other", time_zone="Europe/Moscow")
    buy(other, None, 500, day=FIRST_NIGHT - timedelta(days=3))
    reports_refresh(merchant=other, today=FIRST_NIGHT, full=True)
    for today in (FIRST_NIGHT + timedelta(days=1), FIRST_NIGHT + timedelta(days=2)):
        a_night(merchant, today)  # new buyers inserted, rows rewritten
        reports_refresh(merchant=merchant, today=today)
        assert kept(merchant) == counted(merchant)
    reports_refresh(merchant=merchant, today=FIRST_NIGHT + timedelta(days=2), full=True)
    assert kept(merchant) == counted(merchant)
    before = counted(merchant)
    RfmScore.objects.filter(merchant=merchant).order_by("pk").first().delete()
    ClientPurchases.objects.filter(merchant=merchant).order_by("pk").first().delete()
    assert kept(merchant) == counted(merchant) == {m: n - 1 for m, n in before.items()}
    assert kept(other) == counted(other)


@pytest.mark.django_db(transaction=True)
def test_a_truncate_clears_the_kept_counts(crowd):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("the counts are kept by PostgreSQL's triggers; SQLite counts the rows")
    merchant = crowd
    reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert all(kept(merchant).values())
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SCORES.table}")
    assert kept(merchant) == counted(merchant)
    assert kept(merchant)[RfmScore] == 0 < kept(merchant)[ClientPurchases]
