"""Fixes in the preview (rejected rows corrected, re-validated, kept with the run, applied on
confirm) and undoing an import run (created clients removed, filled fields restored, opening
balances reversed through the ledger, clients with activity kept)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from crm.importing import ImportFileError, import_batch_confirm, import_batch_run, import_file_run
from crm.importing.fixes import import_row_fix
from crm.importing.undo import import_run_undo
from crm.models import Client, ImportBatch, ImportPriorValue
from loyalty.ledger import ledger_balance, ledger_post, lock_clients
from loyalty.models import LedgerEntry, LedgerKind
from tests.crm.import_files import write_csv
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = ["Телефон", "ФИО", "Дата рождения", "Email", "Баллы"]


@pytest.fixture
def specialist(merchant):
    user = UserFactory(username="spec-undo", role="specialist")
    merchant.specialists.add(user)
    return user


def dry_run(merchant, user, path):
    from django.core.files import File

    from crm.importing import import_batch_create

    with open(path, "rb") as handle:
        batch = import_batch_create(
            merchant=merchant, user=user, upload=File(handle, name=path.name), dry_run=True
        )
    return import_batch_run(batch_id=batch.pk)


def test_fix_in_preview_is_validated_kept_and_applied_on_confirm(merchant, specialist, tmp_path):
    rows = [
        HEADER,
        ["89131234567", "Анна", "01.02.1990", "anna@example.com", ""],
        ["12345", "Пётр", "31.02.1985", "petr@", "10"],
        ["89131234569", "Иван", "", "", ""],
    ]
    batch = dry_run(merchant, specialist, write_csv(tmp_path / "c.csv", rows))
    assert (batch.status, batch.created, batch.rejected) == ("dry_run", 2, 1)
    kept = batch.report["rejected_rows"]
    assert kept[0]["row"] == 3 and kept[0]["values"]["phone"] == "12345"

    # A fix that is still wrong is refused with the row's messages, and not kept.
    result = import_row_fix(
        batch=batch, user=specialist, row=3, values={"phone": "8 913 123 45 68"}
    )
    assert not result["ok"]
    assert {e["column"] for e in result["errors"]} == {"Дата рождения", "Email"}
    batch.refresh_from_db()
    assert batch.fixes == {}

    result = import_row_fix(
        batch=batch,
        user=specialist,
        row=3,
        values={"phone": "8 913 123 45 68", "birthday": "28.02.1985", "email": "petr@example.com"},
    )
    assert result == {
        "ok": True,
        "row": 3,
        "errors": [],
        "values": {
            "phone": "8 913 123 45 68",
            "full_name": "Пётр",
            "birthday": "28.02.1985",
            "email": "petr@example.com",
            "points": "10",
        },
    }
    batch.refresh_from_db()
    assert batch.fixes == {
        "3": {"phone": "8 913 123 45 68", "birthday": "28.02.1985", "email": "petr@example.com"}
    }
    text = Path(batch.file.path).read_text(encoding="utf-8")
    assert "\n12345,Пётр,31.02.1985,petr@,10\n" in text  # the file stays as uploaded

    run = import_batch_run(batch_id=import_batch_confirm(batch=batch, user=specialist).pk)
    assert (run.status, run.created, run.rejected) == ("done", 3, 0)
    petr = Client.objects.get(phone="+79131234568")
    assert (petr.full_name, petr.birthday, petr.email) == (
        "Пётр",
        dt.date(1985, 2, 28),
        "petr@example.com",
    )
    assert petr.balance == Decimal("10")


def test_fix_refused_outside_a_dry_run_or_for_other_merchants(merchant, specialist, tmp_path):
    rows = [HEADER, ["12345", "Пётр", "", "", ""], ["89131234567", "", "", "", ""]]
    batch = dry_run(merchant, specialist, write_csv(tmp_path / "c.csv", rows))
    outsider = UserFactory(username="spec-outsider-fix", role="specialist")
    MerchantFactory().specialists.add(outsider)
    with pytest.raises(ImportFileError, match="cannot import into this merchant"):
        import_row_fix(batch=batch, user=outsider, row=2, values={"phone": "89131234568"})
    with pytest.raises(ImportFileError, match="not among the rejected rows"):
        import_row_fix(batch=batch, user=specialist, row=3, values={"phone": "89131234568"})
    ImportBatch.objects.filter(pk=batch.pk).update(status="done")
    batch.refresh_from_db()
    with pytest.raises(ImportFileError, match="only in a finished dry run"):
        import_row_fix(batch=batch, user=specialist, row=2, values={"phone": "89131234568"})


def test_fix_view_answers_json_and_is_scoped(client, merchant, specialist, tmp_path):
    rows = [HEADER, ["12345", "Пётр", "", "", ""], ["89131234567", "", "", "", ""]]
    batch = dry_run(merchant, specialist, write_csv(tmp_path / "c.csv", rows))
    client.force_login(specialist)
    url = reverse("admin:crm_importbatch_fix", args=[batch.pk])
    answer = client.post(
        url, {"row": 2, "phone": "8913123456"}, HTTP_ACCEPT="application/json"
    ).json()
    assert not answer["ok"] and "8913123456" in answer["errors"][0]["message"]
    answer = client.post(
        url, {"row": 2, "phone": "89131234568"}, HTTP_ACCEPT="application/json"
    ).json()
    assert answer["ok"]
    other = ImportBatch.objects.create(merchant=MerchantFactory(), status="dry_run", dry_run=True)
    assert (
        client.post(reverse("admin:crm_importbatch_fix", args=[other.pk]), {"row": 2}).status_code
        == 404
    )


def real_run(merchant, user, rows, tmp_path, name="c.csv", **kwargs):
    batch, report = import_file_run(
        merchant=merchant, path=str(write_csv(tmp_path / name, rows)), user=user, **kwargs
    )
    assert batch.status == "done", batch.message
    return batch


def test_undo_removes_restores_reverses_and_keeps_active_clients(merchant, specialist, tmp_path):
    existing = ClientFactory(merchant=merchant, phone="+79131234560", full_name="", email="")
    rows = [
        HEADER,
        ["89131234560", "Старый Клиент", "", "old@example.com", "50"],
        ["89131234561", "Новый Тихий", "", "", "20"],
        ["89131234562", "Новый Активный", "", "", "30"],
    ]
    batch = real_run(merchant, specialist, rows, tmp_path)
    assert (batch.created, batch.updated) == (2, 1)
    prior = ImportPriorValue.objects.get(batch=batch)
    assert prior.client_id == existing.pk
    assert prior.values == {
        "full_name": ["", "Старый Клиент"],
        "email": ["", "old@example.com"],
    }
    active = Client.objects.get(phone="+79131234562")
    with _atomic():
        locked = lock_clients([active.pk])[active.pk]
        ledger_post(client=locked, kind=LedgerKind.REDEMPTION, points=Decimal("-25"))

    outcome = import_run_undo(batch=batch, user=specialist)
    assert outcome["removed"] == 1 and outcome["restored"] == 1 and outcome["reversed"] == 2
    assert [k["phone"] for k in outcome["kept"]] == ["+79131234562"]
    assert str(LedgerEntry._meta.verbose_name_plural) in outcome["kept"][0]["why"]
    assert outcome["uncovered"] == "25.00"
    assert not Client.objects.filter(phone="+79131234561").exists()
    existing.refresh_from_db()
    assert (existing.full_name, existing.email) == ("", "")
    assert existing.balance == 0 and ledger_balance(existing) == 0
    active.refresh_from_db()
    assert active.balance == 0 and ledger_balance(active) == 0
    reversal = LedgerEntry.objects.get(client=active, kind=LedgerKind.ADJUSTMENT)
    assert (reversal.points, reversal.uncovered) == (Decimal("-5.00"), Decimal("25.00"))
    batch.refresh_from_db()
    assert batch.undone_at is not None and batch.undone_by == specialist
    assert batch.report["undo"]["removed"] == 1
    log = LogEntry.objects.get(object_id=str(batch.pk))
    assert (
        "Import undone. Clients removed: 1; restored: 1; opening balances reversed: 2"
        in log.change_message
    )

    with pytest.raises(ImportFileError, match="already undone"):
        import_run_undo(batch=batch, user=specialist)


def _atomic():
    from django.db import transaction

    return transaction.atomic()


def test_undo_keeps_fields_changed_since_and_has_a_period(merchant, specialist, tmp_path, settings):
    existing = ClientFactory(merchant=merchant, phone="+79131234560", full_name="", email="")
    rows = [HEADER, ["89131234560", "Из файла", "", "file@example.com", ""]]
    batch = real_run(merchant, specialist, rows, tmp_path)
    Client.objects.filter(pk=existing.pk).update(email="new@example.com")
    import_run_undo(batch=batch, user=specialist)
    existing.refresh_from_db()
    assert (existing.full_name, existing.email) == ("", "new@example.com")

    other = real_run(
        merchant, specialist, [HEADER, ["89131234565", "X", "", "", ""]], tmp_path, "d.csv"
    )
    settings.IMPORT_UNDO_DAYS = 3
    ImportBatch.objects.filter(pk=other.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=4)
    )
    other.refresh_from_db()
    with pytest.raises(ImportFileError, match="undo period \\(days\\) is 3"):
        import_run_undo(batch=other, user=specialist)
    assert Client.objects.filter(phone="+79131234565").exists()


def test_undo_view_needs_delete_permission_and_scope(client, merchant, specialist, tmp_path):
    batch = real_run(merchant, specialist, [HEADER, ["89131234565", "X", "", "", ""]], tmp_path)
    client.force_login(specialist)
    page = client.get(reverse("admin:crm_importbatch_change", args=[batch.pk])).content.decode()
    can = specialist.has_perm("crm.delete_client")
    assert ("import-undo" in page) == can
    response = client.post(reverse("admin:crm_importbatch_undo", args=[batch.pk]))
    if can:
        assert response.status_code == 302
        assert not Client.objects.filter(phone="+79131234565").exists()
    else:
        assert response.status_code == 403
    other = ImportBatch.objects.create(merchant=MerchantFactory(), status="done")
    assert client.post(reverse("admin:crm_importbatch_undo", args=[other.pk])).status_code in (
        403,
        404,
    )
