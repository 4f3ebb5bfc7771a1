"""What the purchases recorded since the night add to a page's kept figures, kept between views.

A large merchant's page reads the night's rollup and partner rows and adds the purchases after
them (`reports.aggregates.sales`, `reports.partners`). By evening those are thousands of
purchases, each joined with its client for the channel. Here a page keeps what the purchases
up to a *settled* mark add — the largest purchase id recorded before the refresh's mark window
(`rollup.MARK_WINDOW`: every purchase up to it has committed, as for the night's own marks) —
in the cache with that mark; a later view reads only the purchases past it: the newly settled
ones are added to the kept part, the last minutes' ones are read at each view and not kept.

The kept part is dropped (read again from the first purchase) when a refund was recorded or
taken back since it was read, or a client's channel keys changed (`ClientChange`: those change
what purchases already read add), and with the next night (its key names the snapshot). A
purchase's other figures never change once recorded (`loyalty.services.refunds`).

The rollup's figures, which only the night writes, are kept until the next night (`nightly`).
Inside `one_view` (the dashboard's views) a page's blocks share one reading of the marks."""

import hashlib
import logging
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from loyalty.models import Purchase, Refund

from .models import ClientChange
from .replica import read_connection

log = logging.getLogger(__name__)

KEEP_SECONDS = 26 * 3600  # past any night: the next snapshot's key replaces the entry anyway


@dataclass(frozen=True)
class Night:
    """The refresh whose figures a page adds to: who wrote them (`key`) and its marks."""

    key: str
    purchases_seen_id: int
    refunds_seen_id: int


def night_of(snap, refreshed_at: datetime | None = None) -> Night:
    """The `Night` of a `ReportSnapshot` (or of figures written with it, given its time)."""
    at = refreshed_at or snap.refreshed_at
    return Night(
        key=f"{snap.merchant_id}:{at.timestamp():.6f}:{snap.purchases_seen_id}",
        purchases_seen_id=snap.purchases_seen_id,
        refunds_seen_id=snap.refunds_seen_id,
    )


@dataclass(frozen=True)
class Marks:
    settled: int  # purchases with an id up to it have committed
    newest: int  # the largest purchase id visible now: none past `settled` when not above it
    # refunds recorded since the night and clients' channel changes, "count:largest id" (the
    # count changes with a late commit of a smaller id too)
    refunds: str
    changes: str


_view: ContextVar[dict | None] = ContextVar("reports_intraday_view", default=None)


@contextmanager
def one_view():
    """Inside (a view; also a decorator): what `per_view` reads — the marks among it — is read
    once per key, so a page's blocks share it."""
    token = _view.set({})
    try:
        yield
    finally:
        _view.reset(token)


def per_view(key, read: Callable[[], object]):
    """`read()` once per `key` inside `one_view` (a page's blocks share it); each call outside."""
    memo = _view.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]


def marks(merchant_id: int, night: Night) -> Marks:
    """The settled purchase mark, the newest purchase and the refund and change counts since
    the night, in one statement: the settled purchase found from the newest down (the last
    minutes' purchases). Read once inside `one_view`."""
    return per_view(("marks", night.key), lambda: _read_marks(merchant_id, night))


def _read_marks(merchant_id: int, night: Night) -> Marks:
    from .rollup import MARK_WINDOW  # here: the rollup imports the aggregates, which import this

    p, r, c = (m._meta.db_table for m in (Purchase, Refund, ClientChange))
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT id FROM {p} WHERE merchant_id = %s AND id > %s AND created_at < %s "
            f"ORDER BY id DESC LIMIT 1), "
            f"(SELECT id FROM {p} WHERE merchant_id = %s AND id > %s ORDER BY id DESC LIMIT 1), "
            f"(SELECT COUNT(*) || ':' || COALESCE(MAX(id), 0) FROM {r} "
            "WHERE merchant_id = %s AND id > %s), "
            f"(SELECT COUNT(*) || ':' || COALESCE(MAX(id), 0) FROM {c} WHERE merchant_id = %s)",
            [
                merchant_id,
                night.purchases_seen_id,
                timezone.now() - MARK_WINDOW,
                merchant_id,
                night.purchases_seen_id,
                merchant_id,
                night.refunds_seen_id,
                merchant_id,
            ],
        )
        settled, newest, refunds, changes = cursor.fetchone()
    settled = settled or night.purchases_seen_id
    return Marks(settled, max(newest or 0, settled), refunds, changes)


def _key(night: Night, question: str) -> str:
    return "reports:intraday:" + hashlib.sha1(f"{night.key}|{question}".encode()).hexdigest()


def _kept(key: str):
    """The cache's entry, or None when there is none or the cache cannot be read."""
    try:
        return cache.get(key)
    except Exception:
        log.warning("reports: the cache cannot be read; the figures are read whole")
        return None


def _keep(key: str, value) -> None:
    try:
        cache.set(key, value, timeout=KEEP_SECONDS)
    except Exception:
        log.warning("reports: the cache cannot be written; the next view reads the figures again")


def nightly(night: Night | None, question: str, read: Callable[[], object]):
    """Figures of `question` read from what only the night writes (the rollup): kept until
    the next night; read each time without a `night`."""
    if night is None:
        return read()
    key = _key(night, question)
    value = _kept(key)
    if value is None:
        value = read()
        _keep(key, value)
    return value


def added(
    merchant_id: int,
    night: Night | None,
    question: str,
    read: Callable[[int | None, int | None], object],
    merge: Callable[[object, object], object],
):
    """What the purchases since the night add to the figures of `question` (a key naming the
    figures and their filters): `read(after, through)` reads the purchases with an id in
    (after, through] (None: unbounded) and returns their figures; `merge(a, b)` returns the
    figures of both parts. The settled part is kept between views; the rest read each time
    (not read when no purchase is visible past the settled mark: one committing later is past
    it, so the next view reads it). Without a `night` (or a cache) every purchase is read."""
    if night is None:
        return read(None, None)
    now = marks(merchant_id, night)
    key = _key(night, question)
    stored = _kept(key)
    if stored is not None and (
        stored["refunds"] != now.refunds
        or stored["changes"] != now.changes
        or stored["through"] > now.settled
    ):
        stored = None
    if stored is None:
        kept = {"through": now.settled, "value": read(None, now.settled)}
    elif stored["through"] < now.settled:
        more = read(stored["through"], now.settled)
        kept = {"through": now.settled, "value": merge(stored["value"], more)}
    else:
        kept = stored
    if kept is not stored:
        _keep(key, {**kept, "refunds": now.refunds, "changes": now.changes})
    if now.newest <= now.settled:
        return kept["value"]
    return merge(kept["value"], read(now.settled, None))
