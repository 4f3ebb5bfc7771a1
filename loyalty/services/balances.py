"""Set-based ledger posting: the batch equivalent of `loyalty.ledger.ledger_post`.

Callers hold the clients' row locks (`loyalty.ledger.lock_clients`, pk order) inside one
transaction. `LedgerBatch.post` checks and moves the in-memory balance exactly like
`ledger_post` (a debit below zero raises `InsufficientPoints` and changes nothing); `flush`
writes every entry with one bulk insert and every touched client's cached figures with one
UPDATE, so the cached balance always equals the ledger sum."""

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from crm.models import Client
from loyalty.ledger import InsufficientPoints
from loyalty.models import LedgerEntry
from loyalty.money import ZERO, q

# The cached client figures the engine keeps exact (written together by `save_clients`).
CLIENT_FIGURES = (
    ("balance", "numeric"),
    ("total_spent", "numeric"),
    ("purchases_count", "integer"),
    ("first_purchase_at", "timestamptz"),
    ("last_purchase_at", "timestamptz"),
    ("tier_id", "bigint"),
    ("joined_at", "timestamptz"),
)


class LedgerBatch:
    """Movements for locked clients, applied in memory now and written at `flush`."""

    def __init__(self, clients: dict[int, Client]):
        self.clients = clients
        self.entries: list[LedgerEntry] = []
        self.touched: set[int] = set()

    def post(self, *, client_id: int, kind: str, points, created_at=None, **links) -> LedgerEntry:
        """Append one movement for a locked client; a debit below zero raises InsufficientPoints."""
        from django.utils.translation import gettext as _

        client = self.clients[client_id]
        points = q(points)
        new_balance = q(Decimal(client.balance) + points)
        if new_balance < ZERO:
            raise InsufficientPoints(
                _("Not enough points: balance %(balance)s, needed %(needed)s.")
                % {"balance": client.balance, "needed": -points}
            )
        entry = LedgerEntry(
            merchant_id=client.merchant_id,
            client_id=client_id,
            kind=kind,
            points=points,
            created_at=created_at or timezone.now(),
            **links,
        )
        client.balance = new_balance
        self.entries.append(entry)
        self.touched.add(client_id)
        return entry

    def touch(self, client_id: int) -> None:
        """Mark a client whose figures (spend, dates, tier) changed without a movement."""
        self.touched.add(client_id)

    def flush(self) -> list[LedgerEntry]:
        """Write the entries (one insert) and the touched clients' figures (one UPDATE)."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("LedgerBatch.flush must run inside transaction.atomic")
        entries = [e for e in self.entries if e.points]
        if entries:
            LedgerEntry.objects.bulk_create(entries, batch_size=1000)
        save_clients([self.clients[cid] for cid in sorted(self.touched)])
        self.entries, self.touched = [], set()
        return entries


def save_clients(clients: list[Client]) -> None:
    """One UPDATE … FROM (VALUES …) writing the cached figures of locked clients."""
    if not clients:
        return
    columns = [name for name, _type in CLIENT_FIGURES]
    fields = [Client._meta.get_field(name) for name in columns]
    is_pg = connection.vendor == "postgresql"
    if is_pg:
        row = "(" + ", ".join(["%s::bigint"] + [f"%s::{t}" for _n, t in CLIENT_FIGURES]) + ")"
    else:
        row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    params = [Client._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)]
    for client in clients:
        params.append(client.pk)
        params.extend(f.get_db_prep_value(getattr(client, f.attname), connection) for f in fields)
    table = connection.ops.quote_name(Client._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in columns)
    values = ", ".join([row] * len(clients))
    if is_pg:
        names = ", ".join(["id", *columns])
        sql = (
            f"UPDATE {table} AS c SET {assignments}, updated_at = %s "
            f"FROM (VALUES {values}) AS v({names}) WHERE c.id = v.id"
        )
    else:
        selects = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(["id", *columns]))
        sql = (
            f"UPDATE {table} SET {assignments}, updated_at = %s "
            f"FROM (SELECT {selects} FROM (VALUES {values})) AS v WHERE {table}.id = v.id"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
