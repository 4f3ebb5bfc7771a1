"""Uploaded client bases (issue 11, item 7): private storage outside any served path, deleted
when the run ends, a dry run's file kept for its confirmation up to the retention, and an hourly
clean-up on beat that deletes what has expired."""

import datetime as dt
import os
import stat

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm.importing import (
    ImportFileError,
    import_batch_confirm,
    import_batch_create,
    import_batch_run,
)
from crm.importing.cleanup import import_uploads_cleanup
from crm.models import Client, ImportBatch
from crm.tasks import import_uploads_cleanup_task
from tests.crm.import_files import sample_rows, write_csv

pytestmark = pytest.mark.django_db


def upload(merchant, tmp_path, *, dry_run=True, rows=None) -> ImportBatch:
    path = write_csv(tmp_path / "clients.csv", rows or sample_rows(), delimiter=";")
    data = SimpleUploadedFile("clients.csv", path.read_bytes())
    return import_batch_create(merchant=merchant, user=None, upload=data, dry_run=dry_run)


def test_upload_is_private_and_outside_media(merchant, tmp_path, settings):
    batch = upload(merchant, tmp_path)
    path = batch.file.path
    root = os.path.abspath(str(settings.IMPORT_UPLOAD_ROOT))
    assert path.startswith(root + os.sep)
    assert not path.startswith(os.path.abspath(str(django_settings.MEDIA_ROOT)) + os.sep)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    folder = os.path.dirname(path)
    while True:
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        if folder == root:
            break
        folder = os.path.dirname(folder)
    with pytest.raises(ValueError):
        _ = batch.file.url


def test_default_root_is_not_under_media_or_static():
    root = os.path.abspath(str(django_settings.IMPORT_UPLOAD_ROOT))
    for served in (django_settings.MEDIA_ROOT, django_settings.STATIC_ROOT):
        assert not root.startswith(os.path.abspath(str(served)) + os.sep)


def test_done_and_failed_runs_delete_their_file(merchant, tmp_path):
    done = upload(merchant, tmp_path, dry_run=False)
    path = done.file.path
    import_batch_run(batch_id=done.pk)
    done.refresh_from_db()
    assert done.status == "done" and not done.file and not os.path.exists(path)

    failed = upload(merchant, tmp_path, dry_run=False, rows=[["nothing", "here"]])
    path = failed.file.path
    import_batch_run(batch_id=failed.pk)
    failed.refresh_from_db()
    assert failed.status == "failed" and not failed.file and not os.path.exists(path)


def test_dry_run_keeps_the_file_until_confirmed_then_it_is_deleted(merchant, tmp_path):
    dry = upload(merchant, tmp_path)
    import_batch_run(batch_id=dry.pk)
    dry.refresh_from_db()
    assert dry.status == "dry_run" and os.path.exists(dry.file.path)
    path = dry.file.path
    run = import_batch_confirm(batch=dry, user=None)
    import_batch_run(batch_id=run.pk)
    run.refresh_from_db()
    dry.refresh_from_db()
    assert run.status == "done" and Client.objects.count() == 3
    assert not os.path.exists(path) and not dry.file and not run.file
    with pytest.raises(ImportFileError, match="upload the file again"):
        import_batch_confirm(batch=dry, user=None)


def test_cleanup_deletes_expired_dry_runs_and_old_orphans_only(merchant, tmp_path, settings):
    settings.IMPORT_UPLOAD_RETENTION_HOURS = 24
    now = timezone.now()
    expired = upload(merchant, tmp_path)
    import_batch_run(batch_id=expired.pk)
    ImportBatch.objects.filter(pk=expired.pk).update(finished_at=now - dt.timedelta(hours=25))
    recent = upload(merchant, tmp_path)
    import_batch_run(batch_id=recent.pk)
    queued = upload(merchant, tmp_path, dry_run=False)
    root = str(settings.IMPORT_UPLOAD_ROOT)
    old_orphan = os.path.join(root, "2020", "01", "left-behind.csv")
    new_orphan = os.path.join(root, "2020", "01", "just-written.csv")
    os.makedirs(os.path.dirname(old_orphan), exist_ok=True)
    for path in (old_orphan, new_orphan):
        with open(path, "w") as handle:
            handle.write("phone\n")
    old = (now - dt.timedelta(hours=30)).timestamp()
    os.utime(old_orphan, (old, old))
    paths = {b.pk: b.file.path for b in ImportBatch.objects.all()}

    assert import_uploads_cleanup_task.apply().get() == 2

    assert not os.path.exists(paths[expired.pk])
    assert os.path.exists(paths[recent.pk]) and os.path.exists(paths[queued.pk])
    assert not os.path.exists(old_orphan) and os.path.exists(new_orphan)
    expired.refresh_from_db()
    assert not expired.file
    with pytest.raises(ImportFileError, match="24 hours"):
        import_batch_confirm(batch=expired, user=None)
    assert import_uploads_cleanup(now=now) == 0


def test_cleanup_is_on_beat():
    task = PeriodicTask.objects.get(task="crm.import_uploads_cleanup")
    assert task.enabled and task.interval.every == 60 and task.interval.period == "minutes"
