"""The dashboard's RFM panels (`reports/_rfm.html`) are rendered once per figures shown: kept
in the cache under a digest of the snapshot's figures, the merchant and the language, and
rendered again when any of them changes; a period other than the default is rendered each
time. One view reads the snapshot once for all its blocks."""

from datetime import date

import pytest
from django.conf import settings
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext

from reports.models import ReportSnapshot
from tests.factories import UserFactory


@pytest.fixture
def page(rolled, client):
    owner = UserFactory(username="owner-rfm-panels", role="owner")
    rolled.owners.add(owner)
    client.force_login(owner)
    rendered = []

    def seen(sender, template, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(seen)

    def get(query=""):
        rendered.clear()
        response = client.get(f"/dashboard/{rolled.slug}/{query}")
        assert response.status_code == 200
        return response.content.decode(), rendered.count("reports/_rfm.html")

    yield get
    template_rendered.disconnect(seen)


def test_rendered_once_then_kept_until_the_figures_change(rolled, client, page):
    first, rendered = page()
    assert rendered == 1 and 'id="rfm-history"' in first
    again, rendered = page()
    assert rendered == 0 and again.count('id="rfm-history"') == 1  # from the cache
    snap = ReportSnapshot.objects.get(merchant=rolled)
    loyal = next(row for row in snap.clients["rfm"] if row["clients"])
    loyal["clients"] = 987654  # same refresh time, other figures: another key
    snap.save(update_fields=["clients"])
    changed, rendered = page()
    assert rendered == 1 and "987" in changed and "987" not in first


def test_each_language_its_own(rolled, client, page):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    russian, rendered = page()
    assert rendered == 1 and "RFM-сегменты по месяцам" in russian
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english, rendered = page()
    assert rendered == 1 and "RFM segments by month" in english
    assert "RFM-сегменты по месяцам" not in english


def test_another_period_is_rendered_each_time(rolled, page):
    query = f"?start={date(2025, 1, 1).isoformat()}"
    assert page(query)[1] == 1
    assert page(query)[1] == 1


def test_a_view_reads_the_snapshot_once(rolled, client, page):
    page()
    with CaptureQueriesContext(connection) as sql:
        page()
    reads = [q for q in sql.captured_queries if 'FROM "reports_reportsnapshot"' in q["sql"]]
    assert len(reads) == 1  # Point B, the branch table, the lift
