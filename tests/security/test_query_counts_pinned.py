"""Exact query counts of the busiest pages, pinned in `query_counts.json` beside this file.

A change that adds or removes a query on one of these pages fails here with a diff of the
counts; when the change is intended, re-pin with

    UPDATE_QUERY_COUNTS=1 .venv/bin/python -m pytest tests/security/test_query_counts_pinned.py

(on SQLite and, with DATABASE_URL set, on PostgreSQL: each database keeps its own figures) and
commit the file, so the review shows the new counts.

The clock is set to a Wednesday in mid-month before the data is made: the merchant hub shows
the staff bonus of the month holding the last full week, so on the first days of a month
(and in the last hours of one, UTC, when Moscow is already in the next) that month's list is
empty and the page issues one query fewer."""

import datetime as dt
import json
import os
import uuid
from decimal import Decimal as D
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.models import PaymentType, PurchaseSource
from loyalty.services.adjustments import points_adjust
from loyalty.services.members import client_join
from loyalty.services.purchases import purchase_record
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

PINS = Path(__file__).with_name("query_counts.json")


@pytest.fixture
def mid_month():
    with time_machine.travel(dt.datetime(2026, 6, 17, 9, tzinfo=dt.UTC), tick=True):
        yield


def _pages(world):
    a = world["a"]
    slug, merchant, person = a["merchant"].slug, a["merchant"], a["client"]
    specialist, owner, cashier = world["spec_a"], world["owner_a"], world["cashier_a"]
    return {
        "admin client list": (specialist, reverse("admin:crm_client_changelist")),
        "admin client page": (specialist, reverse("admin:crm_client_change", args=[person.pk])),
        "admin purchase list": (specialist, reverse("admin:loyalty_purchase_changelist")),
        "admin ledger list": (specialist, reverse("admin:loyalty_ledgerentry_changelist")),
        "admin merchant list": (specialist, reverse("admin:onboarding_merchant_changelist")),
        "admin merchant hub": (
            specialist,
            reverse("admin:onboarding_merchant_change", args=[merchant.pk]),
        ),
        "admin campaign list": (specialist, reverse("admin:loyalty_campaign_changelist")),
        "admin certificate list": (specialist, reverse("admin:loyalty_certificate_changelist")),
        "admin import runs": (specialist, reverse("admin:crm_importbatch_changelist")),
        "portfolio": (specialist, reverse("reports:portfolio")),
        "owner dashboard": (owner, reverse("reports:dashboard", args=[slug])),
        "cashier page": (cashier, reverse("loyalty:cashier", args=[slug])),
        "cashier search": (
            cashier,
            reverse("loyalty:cashier", args=[slug]) + f"?q={person.phone}",
        ),
        "cashier purchases": (cashier, reverse("loyalty:cashier_purchases", args=[slug])),
    }


def _history(world, rows=5):
    a = world["a"]
    for _i in range(rows):
        person = ClientFactory(merchant=a["merchant"])
        client_join(merchant=a["merchant"], client=person)
        purchase_record(
            merchant=a["merchant"],
            client=person,
            amount=D(500),
            payment_type=PaymentType.CARD,
            branch=a["branch"],
            cashier=a["staff"],
            external_id=f"pin-{uuid.uuid4()}",
            source=PurchaseSource.CASHIER,
        )
        points_adjust(
            merchant=a["merchant"], client=person, points=D(5), reason="test", user=world["spec_a"]
        )


def _count(client, user, url):
    client.force_login(user)
    client.get(url)  # warm the per-process caches (content types, site, program)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def test_busiest_pages_issue_exactly_the_pinned_queries(
    mid_month, client, world, standard_checklist
):
    _history(world)
    counts = {name: _count(client, user, url) for name, (user, url) in _pages(world).items()}
    vendor = connection.vendor
    pins = json.loads(PINS.read_text()) if PINS.exists() else {}
    if os.environ.get("UPDATE_QUERY_COUNTS") == "1":
        pins[vendor] = dict(sorted(counts.items()))
        PINS.write_text(json.dumps(pins, indent=2, ensure_ascii=False) + "\n")
        return
    pinned = pins.get(vendor)
    assert pinned is not None, f"no pinned counts for {vendor}: run with UPDATE_QUERY_COUNTS=1"
    diff = {
        name: f"{pinned.get(name)} → {counts.get(name)}"
        for name in sorted(set(pinned) | set(counts))
        if pinned.get(name) != counts.get(name)
    }
    assert not diff, f"query counts changed on {vendor} (pinned → now): {diff}"
