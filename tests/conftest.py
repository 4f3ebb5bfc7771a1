import importlib
import os
from decimal import Decimal

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls
# from that thread are safe here (one thread per test).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    # The suite asserts on English source messages; the Russian UI (the product default)
    # is tested explicitly in tests/test_i18n.py.
    settings.LANGUAGE_CODE = "en"
    settings.AXES_ENABLED = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )


@pytest.fixture(autouse=True, scope="session")
def _admin_discovered():
    """The admin registry as a web process has it: its modules are discovered by the URL
    configuration (config.apps), which a test reading `admin.site` may not have loaded yet."""
    importlib.import_module(settings.ROOT_URLCONF)


@pytest.fixture(autouse=True)
def _english_by_default():
    """Each test starts in English, whatever language an earlier test's request activated in
    this thread (a page requested in Russian leaves Russian active)."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


requires_postgres = pytest.mark.skipif(
    not settings.IS_POSTGRES,
    reason="needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test",
)


@pytest.fixture
def merchant(db):
    from tests.factories import MerchantFactory

    return MerchantFactory()


@pytest.fixture
def program(merchant):
    from loyalty.program import TierSpec, program_configure

    return program_configure(
        merchant=merchant,
        tiers=[
            TierSpec("Base", Decimal(3), Decimal(10), Decimal(0)),
            TierSpec("Silver", Decimal(5), Decimal(20), Decimal(10000)),
        ],
        welcome_points=Decimal(100),
    )


@pytest.fixture(autouse=True)
def _no_kept_pos_tokens():
    """Each test starts with no Evotor token kept from an earlier test's merchant (the cache
    of `loyalty.pos.tokens` lives in the process, the test databases' rows do not)."""
    from loyalty.pos import tokens

    tokens.forget()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the process's cache outlives the test databases'
    rows, whose ids (and so the keys of what pages keep, `reports.intraday`) a later test may
    reuse."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _private_import_uploads(settings, tmp_path_factory):
    """Uploaded client bases go to a per-test private folder, never the checkout."""
    settings.IMPORT_UPLOAD_ROOT = tmp_path_factory.mktemp("imports")


@pytest.fixture(autouse=True)
def _replica_reads_where_the_test_allows_them(request, monkeypatch):
    """With DATABASE_REPLICA_URL set (CI on PostgreSQL), reports route reads to the replica
    alias only in tests that open it (`django_db(databases=[..., "replica"])`); elsewhere a
    query to an alias the test did not ask for would be refused, so they read the primary."""
    from django.conf import settings as django_settings

    from reports import replica

    if replica.REPLICA not in django_settings.DATABASES:
        return
    marker = request.node.get_closest_marker("django_db")
    uses_db = {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames)
    if marker is None and not uses_db:
        return  # no database at all: nothing to redirect
    databases = (marker.kwargs.get("databases") or ()) if marker else ()
    if databases != "__all__" and replica.REPLICA not in databases:
        monkeypatch.setattr(replica, "replica_configured", lambda: False)


@pytest.fixture
def standard_checklist(db):
    """The standard checklist the data migrations wrote. Each transactional test's flush
    (browser tests, concurrency tests) takes that data with it; put it back the way the
    migrations did, so a test that needs it does not depend on the order tests run in."""
    from django.apps import apps

    from onboarding.models import ChecklistTemplate

    if not ChecklistTemplate.objects.filter(is_default=True).exists():
        seeders = [
            ("0004_seed_checklist_template", "seed"),
            ("0008_standard_checklist_facts", "name_facts"),
            ("0010_standard_pos_steps", "add_steps"),
        ]
        for module, function in seeders:
            migration = importlib.import_module(f"onboarding.migrations.{module}")
            getattr(migration, function)(apps, None)
    return ChecklistTemplate.objects.get(is_default=True)
