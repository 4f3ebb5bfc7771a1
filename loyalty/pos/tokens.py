"""The merchant row an Evotor user token names, kept per web process for a moment.

Every notification names its merchant by the token's hash; the look-up is one statement per
document, the same row each time. A process keeps the row (not a model instance: each request
builds its own merchant, so nothing one request caches on it reaches the next) for
EVOTOR_TOKEN_CACHE_SECONDS (0: no cache). Only a token that names a merchant is kept: an
unknown token is looked up every time, so a token issued a moment ago works at once.

Revocation: a token re-issued (`/user/verify`) or withdrawn, or its merchant changed or
deleted, is forgotten at once by the process that saved the merchant (`forget`, on every
save and delete of a merchant) and within EVOTOR_TOKEN_CACHE_SECONDS by every other process:
for that long after a change a sibling process may still accept the replaced token (and a
document for a merchant another process deleted fails on its foreign keys, writing nothing,
where it would have been refused with 401). A deployment that cannot allow that sets the
setting to 0 (one statement more per document)."""

import time

from django.conf import settings

SIZE = 1024  # tokens kept per process; beyond it the cache starts again empty

# token hash → (merchant row, monotonic moment it expires)
_ROWS: dict[str, tuple[tuple, float]] = {}


def cached(digest: str) -> tuple | None:
    """The merchant row kept for this token hash, if still fresh."""
    hit = _ROWS.get(digest)
    if hit is None or hit[1] <= time.monotonic():
        return None
    return hit[0]


def keep(digest: str, row: tuple) -> None:
    """Keep the row the token hash names, for EVOTOR_TOKEN_CACHE_SECONDS."""
    seconds = settings.EVOTOR_TOKEN_CACHE_SECONDS
    if seconds <= 0:
        return
    if len(_ROWS) >= SIZE:
        _ROWS.clear()
    _ROWS[digest] = (row, time.monotonic() + seconds)


def forget(**_signal) -> None:
    """Forget every kept row (a merchant was saved or deleted: its token may have changed)."""
    _ROWS.clear()
