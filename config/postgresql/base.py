"""Django's PostgreSQL backend, with the connection health check (`CONN_HEALTH_CHECKS`) sent
only when the connection was idle for `DATABASE_HEALTH_CHECK_IDLE` seconds or more.

Django checks a kept connection with `SELECT 1` at the first query of every request: one
round trip per POS document. A connection that served a request moments ago is as likely
to work as one that was just checked, so a busy process skips the check; a connection idle
for longer (a server restart, a dropped link, a proxy's idle timeout) is still checked
before use. What the skip risks: the server going away within that many seconds after the
previous request, which fails the next request once (as it fails a request in flight at
that moment), after which the broken connection is replaced. A connection that saw an
error is always checked (Django's own rule). 0 checks every request, as Django does."""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    last_seen: float | None = None  # monotonic moment of the last request start or end

    def close_if_unusable_or_obsolete(self):
        super().close_if_unusable_or_obsolete()
        now = time.monotonic()
        idle_limit = getattr(settings, "DATABASE_HEALTH_CHECK_IDLE", 0)
        if (
            self.connection is not None
            and self.last_seen is not None
            and now - self.last_seen < idle_limit
        ):
            self.health_check_done = True  # used moments ago: no check round trip
        self.last_seen = now
