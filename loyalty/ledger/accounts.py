"""The one lock order and the one never-below-zero rule of the points ledger.

Every writer locks the clients it moves in primary-key order (`lock_clients` for whole
client rows, `lock_accounts` for set-based paths that need only the balance), so two
transactions touching the same clients always queue instead of deadlocking; and every
movement goes through `movement_apply`, the one place that decides what a debit larger than
the balance does."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _

from crm.models import Client
from onboarding.money import ZERO, q

from .params import array_text


class InsufficientPoints(Exception):
    """A debit would take the balance below zero (and the caller did not allow a shortfall)."""


@dataclass
class Account:
    """A locked client's balance, for set-based writers that move nothing else."""

    pk: int
    merchant_id: int
    balance: Decimal
    extra: tuple = ()


def movement_apply(balance: Decimal, points: Decimal, *, allow_short: bool) -> tuple:
    """(points booked, new balance, uncovered part) of moving `balance` by `points`.

    A credit is booked whole. A debit larger than the balance either raises
    InsufficientPoints (nothing booked) or, with `allow_short`, books what the balance covers
    and returns the rest as the uncovered part — a discrepancy the caller records, never
    drops."""
    points = q(points)
    balance = q(balance)
    new_balance = q(balance + points)
    if new_balance >= ZERO:
        return points, new_balance, ZERO
    if not allow_short:
        raise InsufficientPoints(
            _("Not enough points: balance %(balance)s, needed %(needed)s.")
            % {"balance": balance, "needed": -points}
        )
    return -balance, ZERO, q(-new_balance)


def lock_clients(client_ids) -> dict[int, Client]:
    """Lock clients' rows in primary-key order and return them fresh, keyed by id."""
    ids = sorted({cid for cid in client_ids if cid is not None})
    if not ids:
        return {}
    rows = Client.objects.filter(pk__in=ids).order_by("pk").select_for_update(of=("self",))
    return {c.pk: c for c in rows}


_IN_STEP = 5000  # ids per IN (…) on SQLite, well under its variable limit


def lock_accounts(
    client_ids, *, conn=None, columns: tuple = (), is_set: tuple = ()
) -> dict[int, Account]:
    """Lock clients in primary-key order and return their balances (plus `columns`, raw, then
    whether each of `is_set` is not null: no value read where only its presence counts).

    `conn` is a connection object (the client importer writes from its own thread on the
    caller's connection); default: this thread's. Must run inside a transaction."""
    conn = conn or connections[DEFAULT_DB_ALIAS]
    ids = sorted({int(cid) for cid in client_ids if cid is not None})
    if not ids:
        return {}
    postgres = conn.vendor == "postgresql"
    table = conn.ops.quote_name(Client._meta.db_table)
    extra = "".join(f", {conn.ops.quote_name(c)}" for c in columns) + "".join(
        f", {conn.ops.quote_name(c)} IS NOT NULL" for c in is_set
    )
    found: dict[int, Account] = {}
    step = len(ids) if postgres else _IN_STEP
    with conn.cursor() as cursor:
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            if postgres:
                cursor.execute(
                    f"SELECT id, merchant_id, balance{extra} FROM {table} "
                    "WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                    [array_text(part)],
                )
            else:
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(
                    f"SELECT id, merchant_id, balance{extra} FROM {table} "
                    f"WHERE id IN ({marks}) ORDER BY id",
                    part,
                )
            for row in cursor.fetchall():
                # PostgreSQL gives a Decimal, SQLite a float or text (read as written).
                balance = row[2] if type(row[2]) is Decimal else Decimal(str(row[2]))
                found[row[0]] = Account(row[0], row[1], q(balance), tuple(row[3:]))
    return found
