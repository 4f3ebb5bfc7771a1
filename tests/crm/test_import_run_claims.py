"""Who may write an import run (issue 11, items 8–10): a stale run never writes, a run that lost
its claim rolls back, a task delivered again after a killed worker really re-runs (once), and a
broker that is down fails the run with a message instead of a 500 and an orphan queued run."""

import datetime as dt
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from crm.importing import import_batch_create, import_batches_mark_stale
from crm.models import Client, ImportBatch
from crm.tasks import import_batch_task
from tests.crm.import_files import admin_confirm_columns, sample_rows, write_csv
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def queued(merchant, tmp_path, *, dry_run=False) -> ImportBatch:
    path = write_csv(tmp_path / "clients.csv", sample_rows(), delimiter=";")
    upload = SimpleUploadedFile("clients.csv", path.read_bytes())
    return import_batch_create(merchant=merchant, user=None, upload=upload, dry_run=dry_run)


def test_a_stale_batch_never_runs(merchant, tmp_path):
    batch = queued(merchant, tmp_path)
    ImportBatch.objects.filter(pk=batch.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert import_batches_mark_stale() == 1
    import_batch_task.apply(args=[batch.pk])  # the queued task arrives late
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.STALE
    assert "Nothing was written" in batch.message
    assert not Client.objects.exists()


def test_a_run_marked_stale_while_it_runs_writes_nothing(merchant, tmp_path, monkeypatch):
    from crm.importing import service

    batch = queued(merchant, tmp_path)
    real_open = service.open_table

    def open_then_marked_stale(*args, **kwargs):
        # The admin page decides the run is stale (committed) while the worker reads the file.
        table = real_open(*args, **kwargs)
        ImportBatch.objects.filter(pk=batch.pk).update(
            heartbeat_at=timezone.now() - dt.timedelta(hours=1)
        )
        assert import_batches_mark_stale() == 1
        return table

    monkeypatch.setattr(service, "open_table", open_then_marked_stale)
    import_batch_task.apply(args=[batch.pk])
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.STALE
    assert (batch.created, batch.claim) == (0, "")
    assert not Client.objects.exists()


def test_redelivered_task_reruns_a_run_lost_with_its_worker(merchant, tmp_path):
    batch = queued(merchant, tmp_path)
    # A worker claimed it, showed 44 % and was killed: its transaction was rolled back.
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING, claim="dead-worker", progress=44
    )
    result = import_batch_task.apply(args=[batch.pk]).get()
    batch.refresh_from_db()
    assert result == {"id": batch.pk, "status": "done"}
    assert (batch.status, batch.progress, batch.created, batch.claim) == ("done", 100, 3, "")
    assert Client.objects.filter(merchant=merchant).count() == 3
    assert not batch.file  # the upload is deleted once the run has ended

    import_batch_task.apply(args=[batch.pk])  # delivered once more: nothing happens
    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("done", 3)
    assert Client.objects.filter(merchant=merchant).count() == 3


def test_rerun_recognises_rows_already_in_the_base(merchant, tmp_path):
    ClientFactory(merchant=merchant, phone="+79131234567", full_name="")
    batch = queued(merchant, tmp_path)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.RUNNING, claim="dead-worker", progress=44
    )
    import_batch_task.apply(args=[batch.pk])
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.updated) == ("done", 2, 1)
    assert Client.objects.filter(merchant=merchant).count() == 3
    assert Client.objects.filter(merchant=merchant, phone="+79131234567").count() == 1


def test_a_run_that_lost_its_claim_to_a_redelivery_rolls_back(merchant, tmp_path, monkeypatch):
    from crm.importing import service

    batch = queued(merchant, tmp_path)
    real_open = service.open_table

    def open_then_taken_over(*args, **kwargs):
        table = real_open(*args, **kwargs)
        ImportBatch.objects.filter(pk=batch.pk).update(claim="redelivered-task")
        return table

    monkeypatch.setattr(service, "open_table", open_then_taken_over)
    import_batch_task.apply(args=[batch.pk])
    batch.refresh_from_db()
    assert (batch.status, batch.claim) == ("running", "redelivered-task")
    assert not Client.objects.exists()
    assert batch.file  # the other run still needs the file


# --- item 8: the broker is down when the import is queued ---------------------------------------


@pytest.fixture
def spec_client(client):
    user = UserFactory(username="spec-broker", role="specialist")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    merchant = MerchantFactory(slug="broker")
    merchant.specialists.add(user)
    client.merchant = merchant
    return client


def test_broker_down_gives_a_message_and_no_orphan_run(
    transactional_db, spec_client, tmp_path, settings
):
    # Transactional: the request commits as in production, so the queueing (on commit) happens
    # before the page is answered.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.IMPORT_ASYNC_THRESHOLD_BYTES = 10  # every file goes to the worker
    path = write_csv(tmp_path / "clients.csv", sample_rows(), delimiter=";")
    upload = SimpleUploadedFile("clients.csv", path.read_bytes(), content_type="text/csv")
    response = spec_client.post(
        reverse("admin:crm_client_import"),
        {"merchant": spec_client.merchant.pk, "import_file": upload, "format": "0"},
    )
    with mock.patch.object(
        import_batch_task, "apply_async", side_effect=OperationalError("Connection refused")
    ) as publish:
        response = admin_confirm_columns(spec_client, response)
    assert publish.called
    assert response.status_code == 200
    assert "task queue is not reachable" in response.content.decode()
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatch.Status.FAILED
    assert "nothing was written" in batch.message
    assert not batch.file
    assert not ImportBatch.objects.filter(status__in=["pending", "running"]).exists()
