"""`undo_import RUN_ID [--dry-run] [--user NAME]`: the admin's undo from the command line — same
rules, same undo period, the same list of kept clients."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from crm.importing import import_file_run
from crm.models import Client, ImportBatch
from loyalty.ledger import ledger_post, lock_clients
from loyalty.models import LedgerEntry, LedgerKind
from tests.crm.import_files import write_csv
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = ["Телефон", "ФИО", "Email", "Баллы", "Город"]


def run(merchant, tmp_path, rows, name="c.csv"):
    batch, _report = import_file_run(
        merchant=merchant,
        path=str(write_csv(tmp_path / name, [HEADER, *rows])),
        mapping={"columns": {}, "ignore": [], "preset": "", "notes": ["Город"]},
    )
    assert batch.status == "done", batch.message
    return batch


@pytest.fixture
def imported(merchant, tmp_path):
    existing = ClientFactory(merchant=merchant, phone="+79131234560", email="", notes="VIP")
    batch = run(
        merchant,
        tmp_path,
        [
            ["89131234560", "", "old@example.com", "", "Томск"],
            ["89131234561", "Тихий", "", "20", ""],
            ["89131234562", "Активный", "", "30", ""],
        ],
    )
    active = Client.objects.get(phone="+79131234562")
    with transaction.atomic():
        locked = lock_clients([active.pk])[active.pk]
        ledger_post(client=locked, kind=LedgerKind.REDEMPTION, points=Decimal("-10"))
    return batch, existing


def test_dry_run_prints_the_outcome_and_changes_nothing(imported, capsys):
    batch, existing = imported
    call_command("undo_import", str(batch.pk), "--dry-run")
    out = capsys.readouterr().out
    assert f"Dry run of undoing import run {batch.pk} (c.csv" in out
    assert "It would remove 1 clients, restore 1, reverse 1 opening balances and keep 1." in out
    assert "Kept (activity since the import):" in out
    assert "+79131234562 — " in out and str(LedgerEntry._meta.verbose_name_plural) in out
    assert Client.objects.filter(phone="+79131234561").exists()
    existing.refresh_from_db()
    assert (existing.email, existing.notes) == ("old@example.com", "VIP\nГород: Томск")
    assert not LedgerEntry.objects.filter(kind=LedgerKind.ADJUSTMENT).exists()
    batch.refresh_from_db()
    assert batch.undone_at is None and "undo" not in batch.report


def test_undo_removes_restores_and_lists_kept_clients(imported, capsys):
    batch, existing = imported
    user = UserFactory(username="undo-admin", is_staff=True, is_superuser=True)
    call_command("undo_import", str(batch.pk), "--user", "undo-admin")
    out = capsys.readouterr().out
    assert (
        "Import undone. Clients removed: 1; restored: 1; opening balances reversed: 1; "
        "kept (activity since): 1." in out
    )
    assert "Points already spent, not covered: 10.00." in out
    assert "+79131234562 — " in out
    assert not Client.objects.filter(phone="+79131234561").exists()
    existing.refresh_from_db()
    assert (existing.email, existing.notes) == ("", "VIP")
    batch.refresh_from_db()
    assert batch.undone_by == user and batch.report["undo"]["removed"] == 1
    assert LogEntry.objects.filter(object_id=str(batch.pk), user=user).exists()
    with pytest.raises(CommandError, match="already undone"):
        call_command("undo_import", str(batch.pk))


def test_undo_period_and_refusals(merchant, tmp_path, settings):
    batch = run(merchant, tmp_path, [["89131234565", "X", "", "", ""]])
    settings.IMPORT_UNDO_DAYS = 3
    ImportBatch.objects.filter(pk=batch.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=4)
    )
    with pytest.raises(CommandError, match="undo period \\(days\\) is 3"):
        call_command("undo_import", str(batch.pk), "--dry-run")
    assert Client.objects.filter(phone="+79131234565").exists()
    with pytest.raises(CommandError, match="No import run 999999"):
        call_command("undo_import", "999999")
    dry = ImportBatch.objects.create(merchant=merchant, status="dry_run", dry_run=True)
    with pytest.raises(CommandError, match="Only a finished import"):
        call_command("undo_import", str(dry.pk))
    UserFactory(username="cashier-undo", role="cashier")
    ImportBatch.objects.filter(pk=batch.pk).update(finished_at=timezone.now())
    with pytest.raises(CommandError, match="may not delete clients"):
        call_command("undo_import", str(batch.pk), "--user", "cashier-undo")
    with pytest.raises(CommandError, match="No user “nobody”"):
        call_command("undo_import", str(batch.pk), "--user", "nobody")
    assert Client.objects.filter(phone="+79131234565").exists()
