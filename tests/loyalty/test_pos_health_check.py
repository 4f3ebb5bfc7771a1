"""The connection health check on PostgreSQL: sent for a connection idle for
DATABASE_HEALTH_CHECK_IDLE seconds or more, skipped for one used moments ago (config/postgresql)."""

import pytest
from django.db import connection

from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db]


def test_a_busy_connection_is_not_checked_an_idle_one_is(settings, monkeypatch):
    settings.DATABASE_HEALTH_CHECK_IDLE = 5
    sent = []
    monkeypatch.setattr(connection, "is_usable", lambda: sent.append(1) or True)
    for idle_for, expected in ((0.1, 0), (60, 1)):
        sent.clear()
        connection.ensure_connection()
        connection.health_check_enabled = True
        connection.close_if_unusable_or_obsolete()  # the previous request's end
        connection.last_seen -= idle_for
        connection.close_if_unusable_or_obsolete()  # this request's start
        connection.close_if_health_check_failed()  # the request's first query
        assert len(sent) == expected, idle_for


def test_zero_checks_every_request(settings, monkeypatch):
    settings.DATABASE_HEALTH_CHECK_IDLE = 0
    sent = []
    monkeypatch.setattr(connection, "is_usable", lambda: sent.append(1) or True)
    connection.ensure_connection()
    connection.health_check_enabled = True
    connection.close_if_unusable_or_obsolete()
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()
    assert sent == [1]
