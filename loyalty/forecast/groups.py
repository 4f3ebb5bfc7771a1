"""Members replayed in two fixed groups, the second on the machine's other core.

A member's checks touch only their own account and, through referral rewards, their referral
family's; nothing else in a replay ties one member to another but the running count of which
checks pay with points (`Replay.redeem_share`). So the members fall into two groups — a
whole referral family in one, by the place of its smallest client id among the merchant's
clients (`family_numbers`, `group_of`) — and each group replays its own checks in time order
with its own count; the groups' outcomes add up (`Outcome.add`). The
groups are the same on every machine and in every mode, so the figures are too: a large
history replays the second group in a forked process while this one replays the first; a
small one, or a machine without `fork` or a second core, replays the groups one after the
other. The forked process only computes (any database use there fails and the group is
replayed here instead), then hands its outcomes back through a pipe."""

import os
import pickle
from array import array
from contextlib import ExitStack

from django.db import connections

GROUPS = 2
PARALLEL_MIN_CHECKS = 20_000  # below this a process costs more than it saves
NO_CLIENT = -1
SCATTER = 2654435761  # Knuth's multiplicative hash: 2**32 divided by the golden ratio
FIRST_GROUP_SHARE = 2 * 2**32 // 5


def family_roots(chains: dict) -> dict:
    """Client id → the smallest client id of its referral family (clients joined by referral
    chains), for the clients of families; any other client is a family of one."""
    parent: dict = {}

    def root(cid):
        top = cid
        while parent.get(top, top) != top:
            top = parent[top]
        while cid != top:  # point the path at the top for the next look-up
            parent[cid], cid = top, parent.get(cid, top)
        return top

    for cid, chain in chains.items():
        for ancestor in chain:
            a, b = root(cid), root(ancestor)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {cid: root(cid) for cid in parent}


def group_of(family: int) -> int:
    """The group of a referral family by its number (`family_numbers`): two fifths of the families
    in the first group, which replays where the history was read, three fifths in the
    second, which replays in the forked process (so both finish about together). The number is
    scattered by a multiplicative hash first, so ids that follow a pattern (every fifth
    client referred, say) still split by these shares."""
    return 0 if (family * SCATTER) & 0xFFFFFFFF < FIRST_GROUP_SHARE else 1


def family_numbers(client_ids, chains: dict) -> dict:
    """Client id → the number of its referral family: the place of the family's smallest
    client id among the merchant's clients in id order. Places, not ids, so the groups (and
    the figures) do not depend on the values a database gave its ids, only on their order."""
    place = {cid: n for n, cid in enumerate(sorted(client_ids))}
    roots = family_roots(chains)
    return {cid: place.get(roots.get(cid, cid), cid) for cid in place}


class Checks:
    """One group's checks in time order, compact: the client id (`NO_CLIENT` for a check
    without one) and indexes into the shared tables of days, amounts and payment types."""

    __slots__ = ("clients", "days", "amounts", "excluded", "payments")

    def __init__(self):
        self.clients = array("q")
        self.days = array("l")
        self.amounts = array("l")
        self.excluded = array("l")
        self.payments = array("l")

    def __len__(self) -> int:
        return len(self.clients)


class History:
    """A history split into groups, with the tables the groups' indexes point into."""

    def __init__(self, rows, families: dict):
        self.groups = [Checks() for _ in range(GROUPS)]
        self.days, self.values, self.payments = [], [], []
        day_index, value_index, payment_index = {}, {}, {}
        groups, family_of = self.groups, families.get
        last_day, d = None, -1
        for cid, day, amount, excluded, payment in rows:
            if day is not last_day:
                d = day_index.get(day)
                if d is None:
                    d = day_index[day] = len(self.days)
                    self.days.append(day)
                last_day = day
            a = value_index.get(amount)
            if a is None:
                a = value_index[amount] = len(self.values)
                self.values.append(amount)
            x = value_index.get(excluded)
            if x is None:
                x = value_index[excluded] = len(self.values)
                self.values.append(excluded)
            p = payment_index.get(payment)
            if p is None:
                p = payment_index[payment] = len(self.payments)
                self.payments.append(payment)
            if cid is None:
                group, cid = groups[0], NO_CLIENT
            else:
                group = groups[group_of(family_of(cid, cid))]
            group.clients.append(cid)
            group.days.append(d)
            group.amounts.append(a)
            group.excluded.append(x)
            group.payments.append(p)

    def __len__(self) -> int:
        return sum(len(group) for group in self.groups)

    def replay(self, group: Checks, replays: list) -> list:
        """Feed one group's checks to `replays` (fresh ones), finish them, return their
        outcomes."""
        days, values, payments = self.days, self.values, self.payments
        feeds = [replay.purchase for replay in replays]
        for cid, d, a, x, p in zip(
            group.clients, group.days, group.amounts, group.excluded, group.payments, strict=True
        ):
            client = None if cid == NO_CLIENT else cid
            day, amount, excluded, payment = days[d], values[a], values[x], payments[p]
            for purchase in feeds:
                purchase(client, day, amount, excluded, payment)
        for replay in replays:
            replay.finish()
        return [replay.outcome() for replay in replays]


def replay_history(history: History, make_replays) -> list:
    """The outcomes of every compared program (one fresh `Replay` each from `make_replays()`
    per group), the groups' outcomes added up."""
    parallel = (
        len(history) >= PARALLEL_MIN_CHECKS and hasattr(os, "fork") and (os.cpu_count() or 1) > 1
    )
    replays = [make_replays() for _ in history.groups]  # built here: the fork only computes
    forked = {}
    if parallel:
        for n in range(1, GROUPS):
            forked[n] = _fork(lambda n=n: history.replay(history.groups[n], replays[n]))
    per_group = [history.replay(history.groups[0], replays[0])]
    for n in range(1, GROUPS):
        outcomes = _collect(*forked[n]) if n in forked else None
        if outcomes is None:  # not forked, or the forked process failed: replay it here
            outcomes = history.replay(history.groups[n], replays[n])
        per_group.append(outcomes)
    totals = per_group[0]
    for outcomes in per_group[1:]:
        for total, outcome in zip(totals, outcomes, strict=True):
            total.add(outcome)
    return totals


def _fork(work) -> tuple[int, int]:
    """Run `work()` in a forked process; (its pid, the pipe its pickled answer comes by)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: compute, answer, leave without running anything else
        try:
            os.close(read_end)
            with ExitStack() as guard:
                for connection in connections.all(initialized_only=True):
                    guard.enter_context(connection.execute_wrapper(_no_queries))
                answer = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int) -> list | None:
    """The forked process's outcomes, or None if it failed (it wrote nothing whole)."""
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _pid, status = os.waitpid(pid, 0)
    if not data or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        return pickle.loads(data)
    except (pickle.UnpicklingError, EOFError):
        return None


def _no_queries(execute, sql, params, many, context):
    raise RuntimeError("A forked forecast group may not query the database.")
