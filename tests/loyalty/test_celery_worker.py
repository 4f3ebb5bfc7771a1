"""A real Celery worker against the configured Redis broker runs the daily campaign task and
delivers the outbox message it wrote (skipped without a broker or PostgreSQL)."""

import os
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from loyalty.models import CampaignIssuance, OutboxMessage
from tests.conftest import requires_postgres
from tests.factories import CampaignFactory, MemberFactory, MerchantFactory

ROOT = Path(settings.BASE_DIR)
BROKER = settings.CELERY_BROKER_URL or ""

requires_broker = pytest.mark.skipif(
    not BROKER or BROKER.startswith("memory://"),
    reason="needs a real broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/15",
)


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def wait_for(predicate, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.broker
@requires_broker
@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_the_daily_campaigns_and_delivers(tmp_path):
    from config.celery import app
    from loyalty.tasks import run_campaigns_for_merchant

    merchant = MerchantFactory(name="ZOLOTOFF")
    CampaignFactory(
        merchant=merchant,
        kind="birthday",
        reward_points=Decimal(1500),
        days_before=10,
        channel="console",
    )
    client = MemberFactory(merchant=merchant, birthday=date(1990, 3, 12), full_name="Анна")

    queue = f"test-campaigns-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    celery = str(Path(sys.executable).with_name("celery"))
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [celery, "-A", "config", "worker", "--pool=solo", "-c", "1", "-Q", queue, "-l", "info"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        run_campaigns_for_merchant.apply_async(
            kwargs={"merchant_id": merchant.pk, "day": "2025-03-02"}, queue=queue
        )
        issued = wait_for(lambda: CampaignIssuance.objects.filter(client=client).exists())
        delivered = wait_for(
            lambda: OutboxMessage.objects.filter(client=client, status="sent").exists()
        )
    finally:
        app.conf.task_always_eager = eager
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    output = log.read_text(errors="replace")
    assert issued, f"the worker issued nothing; its log:\n{output[-3000:]}"
    assert delivered, f"the message was not delivered; worker log:\n{output[-3000:]}"
    assert CampaignIssuance.objects.get(client=client).period_key == "2025"
    assert "Анна" in output  # the console backend wrote the message in the worker
