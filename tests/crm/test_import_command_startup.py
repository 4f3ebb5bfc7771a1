"""The import command's start-up: no system checks of the whole site (they load every view and
admin module), and a Django set-up that does not import the admin modules — the URL
configuration and the admin's check discover them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import base as management_base
from django.core.management.base import BaseCommand

from crm.management.commands.import_clients import Command
from crm.models import Client
from tests.crm.import_files import HEADER_RU, write_csv
from tests.factories import MerchantFactory

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(script: str) -> None:
    """Run `script` in a new Python process of the project (its own imports, nothing of the
    test session's); an assertion in it fails the test."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600)


@pytest.mark.django_db
def test_the_import_command_runs_without_the_site_checks(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("the import command ran the site's system checks")

    monkeypatch.setattr(BaseCommand, "check", refuse)
    # `run_from_argv` closes the connections at the end; the test's transaction needs its own.
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    merchant = MerchantFactory()
    path = write_csv(
        tmp_path / "c.csv", [HEADER_RU, ["+79131234567", "Анна", "", "", "", "", "", ""]]
    )
    # As `manage.py` runs it (call_command skips the checks whatever the command says).
    Command().run_from_argv(["manage.py", "import_clients", str(path), "--merchant", merchant.slug])
    assert Client.objects.filter(merchant=merchant, phone="+79131234567").exists()


def test_django_setup_leaves_the_admin_modules_to_the_urlconf():
    script = (
        "import sys, django; django.setup()\n"
        "from django.contrib import admin\n"
        "from crm.models import Client\n"
        "assert 'cards.admin' not in sys.modules and 'crm.admin' not in sys.modules\n"
        "assert not admin.site.is_registered(Client)\n"
        "import config.urls\n"
        "assert admin.site.is_registered(Client)\n"
        "from django.core import checks\n"
        "assert not [e for e in checks.run_checks(tags=['admin']) if e.is_serious()]\n"
    )
    run_fresh(script)


@pytest.mark.parametrize("entry", ["config.wsgi", "config.asgi"])
def test_a_web_process_loads_the_admin_modules_as_it_starts(entry):
    """The web entry points discover the admin and load the campaign hooks at start-up, so no
    request pays for them."""
    script = (
        f"import sys, {entry}\n"
        "from django.contrib import admin\n"
        "from crm.models import Client\n"
        "assert 'crm.admin' in sys.modules and admin.site.is_registered(Client)\n"
        "assert 'loyalty.campaigns.hooks' in sys.modules\n"
    )
    run_fresh(script)


def test_django_setup_leaves_tasks_channels_and_export_formats_to_who_needs_them():
    """A command's set-up loads neither the campaign hooks and Celery tasks, nor the delivery
    channels (web push, `cryptography`), nor django-import-export's formats (openpyxl); the
    worker's autodiscovery still registers every task, and the engine's events and the model
    signals still reach the campaigns (they import them when called)."""
    script = (
        "import sys, django; django.setup()\n"
        "import crm.management.commands.import_clients\n"
        "lazy = ['loyalty.tasks', 'loyalty.campaigns.hooks', 'loyalty.campaigns.schedule',\n"
        "        'cards.services', 'loyalty.channels.webpush', 'cryptography', 'openpyxl',\n"
        "        'import_export.formats.base_formats', 'loyalty.campaigns.issuance']\n"
        "loaded = [m for m in lazy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "from loyalty import events\n"
        "from loyalty.campaigns import signals\n"
        "assert events.event_reactions(events.PURCHASES_RECORDED) == [signals.purchases_recorded]\n"
        "assert events.event_reactions(events.CLIENTS_JOINED) == [signals.clients_joined]\n"
        "from config.celery import app\n"
        "app.loader.import_default_modules()  # what a worker does at start: autodiscovery\n"
        "names = {'loyalty.tasks.run_campaigns_for_merchant', 'loyalty.tasks.run_campaigns_all',\n"
        "         'loyalty.tasks.deliver_outbox_message', 'loyalty.tasks.deliver_pending_outbox',\n"
        "         'loyalty.tasks.retry_pos_event', 'loyalty.tasks.retry_failed_pos_events',\n"
        "         'crm.import_batch', 'crm.import_uploads_cleanup'}\n"
        "missing = names - set(app.tasks)\n"
        "assert not missing, missing\n"
    )
    run_fresh(script)


def test_django_setup_leaves_the_import_the_ledger_and_the_reports_to_who_needs_them():
    """Django set-up alone (every command, every worker) loads neither the client import's
    package (its readers, detection and `phonenumbers`), nor the points ledger, nor the reports'
    RFM and members modules: the hooks between the apps are installed by name and imported when
    first used, and still answer (a deleted merchant's client changes still go:
    tests/reports/test_members_carried.py)."""
    script = (
        "import sys, django; django.setup()\n"
        "heavy = ['crm.importing', 'crm.phones', 'phonenumbers', 'loyalty.ledger',\n"
        "         'reports.rfm', 'reports.members', 'reports.aggregates']\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "from crm.opening_balances import opening_balances\n"
        "from loyalty.campaigns.providers import rfm_provider\n"
        "from loyalty.ledger.opening import LedgerOpeningBalances\n"
        "from reports.rfm import segment_client_ids\n"
        "assert isinstance(opening_balances(), LedgerOpeningBalances)\n"
        "assert opening_balances() is opening_balances()  # built once\n"
        "assert rfm_provider() is segment_client_ids\n"
    )
    run_fresh(script)
