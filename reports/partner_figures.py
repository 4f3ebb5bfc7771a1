"""The partners block's figures kept by the nightly refresh (`partners_refresh`).

One `PartnerClient` row per partner client (source "partner", whatever its referrer: the block
is by source, not by channel) with its kept card purchases recorded up to the refresh's
purchase mark, and per partner name the sums of those rows (`PartnerFigures.partners`). A
night folds again only the clients that can have changed since the last refresh's marks — a
purchase or a refund recorded past them, a channel key or join time changed (`ClientChange`,
read before the members' refresh deletes the rows), a partner client recorded past the
clients' mark — and carries the sums: − their rows as kept, + their rows folded now. A full
refresh (or one without kept figures in step with the snapshot) folds every partner client.
The dashboard reads the sums, adds the purchases recorded past the mark and recomputes live
the clients otherwise changed since (`reports.partners`).

Like the rollup, what no mark records (a deleted purchase, a purchase moved to another client)
waits for the next full refresh."""

import time as clock
from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from crm.models import Client, ClientSource
from loyalty.models import Purchase, Refund
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .models import ClientChange, PartnerClient, PartnerFigures
from .replica import read_connection

NO_NAME = "—"


def partner_name(detail: str) -> str:
    """A partner's name as the block shows it (a client without a detail: "—")."""
    return detail or NO_NAME


def kept(prefix: str = "") -> Q:
    """A purchase that still counts (`aggregates.not_fully_refunded`, through a relation)."""
    return Q(**{f"{prefix}refunded_amount__lt": F(f"{prefix}amount")}) | Q(
        **{f"{prefix}amount__lte": 0}
    )


def changed_client_ids(
    merchant: Merchant,
    *,
    purchases_after: int | None,
    refunds_after: int,
    clients_after: int,
    also: QuerySet | None = None,
) -> set[int]:
    """Ids of the clients whose partner figures can differ from their rows folded with these
    marks: a partner client (one with a row) with a purchase (unless `purchases_after` is None:
    the page adds those purchases to the rows, `reports.partners`) or a refund recorded past
    them, a client whose channel keys or join time changed (the change rows not yet read by a
    refresh) or recorded past the clients' mark as a partner client; and the ids of `also` (a
    one-column query of rows). A client without a row whose channel keys did not change is no
    partner client: its purchases need no look."""
    refunded = Purchase.objects.filter(
        pk__in=Refund.objects.filter(merchant=merchant, pk__gt=refunds_after).values("purchase_id")
    )
    rows = PartnerClient.objects.order_by()
    changes = ClientChange.objects.filter(merchant_id=merchant.pk)
    # of the clients recorded past the mark only the partner ones and those with a row (a fold
    # after the mark may have read one before its source changed): the others, most of a day's
    # new clients, have no partner figures to correct
    new = Client.objects.filter(
        merchant=merchant, pk__gt=clients_after, source=ClientSource.PARTNER
    )
    parts = [
        changes.order_by().values_list("client_id"),
        new.order_by().values_list("pk"),
        rows.filter(merchant=merchant, client_id__gt=clients_after).values_list("client_id"),
        *([also.order_by().values_list("client_id")] if also is not None else []),
    ]
    if purchases_after is not None:
        # the rows of the buyers past the marks: the night's few thousand buyers on the inner
        # side (rows whose client is among them), not the merchant's every row hashed against them
        bought = Purchase.objects.filter(merchant=merchant, pk__gt=purchases_after).order_by()
        parts.append(rows.filter(client_id__in=bought.values("client_id")).values_list("client_id"))
    first = rows.filter(client_id__in=refunded.values("client_id")).values_list("client_id")
    return {pk for (pk,) in first.union(*parts)}


def fold(merchant: Merchant, client_ids=None, *, through: int) -> list[PartnerClient]:
    """The partner clients (of `client_ids` when given) folded from their purchases recorded up
    to the purchase mark `through`."""
    if client_ids is None:
        clients = Client.objects.filter(merchant=merchant, source=ClientSource.PARTNER)
    else:
        # by key alone: with the merchant and source in the statement PostgreSQL reads the
        # source index's every partner client to intersect them; others are dropped below
        clients = Client.objects.filter(pk__in=client_ids)
    k = kept("purchases__") & Q(purchases__pk__lte=through)
    net = F("purchases__amount") - F("purchases__refunded_amount")
    rows = (
        clients.order_by()
        .values_list("pk", "merchant_id", "source", "source_detail", "joined_at")
        .annotate(
            n=Count("purchases", filter=k),
            revenue=Coalesce(Sum(net, filter=k), ZERO),
            first_at=Min("purchases__occurred_at", filter=k),
            last_at=Max("purchases__occurred_at", filter=k),
        )
    )
    return [
        PartnerClient(
            client_id=pk,
            merchant=merchant,
            name=detail,
            joined=joined_at is not None,
            purchases=n,
            revenue=revenue,
            first_at=first_at,
            last_at=last_at,
        )
        for pk, merchant_id, source, detail, joined_at, n, revenue, first_at, last_at in rows
        if merchant_id == merchant.pk and source == ClientSource.PARTNER
    ]


def totals_add(totals: dict, rows, sign: int = 1) -> dict:
    """Add (sign 1) or take away (−1) rows' figures to {name: [clients, joined, buyers,
    purchases, revenue]} (names as shown); rows are `PartnerClient`s in memory (a fold's),
    kept rows are summed by `rows_totals`."""
    for row in rows:
        t = totals.setdefault(partner_name(row.name), [0, 0, 0, 0, ZERO])
        t[0] += sign
        t[1] += sign * row.joined
        t[2] += sign * (row.purchases > 0)
        t[3] += sign * row.purchases
        t[4] += sign * row.revenue
    return totals


def rows_totals(rows: QuerySet) -> dict:
    """`totals_add` of `PartnerClient` rows, summed by the database."""
    grouped = (
        rows.order_by()
        .values("name")
        .annotate(
            n=Count("pk"),
            joined_n=Count("pk", filter=Q(joined=True)),
            buyers=Count("pk", filter=Q(purchases__gt=0)),
            purchases_n=Coalesce(Sum("purchases"), 0),
            revenue_n=Coalesce(Sum("revenue"), ZERO),
        )
    )
    totals: dict = {}
    for r in grouped:
        figures = [r["n"], r["joined_n"], r["buyers"], r["purchases_n"], r["revenue_n"]]
        totals_merge(totals, {partner_name(r["name"]): figures})
    return totals


def totals_merge(into: dict, other: dict, sign: int = 1) -> dict:
    """Add (sign 1) or take away (−1) `other`'s figures, by name."""
    for name, figures in other.items():
        t = into.setdefault(name, [0, 0, 0, 0, ZERO])
        for i, value in enumerate(figures):
            t[i] += sign * value
    return into


def totals_load(data: dict) -> dict:
    return {name: [*t[:4], Decimal(t[4])] for name, t in (data or {}).items()}


def totals_dump(totals: dict) -> dict:
    return {name: [*t[:4], str(t[4])] for name, t in totals.items() if t[0] or any(t[1:])}


def figures_in_step(merchant: Merchant, *, min_purchases: int = 0) -> PartnerFigures | None:
    """The kept figures when they were written by the refresh that wrote the merchant's
    snapshot (the same marks: only then do the change rows hold every channel change since)
    and the snapshot counts at least `min_purchases` purchases — one query."""
    snapshot = "merchant__report_snapshot__"
    return (
        PartnerFigures.objects.filter(
            merchant=merchant,
            **{
                f"{snapshot}purchases_seen_id": F("purchases_seen_id"),
                f"{snapshot}refunds_seen_id": F("refunds_seen_id"),
                f"{snapshot}rollup_through__isnull": False,
                f"{snapshot}purchases_total__gte": min_purchases,
            },
        )
        .annotate(snapshot_at=F(f"{snapshot}refreshed_at"))
        .first()
    )


def partners_refresh(*, merchant: Merchant, full: bool, marks: dict, clients_mark: int) -> dict:
    """Bring the partner figures up to now (called inside the refresh's transaction, before the
    members' refresh deletes the change rows). `marks` are the refresh's purchase and refund
    marks, stored with the figures. Returns {"partners_mode", "partners_folded", "partners"
    (seconds)}."""
    started = clock.monotonic()
    previous = None if full else figures_in_step(merchant)
    rows = PartnerClient.objects.filter(merchant=merchant)
    if previous is None:
        rows.delete()
        folded = fold(merchant, through=marks["purchases_seen_id"])
        totals = totals_add({}, folded)
        mode = "full"
    else:
        totals = totals_load(previous.partners)
        if previous.to_mark:  # the night's purchases added to their buyers' rows
            totals_merge(
                totals,
                _add_purchases(merchant, previous.purchases_seen_id, marks["purchases_seen_id"]),
            )
        ids = changed_client_ids(
            merchant,
            purchases_after=None if previous.to_mark else previous.purchases_seen_id,
            refunds_after=previous.refunds_seen_id,
            clients_after=previous.clients_seen_id,
        )
        old = rows.filter(client_id__in=ids)
        totals_merge(totals, rows_totals(old), -1)  # summed by the database, as the page does
        old.delete()
        folded = fold(merchant, ids, through=marks["purchases_seen_id"])
        totals_add(totals, folded)
        mode = "incremental"
    PartnerClient.objects.bulk_create(folded, batch_size=5000)
    if previous is None and connection.vendor == "postgresql":
        # the rows' look-ups by key are planned from the table's statistics: not from an empty
        # table's, before autovacuum gets to it
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {PartnerClient._meta.db_table}")
    PartnerFigures.objects.update_or_create(
        merchant=merchant,
        defaults={
            "purchases_seen_id": marks["purchases_seen_id"],
            "refunds_seen_id": marks["refunds_seen_id"],
            "clients_seen_id": clients_mark,
            "partners": totals_dump(totals),
            "to_mark": True,
        },
    )
    took = round(clock.monotonic() - started, 3)
    return {"partners_mode": mode, "partners_folded": len(folded), "partners": took}


def _per_client(purchases: QuerySet) -> tuple[str, list]:
    """SQL and parameters of `purchases` grouped per client: `client_id`, `n`, `rev`,
    `first_at`, `last_at`."""
    return (
        purchases.order_by()
        .values("client_id")
        .annotate(
            n=Count("pk"),
            rev=Sum(F("amount") - F("refunded_amount")),
            first_at=Min("occurred_at"),
            last_at=Max("occurred_at"),
        )
        .query.sql_with_params()
    )


def added_per_client(merchant: Merchant, purchases: QuerySet) -> dict:
    """{client id: [name, purchases before, purchases, revenue]}: the kept `purchases`, recorded
    past the rows' mark, of the clients with a row (the row's name and count). One statement:
    the purchases grouped per client (a range of their primary key) joined with the rows."""
    sql, params = _per_client(purchases)
    with read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT r.client_id, r.name, r.purchases, d.n, d.rev FROM ({sql}) AS d "
            f"JOIN {PartnerClient._meta.db_table} r ON r.client_id = d.client_id "
            "AND r.merchant_id = %s",
            [*params, merchant.pk],
        )
        return {
            # SQLite sums money as a float
            client_id: [name, before, n, q(Decimal(str(revenue)))]
            for client_id, name, before, n, revenue in cursor.fetchall()
        }


def per_client_merge(kept: dict, more: dict) -> dict:
    """`added_per_client` of two sets of purchases: counts and revenue added per client."""
    for client_id, (name, before, n, revenue) in more.items():
        row = kept.setdefault(client_id, [name, before, 0, ZERO])
        row[2] += n
        row[3] += revenue
    return kept


def added_totals(per_client: dict, skip=frozenset()) -> dict:
    """{name: [0, 0, buyers, purchases, revenue]}: what the purchases of `added_per_client`
    add to their clients' rows, but for the clients of `skip`; a row without a purchase before
    gains a buyer."""
    totals: dict = {}
    for client_id, (name, before, n, revenue) in per_client.items():
        if client_id in skip:
            continue
        t = totals.setdefault(partner_name(name), [0, 0, 0, 0, ZERO])
        t[2] += not before
        t[3] += n
        t[4] += revenue
    return totals


def _add_purchases(merchant: Merchant, after: int, through: int) -> dict:
    """Add the kept purchases recorded in (`after`, `through`] to their buyers' rows (count and
    revenue summed, first and last widened); returns what they add to the sums
    (`added_totals`). The rows of the clients otherwise changed are folded again afterwards,
    taken away as they then are."""
    purchases = Purchase.objects.filter(kept(), merchant=merchant, pk__gt=after, pk__lte=through)
    totals = added_totals(added_per_client(merchant, purchases))
    if totals:
        table = PartnerClient._meta.db_table
        sql, params = _per_client(purchases)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET purchases = {table}.purchases + d.n, "
                f"revenue = {table}.revenue + d.rev, first_at = CASE WHEN {table}.first_at "
                f"IS NULL OR d.first_at < {table}.first_at THEN d.first_at "
                f"ELSE {table}.first_at END, last_at = CASE WHEN {table}.last_at IS NULL "
                f"OR d.last_at > {table}.last_at THEN d.last_at ELSE {table}.last_at END "
                f"FROM ({sql}) AS d WHERE {table}.client_id = d.client_id "
                f"AND {table}.merchant_id = %s",
                [*params, merchant.pk],
            )
    return totals
