"""The night's pass over the clients (contacts and tiers) read beside its other steps: on its own
connection in a thread on PostgreSQL outside a transaction, the same figures; read in place
inside a transaction (whose rows another connection cannot see) and on SQLite."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from reports import client_figures, metrics, rollup

from .conftest import FIRST_NIGHT, build_small_merchant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def where(monkeypatch):
    """The threads `contacts_and_tiers` ran in."""
    names = []
    real = client_figures.contacts_and_tiers

    def spy(merchant):
        names.append(threading.current_thread().name)
        return real(merchant)

    monkeypatch.setattr(client_figures, "contacts_and_tiers", spy)
    return names


def test_read_on_a_connection_of_its_own_outside_a_transaction(where, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("read beside the night on PostgreSQL only; SQLite reads it in place")
    merchant = build_small_merchant()
    started = client_figures.contacts_and_tiers_started(merchant)
    figures = started()
    assert where and where[-1].startswith("reports-contacts")
    where.clear()
    with transaction.atomic():
        in_place = client_figures.contacts_and_tiers_started(merchant)()
    assert where == [threading.current_thread().name]
    assert figures == in_place
    contacts, tiers, idle = figures
    assert contacts["contacts"] == 6 and idle == 1  # e joined and never bought
    # the night uses it: its snapshot's contacts and tiers are the live ones
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    where.clear()
    snap = rollup.reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    assert where and where[0].startswith("reports-contacts")
    assert snap.clients["contacts"] == contacts["contacts"] == 6
    assert [(t["clients"], str(t["revenue"])) for t in snap.clients["tiers"]] == [
        (t["clients"], str(t["revenue"])) for t in tiers
    ]


def test_a_failure_beside_the_night_reaches_the_caller(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("read beside the night on PostgreSQL only")
    merchant = build_small_merchant()

    def broken(merchant):
        raise RuntimeError("the clients cannot be read")

    monkeypatch.setattr(client_figures, "contacts_and_tiers", broken)
    started = client_figures.contacts_and_tiers_started(merchant)
    with pytest.raises(RuntimeError, match="cannot be read"):
        started()


def test_read_in_place_on_sqlite(where):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's path")
    merchant = build_small_merchant()
    figures = client_figures.contacts_and_tiers_started(merchant)()
    assert where == [threading.current_thread().name]
    assert figures[0]["contacts"] == 6
