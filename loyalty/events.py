"""Engine events and the reactions registered to them at start-up.

The purchase engine and the joining service sit below campaigns, POS and delivery: they never
import them. They announce what they committed here, and the higher modules register their
reactions in `LoyaltyConfig.ready` (campaigns: check-growth certificates after purchases, the
welcome gift after joining). A reaction runs after the transaction commits, with the ids it
committed, and never breaks the caller: a failure is logged and the daily run's catch-up
issues what was missed.

Events:
- PURCHASES_RECORDED: ids of new purchases that may reach a check-growth threshold, once per
  committed transaction;
- CLIENTS_JOINED: ids of clients who just became digitised members.
"""

import logging
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger("loyalty.events")

PURCHASES_RECORDED = "purchases_recorded"
CLIENTS_JOINED = "clients_joined"
EVENTS = (PURCHASES_RECORDED, CLIENTS_JOINED)

Reaction = Callable[[list[int]], object]

_reactions: dict[str, list[Reaction]] = {event: [] for event in EVENTS}


def event_subscribe(event: str, reaction: Reaction) -> None:
    """Register `reaction(ids)` for an event; registering the same function twice keeps one."""
    if event not in _reactions:
        raise ValueError(f"Unknown engine event {event!r}; known: {', '.join(EVENTS)}")
    if reaction not in _reactions[event]:
        _reactions[event].append(reaction)


def event_unsubscribe(event: str, reaction: Reaction) -> None:
    """Remove a registered reaction (benches and tests that measure the engine alone)."""
    if reaction in _reactions.get(event, []):
        _reactions[event].remove(reaction)


def event_reactions(event: str) -> list[Reaction]:
    """The reactions registered for an event, in registration order."""
    return list(_reactions[event])


def event_emit_on_commit(event: str, ids: Iterable[int]) -> None:
    """Run every reaction to `event` with `ids` once the current transaction commits (at
    once outside a transaction). Nothing is scheduled when no one listens or `ids` is empty."""
    ids = list(ids)
    reactions = _reactions[event]
    if not ids or not reactions:
        return
    for reaction in list(reactions):
        transaction.on_commit(lambda reaction=reaction: _run(event, reaction, ids), robust=True)


def _run(event: str, reaction: Reaction, ids: list[int]) -> None:
    try:
        reaction(ids)
    except Exception:  # a reaction never breaks the engine; the daily catch-up repairs it
        logger.exception("reaction %s to %s failed for ids %s", reaction, event, ids[:20])
