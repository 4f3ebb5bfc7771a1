"""Set-based ledger posting: every movement of points, for one client or many.

Callers hold the clients' row locks (`lock_clients` / `lock_accounts`, primary-key order)
inside one transaction. `LedgerBatch.post` moves the in-memory balance through the one rule
(`accounts.movement_apply`); `flush` writes every entry with one bulk insert (COPY for large
set-based batches on PostgreSQL) and every touched client's cached figures with one
UPDATE … FROM (VALUES …), so the cached balance always equals the ledger sum.

The write shapes live beside it: `writes` (set-based inserts, COPY, the figures' UPDATE),
`statement` (a single check's one-statement write), `shapes` (rows as parameters) and
`params` (many values in one parameter)."""

from decimal import Decimal

from django.utils import timezone

from loyalty.models import LedgerEntry
from onboarding.money import ZERO, q

from .accounts import Account, movement_apply
from .shapes import new_instance, saved_as
from .statement import by_model, check_write
from .writes import (
    copy_rows,
    default_db,
    insert_rows,
    plain_rows_write,
    save_balances,
    save_clients,
)

COPY_FROM = 2000  # entries from which a batch that needs no ids is COPYed (PostgreSQL)


class LedgerBatch:
    """Movements for locked clients, applied in memory now and written at `flush`.

    `accounts` are locked `Client` rows (the purchase engine moves spend, dates and tier
    too) or `Account`s from `lock_accounts` (set-based writers moving balances only)."""

    def __init__(self, accounts: dict, *, conn=None):
        self.clients = accounts
        self.conn = conn
        self.entries: list[LedgerEntry] = []
        self.plain: list[dict] = []  # `post_plain` rows: {attname: value}, no model instance
        self.touched: set[int] = set()
        self.uncovered = ZERO

    def post(
        self,
        *,
        client_id: int,
        kind: str,
        points,
        created_at=None,
        allow_short: bool = False,
        **links,
    ) -> LedgerEntry:
        """Append one movement for a locked client. A debit below zero raises
        InsufficientPoints, or with `allow_short` books what the balance covers and records
        the rest on the entry (`uncovered`)."""
        client = self.clients[client_id]
        booked, new_balance, uncovered = movement_apply(
            Decimal(client.balance), points, allow_short=allow_short
        )
        entry = new_entry(
            {
                "merchant_id": client.merchant_id,
                "client_id": client_id,
                "kind": kind,
                "points": booked,
                "uncovered": uncovered,
                "created_at": created_at or timezone.now(),
            },
            links,
        )
        client.balance = new_balance
        self.uncovered = q(self.uncovered + uncovered)
        self.entries.append(entry)
        self.touched.add(client_id)
        return entry

    def post_plain(self, *, client_id: int, kind: str, points, created_at, **links) -> None:
        """`post` for set-based writers that need no entry back (a credit or a covered debit):
        the same rule, kept as a plain row that `flush` writes without building a model
        instance (the opening balances of a client import: tens of thousands a chunk)."""
        client = self.clients[client_id]
        booked, new_balance, uncovered = movement_apply(
            Decimal(client.balance), points, allow_short=False
        )
        client.balance = new_balance
        self.touched.add(client_id)
        if booked:
            self.plain.append(
                {
                    "merchant_id": client.merchant_id,
                    "client_id": client_id,
                    "kind": kind,
                    "points": booked,
                    "uncovered": uncovered,
                    "created_at": created_at,
                    **links,
                }
            )

    def touch(self, client_id: int) -> None:
        """Mark a client whose figures (spend, dates, tier) changed without a movement."""
        self.touched.add(client_id)

    def flush(self, *, need_ids: bool = True) -> list[LedgerEntry]:
        """Write the entries and the touched clients' figures; return the entries written.

        An entry that moved nothing is kept only when it records an uncovered part."""
        conn = self.conn or default_db()
        if not conn.in_atomic_block:
            raise RuntimeError("LedgerBatch.flush must run inside transaction.atomic")
        entries = [e for e in self.entries if e.points or e.uncovered]
        if not need_ids and len(entries) >= COPY_FROM and conn.vendor == "postgresql":
            copy_rows(entries, conn=conn)
        else:
            for start in range(0, len(entries), 1000):
                insert_rows(entries[start : start + 1000], conn=conn)
        if self.plain:
            plain_rows_write(LedgerEntry, self.plain, conn=conn)
        touched = [self.clients[cid] for cid in sorted(self.touched)]
        if touched and isinstance(touched[0], Account):
            save_balances(touched, conn=conn)
        else:
            save_clients(touched, conn=conn)
        self.entries, self.plain, self.touched = [], [], set()
        return entries

    def flush_with(self, head, children: list, updates: tuple = ()) -> bool:
        """Write a new `head` row (a purchase, a refund; a unique-key conflict writes
        nothing), its `children` (new rows whose foreign key to the head's model points at
        `head`: the purchase's lines), the `updates` (`(rows, field names)`: saved rows whose
        fields changed, e.g. a refunded purchase and its lines), this batch's entries and the
        touched clients' figures — one statement of data-modifying CTEs on PostgreSQL, where
        every part is written only if the head is; one statement per part elsewhere. Returns
        whether the head was inserted (its primary key is then set; the other rows' are not
        read)."""
        conn = self.conn or default_db()
        if not conn.in_atomic_block:
            raise RuntimeError("LedgerBatch.flush_with must run inside transaction.atomic")
        touched = [self.clients[cid] for cid in sorted(self.touched)]
        if conn.vendor != "postgresql" or (touched and isinstance(touched[0], Account)):
            if not insert_rows([head], ignore_conflicts=True, conn=conn):
                return False
            for objs in by_model(children).values():
                insert_rows(objs, conn=conn)
            for objs, fields in updates:
                type(objs[0])._base_manager.using(conn.alias).bulk_update(objs, fields)
            self.flush()
            return True
        entries = [e for e in self.entries if e.points or e.uncovered]
        pk = check_write(conn, head, [*children, *entries], updates, touched)
        self.entries, self.touched = [], set()
        if pk is None:
            return False
        saved_as(head, pk, conn.alias)
        return True


def new_entry(values: dict, links: dict) -> LedgerEntry:
    """`LedgerEntry(**values, **links)` without the model's generic constructor (a purchase
    makes five entries): `shapes.new_instance`."""
    return new_instance(LedgerEntry, values, links)
