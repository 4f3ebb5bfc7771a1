"""Opening balances carried over from a merchant's previous system (the client import).

Credited once per client, ever (a unique constraint backs it), through the ledger's one lock
order and rule, on the connection the importer writes with. An undone import run reverses them
here too. `LedgerOpeningBalances` is what the importer sees (`crm.opening_balances`)."""

from decimal import Decimal
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q

from loyalty.models import LedgerEntry, LedgerKind

from .accounts import lock_accounts, movement_apply
from .batch import LedgerBatch
from .writes import PreparedRows, columns_prepare

_IN_STEP = 5000
# Amounts whose opening-balance outcome is kept (`_credit_outcome`): more than a chunk of the
# client import (5 000 rows), whose new clients' start balances precede their entries.
_AMOUNTS_KEPT = 8192


def opening_balance_holders(client_ids, *, conn=None) -> set[int]:
    """Which of these clients already hold an opening balance (one read per 5 000 ids)."""
    conn = conn or connections[DEFAULT_DB_ALIAS]
    ids = sorted(set(client_ids))
    have: set[int] = set()
    postgres = conn.vendor == "postgresql"
    table = conn.ops.quote_name(LedgerEntry._meta.db_table)
    step = len(ids) if postgres else _IN_STEP
    with conn.cursor() as cursor:
        for start in range(0, len(ids), max(step, 1)):
            part = ids[start : start + step]
            if postgres:
                # Probe by client: inside an import's transaction the statistics do not know the
                # rows it wrote, and `client_id = ANY(…)` as a filter was run over them — a cost
                # that grew with the square of the run (LIMIT 1 keeps each probe a probe; the
                # unique constraint allows one opening balance per client anyway).
                cursor.execute(
                    f"SELECT e.client_id FROM unnest(%s::bigint[]) AS c(id) CROSS JOIN LATERAL "
                    f"(SELECT client_id FROM {table} WHERE client_id = c.id AND kind = %s "
                    f"LIMIT 1) AS e",
                    [part, LedgerKind.OPENING_BALANCE.value],
                )
            else:
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(
                    f"SELECT client_id FROM {table} WHERE kind = %s AND client_id IN ({marks})",
                    [LedgerKind.OPENING_BALANCE.value, *part],
                )
            have.update(row[0] for row in cursor.fetchall())
    return have


def opening_balances_post(
    *,
    credits: list[tuple[int, Decimal]],
    created_at,
    reason: str,
    user_id: int | None,
    conn=None,
) -> int:
    """Credit each (client id, points) its opening balance, skipping clients that already
    hold one; return how many were credited. Inside the caller's transaction."""
    credits = [(cid, points) for cid, points in credits if points]
    if not credits:
        return 0
    accounts = lock_accounts([cid for cid, _p in credits], conn=conn)
    holders = opening_balance_holders(list(accounts), conn=conn)
    batch = LedgerBatch(accounts, conn=conn)
    done = 0
    for client_id, points in sorted(credits):
        if client_id not in accounts or client_id in holders:
            continue
        holders.add(client_id)
        batch.post_plain(
            client_id=client_id,
            kind=LedgerKind.OPENING_BALANCE.value,
            points=points,
            reason=reason[:300],
            created_by_id=user_id,
            created_at=created_at,
        )
        done += 1
    batch.flush(need_ids=False)
    return done


@lru_cache(maxsize=_AMOUNTS_KEPT)
def _credit_outcome(points: Decimal) -> tuple:
    """`movement_apply` of an opening balance on an empty balance, kept per amount: a new
    client's start balance and then its entry take the same outcome, and a file repeats its
    amounts."""
    return movement_apply(Decimal(0), points, allow_short=False)


def opening_balance_start(points: Decimal) -> Decimal:
    """The balance a new client holding this opening balance starts with: the ledger's rule
    applied to an empty balance."""
    _booked, balance, _uncovered = _credit_outcome(points)
    return balance


class NewEntries:
    """New clients' opening-balance entries made ready (`opening_balances_prepare_new`), not
    yet sent: `write` records them and returns how many."""

    __slots__ = ("count", "rows")

    def __init__(self, count: int, rows: PreparedRows | None):
        self.count, self.rows = count, rows

    def write(self, conn=None) -> int:
        if self.rows is not None:
            self.rows.write(conn or connections[DEFAULT_DB_ALIAS])
        return self.count


def opening_balances_prepare_new(
    *,
    merchant_id: int,
    credits: list[tuple[int, Decimal]],
    created_at,
    reason: str,
    user_id: int | None,
    conn=None,
) -> NewEntries:
    """The entries of clients created in this transaction with `opening_balance_start(points)`
    already in their cached balance (the client import's new clients), made ready in Python
    without a statement — the importer prepares them while the server is still storing the
    clients. Their rows are the caller's alone and hold no opening balance, so there is nothing
    to lock, look up or update: `write` sends one COPY / `executemany`."""
    conn = conn or connections[DEFAULT_DB_ALIAS]
    # The rows share every column but the client and the amounts.
    client_ids, booked_points, uncovered_points = [], [], []
    for client_id, points in sorted(credits):
        booked, _balance, uncovered = _credit_outcome(points)
        if booked:
            client_ids.append(client_id)
            booked_points.append(booked)
            uncovered_points.append(uncovered)
    if not client_ids:
        return NewEntries(0, None)
    rows = columns_prepare(
        LedgerEntry,
        fixed={
            "merchant_id": merchant_id,
            "kind": LedgerKind.OPENING_BALANCE.value,
            "reason": reason[:300],
            "created_by_id": user_id,
            "created_at": created_at,
        },
        columns={
            "client_id": client_ids,
            "points": booked_points,
            "uncovered": uncovered_points,
        },
        conn=conn,
    )
    return NewEntries(len(client_ids), rows)


def opening_balances_reverse(
    *, merchant_id: int, created_at, removed_client_ids, reason: str, user_id: int | None
) -> tuple[int, Decimal]:
    """Reverse, through the ledger, the opening balances a run credited at `created_at` to the
    clients that stay; points already spent are booked as not covered (`allow_short`).
    `removed_client_ids` are the run's clients being deleted with their rows. Returns (entries
    reversed, points not covered). Inside the caller's transaction."""
    openings = list(
        LedgerEntry.objects.filter(
            client__merchant_id=merchant_id,
            kind=LedgerKind.OPENING_BALANCE,
            created_at=created_at,
        )
        .exclude(client_id__in=removed_client_ids)
        .values_list("client_id", "points")
    )
    if not openings:
        return 0, Decimal("0")
    accounts = lock_accounts([cid for cid, _p in openings])
    ledger = LedgerBatch(accounts)
    uncovered = Decimal("0")
    for client_id, points in sorted(openings):
        entry = ledger.post(
            client_id=client_id,
            kind=LedgerKind.ADJUSTMENT,
            points=-points,
            allow_short=True,
            reason=reason[:300],
            created_by_id=user_id,
        )
        uncovered += entry.uncovered or 0
    ledger.flush(need_ids=False)
    return len(openings), uncovered


class LedgerOpeningBalances:
    """The ledger as the client import sees it (installed by `loyalty.apps`)."""

    def holders(self, client_ids, *, conn=None):
        return opening_balance_holders(client_ids, conn=conn)

    def post(self, *, credits, created_at, reason, user_id, conn=None):
        return opening_balances_post(
            credits=credits, created_at=created_at, reason=reason, user_id=user_id, conn=conn
        )

    def start_balance(self, points):
        return opening_balance_start(points)

    def prepare_new(self, *, merchant_id, credits, created_at, reason, user_id, conn=None):
        return opening_balances_prepare_new(
            merchant_id=merchant_id,
            credits=credits,
            created_at=created_at,
            reason=reason,
            user_id=user_id,
            conn=conn,
        )

    def reverse(self, *, merchant_id, created_at, removed_client_ids, reason, user_id):
        return opening_balances_reverse(
            merchant_id=merchant_id,
            created_at=created_at,
            removed_client_ids=removed_client_ids,
            reason=reason,
            user_id=user_id,
        )

    def own_rows(self, *, created_at):
        return {LedgerEntry: Q(kind=LedgerKind.OPENING_BALANCE, created_at=created_at)}
