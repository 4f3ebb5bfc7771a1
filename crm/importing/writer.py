"""The bulk writer: applies validated records to the database a chunk at a time, set-based.

Per chunk: one query finds the existing clients by phone, one finds which of them already hold
an opening balance, then new clients are inserted in bulk (SQLite: `executemany`; PostgreSQL:
`COPY` in a savepoint, falling back to a temp table + `INSERT … ON CONFLICT DO NOTHING` when a
phone was created meanwhile), changed clients are updated in one `executemany`, and opening
balances go through the points ledger (`crm.opening_balances`, which loyalty installs): a new
client is inserted holding the balance the ledger starts it with and the ledger then records its
entry; an existing client's goes through the ledger's lock order and once-per-client rule. No
model instances; PostgreSQL skips the look-up while a merchant that had no clients holds only
the run's own (`_look_up`); defaults: `rowvalues`. The caller owns the transaction."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections

from crm.models import Client, ClientSource
from crm.opening_balances import PendingEntries, opening_balances
from crm.pgcopy import copy_column, copy_text

from .cleaning import CLIENT_FIELDS, NOTES, Record, merge_note, record_value, written_fields
from .fields import EMPTY, REGISTERED, keep_or_fill
from .rowvalues import insert_columns, sqlite_converters

IN_CHUNK = 5000  # phones per IN (…) query — well under SQLite's variable limit


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    opening_balances: int = 0
    preview: list = field(default_factory=list)  # (row, action, record) for the first rows


class ClientWriter:
    """Applies records for one merchant. `dry_run` reads the same way and writes nothing."""

    # Called while the server stores a COPY's rows: the import takes its next chunk then.
    while_copying = staticmethod(lambda: None)

    def __init__(
        self,
        *,
        merchant,
        overwrite: bool,
        dry_run: bool,
        user_id: int | None,
        reason: str,
        now: dt.datetime,
    ):
        self.merchant_id = merchant.pk
        self.overwrite = overwrite
        self.dry_run = dry_run
        self.user_id = user_id
        self.reason = reason[:300]
        self.now = now
        # The connection object itself (not the thread-local proxy): `apply` may run in the
        # import's writer thread, inside the transaction the caller opened on this connection.
        self.conn = connections[DEFAULT_DB_ALIAS]
        self.postgres = self.conn.vendor == "postgresql"
        self.client_columns, self.client_template = insert_columns(
            Client,
            {
                "merchant_id": self.merchant_id,
                "source": ClientSource.IMPORT.value,
                "imported": True,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.client_slots = {c: self.client_columns.index(c) for c in self.client_columns}
        # The attributes written, by name, each with its merge rule and (SQLite) conversion.
        self.fields = written_fields()
        self.columns = {n: Client._meta.get_field(n).column for n in self.fields}
        self.merges = {n: keep_or_fill for n in CLIENT_FIELDS}
        self.merges.update({spec.attribute: spec.merge for spec in REGISTERED.values()})
        self.merges[NOTES] = merge_note
        self.to_db = {} if self.postgres else sqlite_converters(self.fields, self.conn)
        slots = self.client_slots  # where a new client's values go in the insert row
        self._phone_slot, self._balance_slot = slots["phone"], slots["balance"]
        self._record_slots = [(slots[self.columns[n]], n) for n in CLIENT_FIELDS]
        self._record_slots.append((slots[self.columns[NOTES]], "note"))
        self._extra_slots = [
            (slots[self.columns[spec.attribute]], spec.attribute) for spec in REGISTERED.values()
        ]
        if not self.postgres:
            ops = self.conn.ops
            for column in ("created_at", "updated_at"):
                slot = self.client_slots[column]
                self.client_template[slot] = ops.adapt_datetimefield_value(now)
        self._temp_ready = False
        self._id_sequence: str | None = None  # PostgreSQL: the sequence of the clients' ids
        self._own_clients_only: bool | None = None  # PostgreSQL: see `_look_up`
        self._start = opening_balances().start_balance
        # PostgreSQL's COPY text (`_copy_data`): a record's own columns (phone, the written
        # fields, the balance), then every other column's fixed value formatted once as the
        # rows' common tail (None: a default with no text form here; the driver writes rows).
        own = [self._phone_slot, *(slot for slot, _name in self._record_slots)]
        own.append(self._balance_slot)
        fixed = [i for i in range(len(self.client_columns)) if i not in own]
        self._copy_columns = ", ".join(self.client_columns[i] for i in own + fixed)
        tail = [copy_text(self.client_template[i]) for i in fixed]
        self._copy_tail = None if None in tail else "\t".join(tail)

    # --- reads ---------------------------------------------------------------------------

    def _in(self, column: str, values: list):
        """(SQL condition, params) for `column IN values`: one array parameter on PostgreSQL,
        a list of placeholders on SQLite."""
        if self.postgres:
            return f"{column} = ANY(%s)", [values]
        return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

    def _by_phone(self, columns: str, phones: list[str]) -> tuple[str, list]:
        """(SQL, params) selecting `columns` of this merchant's clients with these phones.

        PostgreSQL probes the (phone, merchant) key once per phone: inside the import's
        transaction the statistics do not know the rows it wrote, and a plain
        `phone = ANY(…)` was run as a scan of the merchant's clients filtered by the list —
        a cost that grew with the square of the file (LIMIT 1 keeps the probe a probe)."""
        table = Client._meta.db_table
        if self.postgres:
            # The phones as one comma-joined text (E.164: "+" and digits, never a comma): the
            # driver's array dumper adapted them one by one.
            return (
                f"SELECT c.* FROM unnest(string_to_array(%s, ',')) AS p(phone) CROSS JOIN "
                f"LATERAL (SELECT {columns} FROM {table} WHERE merchant_id = %s "
                f"AND phone = p.phone LIMIT 1) AS c",
                [",".join(phones), self.merchant_id],
            )
        condition, params = self._in("phone", phones)
        return (
            f"SELECT {columns} FROM {table} WHERE merchant_id = %s AND {condition}",
            [self.merchant_id, *params],
        )

    def _existing(self, phones: list[str]) -> dict[str, tuple[int, dict]]:
        """{phone: (client id, {written attribute: current value})} of existing clients."""
        found = {}
        names = self.fields
        columns = ", ".join(["phone", "id", *(self.columns[n] for n in names)])
        step = len(phones) if self.postgres else IN_CHUNK
        with self.conn.cursor() as cursor:
            for start in range(0, len(phones), step):
                cursor.execute(*self._by_phone(columns, phones[start : start + step]))
                for row in cursor.fetchall():
                    found[row[0]] = (row[1], dict(zip(names, row[2:], strict=True)))
        return found

    # --- the chunk -----------------------------------------------------------------------

    def _look_up(self, records: list[Record]) -> dict[str, tuple[int, dict]]:
        """The chunk's existing clients (`_existing`). On PostgreSQL a run into a merchant with
        no clients at its first chunk skips the look-up while every client of the merchant is
        one it wrote itself (the file's phones are distinct, so none of them exists): a phone
        someone else created meanwhile makes the chunk's COPY fail on the unique key
        (`_SomeoneElses`), and from then on every chunk, that one again first, is looked up —
        the same outcome as looking up every chunk."""
        if self._own_clients_only is None:
            self._own_clients_only = False
            if self.postgres and not self.dry_run:
                with self.conn.cursor() as cursor:
                    cursor.execute(
                        f"SELECT NOT EXISTS (SELECT 1 FROM {Client._meta.db_table} "
                        f"WHERE merchant_id = %s)",
                        [self.merchant_id],
                    )
                    self._own_clients_only = cursor.fetchone()[0]
        if self._own_clients_only:
            return {}
        return self._existing([r.phone for r in records])

    def apply(self, records: list[Record], *, preview_left: int = 0) -> ChunkOutcome:
        try:
            return self._apply(records, preview_left=preview_left)
        except _SomeoneElses:
            return self._apply(records, preview_left=preview_left)

    def _apply(self, records: list[Record], *, preview_left: int = 0) -> ChunkOutcome:
        out = ChunkOutcome()
        if not records:
            return out
        existing = self._look_up(records)
        with_points = [existing[r.phone][0] for r in records if r.points and r.phone in existing]
        balances = opening_balances()
        has_opening = balances.holders(with_points, conn=self.conn) if with_points else set()

        new: list[Record] = []
        updates: list[tuple[int, dict]] = []  # (client id, {attribute: new value})
        credits: list[tuple[int, Decimal]] = []  # existing clients' first opening balance
        for r in records:
            current = existing.get(r.phone)
            if current is None:
                new.append(r)
                action = "new"
            else:
                client_id, old = current
                merged = {
                    name: merge(record_value(r, name), old[name], self.overwrite)
                    for name, merge in self.merges.items()
                }
                changed = merged != old
                credit = bool(r.points) and client_id not in has_opening
                if changed:
                    updates.append((client_id, merged))
                if credit:
                    credits.append((client_id, r.points))
                    has_opening.add(client_id)
                action = "update" if (changed or credit) else "skip"
            if action == "new":
                out.created += 1
            elif action == "update":
                out.updated += 1
            else:
                out.skipped += 1
            if len(out.preview) < preview_left:
                out.preview.append((r, action))
        out.opening_balances = len(credits) + sum(1 for r in new if r.points)
        if self.dry_run:
            return out

        # New clients are inserted already holding their opening balance: the ledger records
        # their entries only, made ready while the server stores the clients when it can.
        def entries_for(ids: dict[str, int]) -> PendingEntries:
            return balances.prepare_new(
                merchant_id=self.merchant_id,
                credits=[(ids[r.phone], r.points) for r in new if r.points and r.phone in ids],
                created_at=self.now,
                reason=self.reason,
                user_id=self.user_id,
                conn=self.conn,
            )

        inserted, created_ids, entries = (
            self._insert_clients(new, entries_for) if new else (0, {}, None)
        )
        # A phone created meanwhile by someone else is left to them: counted as skipped.
        lost = len(new) - inserted
        if lost:
            out.created -= lost
            out.skipped += lost
        if updates:
            self._update_clients(updates)
        if entries is None:  # SQLite, or the chunk went through the temp table
            entries = entries_for(created_ids)
        out.opening_balances = entries.write(self.conn)
        # Existing clients' first opening balances go through its lock order and once-ever rule.
        if credits:
            out.opening_balances += balances.post(
                credits=credits,
                created_at=self.now,
                reason=self.reason,
                user_id=self.user_id,
                conn=self.conn,
            )
        return out

    # --- writes --------------------------------------------------------------------------

    def _client_row(self, r: Record) -> list:
        row = list(self.client_template)
        row[self._phone_slot] = r.phone
        for slot, name in self._record_slots:
            row[slot] = getattr(r, name)
        if r.extra:  # registered fields: an empty value leaves the column's default
            for slot, name in self._extra_slots:
                value = r.extra.get(name)
                if value not in EMPTY:
                    row[slot] = value
        # The opening balance, as the ledger starts it; its entry follows the insert.
        row[self._balance_slot] = self._start(r.points) if r.points else Decimal("0.00")
        return row

    def _insert_clients(self, new: list[Record], entries_for) -> tuple:
        """Insert new clients; return (rows inserted, {phone: id} at least for those with
        points, `entries_for(those ids)` if called while the server stored the rows, or None)."""
        table = Client._meta.db_table
        cols = ", ".join(self.client_columns)
        with self.conn.cursor() as cursor:
            if self.postgres:
                return self._pg_insert_clients(cursor.cursor, new, entries_for)
            convert = [(self.client_slots[self.columns[n]], c) for n, c in self.to_db.items()]
            balance_slot = self.client_slots["balance"]
            rows = []
            for r in new:
                row = self._client_row(r)
                for slot, to_db in convert:
                    row[slot] = to_db(row[slot])
                row[balance_slot] = str(row[balance_slot])
                rows.append(row)
            marks = ", ".join(["%s"] * len(self.client_columns))
            cursor.executemany(f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})", rows)
            inserted = cursor.rowcount
            del rows
            # Ids of the rows just written that need a ledger entry. SQLite serialises writers
            # and a write on a stale snapshot fails, so a phone not found before the insert was
            # inserted by us. (No `created_at` condition: every row of the run shares it, and
            # the planner would scan them all through the (merchant, created_at) index — a cost
            # that grew with the square of the file.)
            phones = [r.phone for r in new if r.points]
            ids = {}
            for start in range(0, len(phones), IN_CHUNK):
                cursor.execute(*self._by_phone("phone, id", phones[start : start + IN_CHUNK]))
                ids.update(cursor.fetchall())
            return inserted, ids, None

    def _copy_data(self, new: list[Record], ids: list[int]) -> str | None:
        """The new clients' rows as COPY text for `id, self._copy_columns`, built a column at a
        time: a row's id and own values first, then the fixed columns formatted once (the
        driver's row writer dumps every value of every row). None (the driver writes the rows)
        if a record carries registered fields or a value has no text form here."""
        if self._copy_tail is None or any(r.extra for r in new):
            return None
        start = self._start
        columns = [list(map(str, ids)), [r.phone for r in new]]
        for _slot, name in self._record_slots:
            texts = copy_column(list(map(attrgetter(name), new)))
            if texts is None:
                return None
            columns.append(texts)
        columns.append([str(start(r.points)) if r.points else "0" for r in new])
        columns.append([self._copy_tail] * len(new))
        return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"

    def _copy_into(self, raw, table: str, new: list[Record], ids: list[int], data, meanwhile=None):
        """COPY the new clients with their ids into `table`: `data` from `_copy_data`, or
        (None) row by row through the driver. Once the rows are sent, while the server stores
        them, `meanwhile()` (its result returned) and `while_copying()` run; they send nothing."""
        columns = self._copy_columns if data is not None else ", ".join(self.client_columns)
        with raw.copy(f"COPY {table} (id, {columns}) FROM STDIN") as copy:
            if data is not None:
                copy.write(data)
            else:
                for client_id, r in zip(ids, new, strict=True):
                    copy.write_row([client_id, *self._client_row(r)])
            done = meanwhile() if meanwhile else None
            self.while_copying()
            return done

    def _new_ids(self, raw, count: int) -> list[int]:
        """`count` ids taken from the clients' id sequence, in increasing order, as the table
        would have given the rows: taken, an id is never given again (a rolled-back one leaves
        a gap, as any failed insert does)."""
        if self._id_sequence is None:
            raw.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                [Client._meta.db_table, Client._meta.pk.column],
            )
            self._id_sequence = raw.fetchone()[0]
        raw.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [self._id_sequence, count]
        )
        return [row[0] for row in raw.fetchall()]

    def _pg_insert_clients(self, raw, new: list[Record], entries_for):
        """COPY straight into the table inside a savepoint (the fast path), each row with an id
        taken beforehand from the table's sequence, so the new clients' ids need no read-back.
        If someone else created one of these phones since the look-up, redo the chunk through a
        temp table and `INSERT … ON CONFLICT DO NOTHING RETURNING`, leaving their client alone."""
        table = Client._meta.db_table
        cols = ", ".join(self.client_columns)
        ids = self._new_ids(raw, len(new))
        data = self._copy_data(new, ids)
        mine = dict(zip([r.phone for r in new], ids, strict=True))
        raw.execute("SAVEPOINT import_copy")
        try:
            entries = self._copy_into(raw, table, new, ids, data, lambda: entries_for(mine))
            raw.execute("RELEASE SAVEPOINT import_copy")
        # The raw psycopg cursor raises the driver's own error class; the backend's `Database`
        # is the psycopg module, so SQLite-only installs never need the driver.
        except (IntegrityError, self.conn.Database.errors.UniqueViolation):
            raw.execute("ROLLBACK TO SAVEPOINT import_copy")
            if self._own_clients_only:
                # The chunk was not looked up: look it up, and every chunk after it.
                self._own_clients_only = False
                raise _SomeoneElses from None
            if not self._temp_ready:
                raw.execute(
                    f"CREATE TEMP TABLE import_clients_tmp ON COMMIT DROP AS "
                    f"SELECT id, {cols} FROM {table} WITH NO DATA"
                )
                self._temp_ready = True
            else:
                raw.execute("TRUNCATE import_clients_tmp")
            self._copy_into(raw, "import_clients_tmp", new, ids, data)
            raw.execute(
                f"INSERT INTO {table} (id, {cols}) SELECT id, {cols} FROM import_clients_tmp "
                f"ON CONFLICT (merchant_id, phone) DO NOTHING RETURNING phone, id"
            )
            created = dict(raw.fetchall())
            return len(created), created, None
        return len(new), mine, entries

    def _update_clients(self, updates: list[tuple[int, dict]]) -> None:
        table = Client._meta.db_table
        names = self.fields
        sets = ", ".join(f"{self.columns[n]} = %s" for n in names)
        now = self.now
        if not self.postgres:
            now = self.conn.ops.adapt_datetimefield_value(now)
        to_db = self.to_db
        params = [
            (
                *((to_db[n](values[n]) if n in to_db else values[n]) for n in names),
                now,
                client_id,
            )
            for client_id, values in updates
        ]
        with self.conn.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {sets}, updated_at = %s WHERE id = %s", params)


class _SomeoneElses(Exception):
    """A chunk written without a look-up met a client someone else created: redo it."""
