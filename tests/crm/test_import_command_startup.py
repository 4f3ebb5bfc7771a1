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
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600)


@pytest.mark.parametrize("entry", ["config.wsgi", "config.asgi"])
def test_a_web_process_loads_the_admin_modules_as_it_starts(entry):
    """The web entry points discover the admin at start-up, so no request pays for it."""
    script = (
        f"import sys, {entry}\n"
        "from django.contrib import admin\n"
        "from crm.models import Client\n"
        "assert 'crm.admin' in sys.modules and admin.site.is_registered(Client)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=600)
