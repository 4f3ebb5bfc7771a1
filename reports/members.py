"""The members rollup (`DailyMembers`) and the buyers' channel keys, carried by the nightly
refresh from the clients' changes.

A client counts as a member on its local join day under its channel and source detail; a full
refresh counts every client. An incremental one reads what changed since (`members_refresh`):

* the clients recorded after the last refresh's clients' mark — new ones (any way they were
  created: the import, POS, the admin), and the few recorded within the marks' window before
  the last refresh, which it counted provisionally (`members_state["provisional"]`) and which
  are counted again with what they are now;
* the clients of `ClientChange` (a database trigger records a client's channel keys and join
  time before a change of one of them, and before a deletion): each one's first row holds what
  the last refresh counted, its row now (if any) what to count.

The members rollup gets the difference, and the buyers' summaries of the changed clients take
their keys again (`summaries_keys_update`); the sales rollup's figures of their purchases move
from their old channel keys to the new ones (`sales_moved`) on the days it does not rewrite.
On PostgreSQL the refresh holds its merchant's changes lock (an advisory lock that the trigger
takes shared before it records a row) from its first read to its commit, so a change is either
read by it with the clients it reads or recorded for the next refresh: a change of a channel key
of this merchant waits for the refresh's commit; other merchants' clients never wait.
"""

from collections import Counter
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, Min, QuerySet
from django.db.models.functions import TruncDate

from crm.models import Client
from loyalty.ledger.params import array_text
from onboarding.models import Merchant

from . import aggregates as agg
from .aggregates import client_channel, client_channel_sql
from .models import ClientChange, ClientPurchases, DailyMembers, DailySales

Key = tuple[date, str, str]


def lock_changes(merchant: Merchant) -> None:
    """Hold `merchant`'s changes against new rows until the refresh's transaction ends: the
    exclusive form of the advisory lock (the changes' table, the merchant) that the trigger
    takes shared (migration 0008). SQLite lets one writer in at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::regclass::oid::integer, %s)",
                [ClientChange._meta.db_table, merchant.pk],
            )


def _joined(rows: QuerySet, merchant: Merchant) -> Counter:
    """Members per (local join day, channel, source detail) of client-like rows (clients, or
    the changes' rows of what they were)."""
    keys = {
        "day": TruncDate("joined_at", tzinfo=merchant.tzinfo),
        "channel": client_channel(),
        "detail": F("source_detail"),
    }
    grouped = (
        rows.filter(joined_at__isnull=False)
        .order_by()
        .annotate(**keys)
        .values(*keys)
        .annotate(n=Count("pk"))
    )
    return Counter({(r["day"], r["channel"], r["detail"] or ""): r["n"] for r in grouped})


def _state(mark: int, provisional: Counter) -> dict:
    rows = [
        [day.isoformat(), channel, detail, n] for (day, channel, detail), n in provisional.items()
    ]
    return {"clients_seen_id": mark, "provisional": sorted(rows)}


def _provisional(state: dict) -> Counter:
    return Counter(
        {
            (date.fromisoformat(d), channel, detail): n
            for d, channel, detail, n in state["provisional"]
        }
    )


def members_rebuild(*, merchant: Merchant, mark: int) -> dict:
    """Count every client again; returns the members' state with the clients' mark `mark`."""
    clients = Client.objects.filter(merchant=merchant)
    DailyMembers.objects.filter(merchant=merchant).delete()
    _write(merchant, _joined(clients, merchant))
    ClientChange.objects.filter(merchant_id=merchant.pk).delete()
    return _state(mark, _joined(clients.filter(pk__gt=mark), merchant))


def members_refresh(*, merchant: Merchant, state: dict, mark: int) -> tuple[dict, dict]:
    """Apply the clients' changes since the members' state `state` (a snapshot's; counted
    again when empty) to the members rollup and delete the changes' rows. Returns the new state
    with the clients' mark `mark` and {changed client's id: (channel, source detail) before}."""
    changes = ClientChange.objects.filter(merchant_id=merchant.pk)
    first_rows = ClientChange.objects.filter(
        pk__in=changes.values("client_id").annotate(first=Min("pk")).values("first")
    )
    moved = {
        client_id: (channel, detail)
        for client_id, channel, detail in first_rows.annotate(key=client_channel())
        .order_by()
        .values_list("client_id", "key", "source_detail")
    }
    if "clients_seen_id" not in state:
        return members_rebuild(merchant=merchant, mark=mark), moved
    seen = state["clients_seen_id"]
    clients = Client.objects.filter(merchant=merchant)
    counted = changes.filter(client_id__lte=seen)
    before = _joined(first_rows.filter(client_id__lte=seen), merchant)
    before.update(_provisional(state))
    # two statements: one with an OR of both would read every client
    delta = _joined(clients.filter(pk__gt=seen), merchant)
    delta.update(_joined(clients.filter(pk__in=counted.values("client_id")), merchant))
    delta.subtract(before)
    changes.delete()
    _apply(merchant, delta)
    return _state(mark, _joined(clients.filter(pk__gt=mark), merchant)), moved


def _write(merchant: Merchant, counts: Counter) -> None:
    DailyMembers.objects.bulk_create(
        (
            DailyMembers(
                merchant=merchant, day=day, channel=channel, source_detail=detail, joined=n
            )
            for (day, channel, detail), n in counts.items()
            if n
        ),
        batch_size=5000,
    )


def _apply(merchant: Merchant, delta: Counter) -> None:
    """Add `delta` to the members rollup (rows left at 0 are deleted)."""
    delta = Counter({key: n for key, n in delta.items() if n})
    if not delta:
        return
    rows = DailyMembers.objects.filter(merchant=merchant, day__in={key[0] for key in delta})
    changed, emptied = [], []
    for row in rows:
        key = (row.day, row.channel, row.source_detail)
        if key in delta:
            row.joined += delta.pop(key)
            (changed if row.joined else emptied).append(row)
    DailyMembers.objects.bulk_update(changed, ["joined"], batch_size=1000)
    DailyMembers.objects.filter(pk__in=[row.pk for row in emptied]).delete()
    _write(merchant, delta)


def summaries_keys_update(*, merchant: Merchant, client_ids: list[int]) -> int:
    """Take the channel keys and join time of the given clients again into their buyers'
    summaries (see `ClientPurchases`): one UPDATE … FROM the clients touching only those
    clients' rows (the ids one array parameter on PostgreSQL, elsewhere a thousand a
    statement). Returns the rows updated."""
    table, clients = ClientPurchases._meta.db_table, Client._meta.db_table
    if connection.vendor == "postgresql":
        chunks = [("= ANY(%s::bigint[])", [array_text(client_ids)])] if client_ids else []
    else:
        chunks = [
            (f"IN ({', '.join(['%s'] * len(part))})", part)
            for part in (client_ids[at : at + 1000] for at in range(0, len(client_ids), 1000))
        ]
    updated = 0
    with connection.cursor() as cursor:
        for ids, ids_params in chunks:
            cursor.execute(
                f"UPDATE {table} SET channel = {client_channel_sql('k')}, "
                "source_detail = k.source_detail, joined_at = k.joined_at "
                f"FROM {clients} k WHERE k.id = {table}.client_id "
                f"AND {table}.merchant_id = %s AND {table}.client_id {ids}",
                [merchant.pk, *ids_params],
            )
            updated += cursor.rowcount
    return updated


def sales_moved(
    *, merchant: Merchant, moved: dict, through: date, rewritten: set[date], by: tuple
) -> set[date]:
    """Move the sales rollup's figures of the changed clients' purchases (`moved`, as
    `members_refresh` returns it) from their old channel keys to their channel keys now, on the
    days up to `through` other than `rewritten` (rewritten from the purchases anyway). A day
    where a row would be left without any figure or has no row to take from is not touched:
    returns those days, to rewrite as well."""
    if not moved:
        return set()
    end = datetime.combine(through + timedelta(days=1), time.min, tzinfo=merchant.tzinfo)
    delta: dict[tuple, dict] = {}
    for row in agg.sales_live_of_clients(merchant, list(moved), end=end, by=by):
        client_id = row.pop("client_key")
        now = tuple(row.pop(k) for k in by)
        old = (*now[:2], *moved[client_id])  # day and branch, then the channel keys
        if now[0] in rewritten or old == now:
            continue
        for key, sign in ((now, 1), (old, -1)):
            into = delta.setdefault(key, dict.fromkeys(agg.SALES_FIELDS, 0))
            for f in agg.SALES_FIELDS:
                into[f] += sign * row[f]
    days = {key[0] for key in delta}
    rows = {
        tuple(getattr(r, k) for k in by): r
        for r in DailySales.objects.filter(merchant=merchant, day__in=days)
    }
    redo = set()
    for key, change in delta.items():
        row = rows.get(key)
        figures = {f: (getattr(row, f) if row else 0) + change[f] for f in agg.SALES_FIELDS}
        if not any(figures.values()) or any(v < 0 for v in figures.values()):
            redo.add(key[0])
    updated, created = [], []
    for key, change in delta.items():
        if key[0] in redo or not any(change.values()):
            continue
        row = rows.get(key)
        if row is None:
            row = DailySales(merchant=merchant, **dict(zip(by, key, strict=True)))
            created.append(row)
        else:
            updated.append(row)
        for f in agg.SALES_FIELDS:
            setattr(row, f, getattr(row, f) + change[f])
    DailySales.objects.bulk_update(updated, agg.SALES_FIELDS, batch_size=1000)
    DailySales.objects.bulk_create(created, batch_size=1000)
    return redo
