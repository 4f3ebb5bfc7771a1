"""The points ledger: the one home of every movement of points.

Every writer — purchases, refunds, manual adjustments, joining, campaign issuance, expiry and
gift burns, opening balances from the client import — goes through this package:

- `lock_clients` / `lock_accounts` lock in primary-key order (the one lock order);
- `LedgerBatch.post` applies `movement_apply`, the one never-below-zero rule (a debit beyond
  the balance raises `InsufficientPoints`, or with `allow_short` books what is covered and
  records the uncovered part on the entry);
- `LedgerBatch.flush` appends the entries and moves the cached figures in the same
  transaction, set-based (one insert or COPY, one UPDATE … FROM (VALUES …)).

`ledger_post` is the one-entry form. Callers own the transaction."""

from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from crm.models import Client
from loyalty.models import LedgerEntry
from onboarding.money import q

from .accounts import Account, InsufficientPoints, lock_accounts, lock_clients, movement_apply
from .batch import LedgerBatch
from .opening import opening_balance_holders, opening_balances_post
from .writes import copy_rows, insert_rows, save_balances, save_clients

__all__ = [
    "Account",
    "InsufficientPoints",
    "LedgerBatch",
    "copy_rows",
    "insert_rows",
    "ledger_balance",
    "ledger_post",
    "purchase_movements_sql",
    "lock_accounts",
    "lock_clients",
    "movement_apply",
    "opening_balance_holders",
    "opening_balances_post",
    "save_balances",
    "save_clients",
]


def ledger_post(*, client: Client, kind: str, points, created_at=None, **links) -> LedgerEntry:
    """Append one movement for a client locked in the current transaction and move its cached
    balance; a debit larger than the balance raises InsufficientPoints and writes nothing."""
    batch = LedgerBatch({client.pk: client})
    entry = batch.post(
        client_id=client.pk, kind=kind, points=points, created_at=created_at, **links
    )
    batch.flush()
    return entry


def ledger_balance(client: Client) -> Decimal:
    """The balance as the sum of the ledger (the truth the cached balance must equal)."""
    total = LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"]
    return q(total or 0)


def purchase_movements_sql(purchase_column: str) -> str:
    """A scalar subquery (PostgreSQL): the original movements of the purchase whose id is
    `purchase_column`, as `client,kind,level,points` items joined by `;` (NULL: none) — for
    a reader that must know them in a statement of its own (a refund's first read)."""
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    return (
        "(SELECT string_agg(concat_ws(',', e.client_id, e.kind, "
        "COALESCE(e.referral_level::text, ''), e.points), ';') "
        f"FROM {table} e WHERE e.purchase_id = {purchase_column} AND e.refund_id IS NULL)"
    )
