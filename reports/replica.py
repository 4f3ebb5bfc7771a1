"""Reports and dashboards read from a replica when one is configured.

`DATABASE_REPLICA_URL` adds the `replica` alias; views wrapped in `reads_from_replica` (and
code inside `replica_reads()`) send their reads there — ORM queries through `ReplicaRouter`,
raw SQL through `read_connection()`. Every write, and everything outside such a block (the
engine, the POS webhooks, imports, campaigns), stays on the primary. Without a replica the
block reads from the primary, so callers need not know which shape is deployed."""

from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
_reading = ContextVar("reports_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """The alias reads go to here and now: the replica inside a replica block, if configured."""
    return REPLICA if _reading.get() and replica_configured() else DEFAULT_DB_ALIAS


def read_connection():
    """The connection for raw-SQL reads (reports' set-based statements)."""
    return connections[read_alias()]


@contextmanager
def replica_reads():
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def reads_from_replica(view):
    """A read-only view (dashboards, exports): its queries go to the replica."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    return wrapper


class ReplicaRouter:
    """Reads inside a replica block go to the replica; writes and migrations to the primary."""

    def db_for_read(self, model, **hints):
        return read_alias() if _reading.get() else None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, copied: objects from either alias may be related

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
