"""PostgreSQL: the import has the server check foreign keys at the end of each of its
statements, not all at the commit (`crm.importing.upkeep.foreign_keys_checked_per_statement`),
and defers them again once its rows are written; on SQLite nothing changes."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crm.importing import clients_import
from crm.importing import service as import_service
from crm.models import Client
from loyalty.models import ChannelOptOut, LedgerEntry
from tests.crm.import_files import write_csv
from tests.crm.test_import_parallel import _rows
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


class _Undone(Exception):
    """Rolls the probe's savepoint back when the probe's row was accepted."""


def _checked_now(merchant) -> bool:
    """Whether a row pointing at a client that does not exist is refused by its own statement
    (foreign keys checked immediately) rather than left for the commit (deferred)."""
    try:
        with transaction.atomic():
            ChannelOptOut.objects.create(
                merchant=merchant,
                client_id=10**12,
                channel="sms",
                source="probe",
                created_at=timezone.now(),
            )
            raise _Undone
    except IntegrityError:
        return True
    except _Undone:
        return False


def _probing_run(merchant, seen: list):
    original = import_service._run

    def run(*args, **kwargs):
        seen.append(("before the rows", _checked_now(merchant)))
        return original(*args, **kwargs)

    return run


def test_foreign_keys_are_checked_per_statement_while_the_rows_are_written(
    tmp_path, settings, monkeypatch
):
    merchant = MerchantFactory(slug="fk-mode")
    path = write_csv(tmp_path / "c.csv", _rows(300))
    seen = []
    monkeypatch.setattr(import_service, "_run", _probing_run(merchant, seen))

    report = clients_import(
        merchant=merchant,
        path=str(path),
        before_commit=lambda report: seen.append(("after the rows", _checked_now(merchant))),
    )

    postgres = connection.vendor == "postgresql"
    assert seen == [("before the rows", postgres), ("after the rows", False)]
    assert report.created == Client.objects.filter(merchant=merchant).count() > 0
    assert LedgerEntry.objects.filter(client__merchant=merchant).count() == report.opening_balances
    assert report.opening_balances > 0
    assert not ChannelOptOut.objects.exists()
