"""The writes of the dashboard benches (`bench/dashboard.py`, `bench/dashboard_page.py`): the
seed's INSERT … SELECT into the real tables with every other column at its default, a day of the
merchant recorded since the last refresh, the night's incremental refresh of it, and the clock
of that day's evening (the bench's days run ahead of the calendar)."""

import time

from procstats import load


def fill_missing(cursor, table: str, given: dict) -> dict:
    """Columns added later by other migrations: give NOT NULL ones without a default a
    neutral value, so the bench keeps working as the schema grows."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
        [table],
    )
    neutral = {"boolean": "false", "jsonb": "'{}'::jsonb", "timestamp with time zone": "now()",
               "date": "now()::date", "text": "''", "character varying": "''"}  # fmt: skip
    out = dict(given)
    for column, data_type in cursor.fetchall():
        if column not in out and column != "id":
            out[column] = neutral.get(data_type, "0")
    return out


def insert_select(cursor, table: str, columns: dict, source: str, params=()) -> None:
    columns = fill_missing(cursor, table, columns)
    names = ", ".join(f'"{c}"' for c in columns)
    exprs = ", ".join(columns.values())
    cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {exprs} {source}', params or None)


def add_one_day(merchant) -> dict:
    """A day of the merchant recorded since the last refresh: one more day of purchases (the
    day after the rollup), a POS document delivered late for ten days before it and refunded,
    the day's new members (one for 20 purchases) and 50 clients moved to another channel. All
    recorded an hour or more before the night's refresh (the refund half an hour), as on a real
    night: its marks take in the day, and the next night's refresh reads only its own day."""
    from datetime import timedelta

    from django.db import connection

    from reports.models import ReportSnapshot

    day = ReportSnapshot.objects.get(merchant=merchant).rollup_through + timedelta(days=1)
    columns = (
        "merchant_id, client_id, branch_id, source, occurred_at, amount, excluded_amount, "
        "points_redeemed, certificate_redeemed, paid_money, payment_type, by_phone, "
        "points_accrued, refunded_amount, created_at, content_key, review_reason"
    )
    copied = (
        "merchant_id, client_id, branch_id, source, {at}, amount, excluded_amount, "
        "points_redeemed, certificate_redeemed, paid_money, payment_type, by_phone, "
        "points_accrued, 0, now() - interval '1 hour', '', ''"
    )
    local_noon = "(%s::date + time '12:00') AT TIME ZONE %s"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) / 700 FROM loyalty_purchase WHERE merchant_id = %s", [merchant.pk]
        )
        per_day = max(int(cursor.fetchone()[0]), 100)
        # One day of purchases like the others (copies of recent ones moved to `day`) and a
        # late one for ten days before, refunded.
        for at, count in ((day, per_day), (day - timedelta(days=10), 1)):
            cursor.execute(
                f"INSERT INTO loyalty_purchase ({columns}) "
                f"SELECT {copied.format(at=local_noon)} FROM loyalty_purchase "
                "WHERE merchant_id = %s AND client_id IS NOT NULL ORDER BY id DESC LIMIT %s "
                "RETURNING id, amount",
                [at, merchant.time_zone, merchant.pk, count],
            )
            purchase_id, amount = cursor.fetchall()[-1]
        cursor.execute(
            "UPDATE loyalty_purchase SET refunded_amount = amount WHERE id = %s", [purchase_id]
        )
        cursor.execute(
            "INSERT INTO loyalty_refund (merchant_id, purchase_id, amount, promo_amount, lines,"
            " occurred_at, created_at) VALUES (%s, %s, %s, 0, '[]', now(), now() - interval '30 minutes')",
            [merchant.pk, purchase_id, amount],
        )
        # The day's new members (enrolled at the till) and a few clients whose channel changed.
        joined = max(per_day // 20, 10)
        cursor.execute(
            "SELECT min(id), max(id) FROM crm_client WHERE merchant_id = %s", [merchant.pk]
        )
        first, last = cursor.fetchone()
        insert_select(
            cursor,
            "crm_client",
            {
                "merchant_id": str(merchant.pk),
                "phone": f"'+7914' || lpad(({last} + g)::text, 7, '0')",
                "full_name": "'New client ' || g",
                "email": "''",
                "notes": "''",
                "card_code": "''",
                "source": "'pos'",
                "source_detail": "''",
                "tier_locked": "false",
                "imported": "false",
                "consent": "true",
                "balance": "0",
                "total_spent": "0",
                "purchases_count": "0",
                "joined_at": f"{local_noon} + g * interval '1 second'",
                "created_at": "now() - interval '1 hour'",
                "updated_at": "now()",
            },  # fmt: skip
            f"FROM generate_series(1, {joined}) AS g",
            [day, merchant.time_zone],
        )
        cursor.execute(
            "UPDATE crm_client SET source = 'partner', source_detail = 'Partner ' || (id %% 3) "
            "WHERE merchant_id = %s AND id IN (SELECT %s + (g * 7919 + %s) %% %s "
            "FROM generate_series(1, 50) AS g)",
            [merchant.pk, first, day.toordinal(), last - first],
        )
        moved = cursor.rowcount
        cursor.execute("ANALYZE loyalty_purchase")
    return {"day": day, "per_day": per_day, "joined": joined, "moved": moved}


def refresh_one_day(merchant, reports_refresh, day: dict) -> dict:
    """The incremental refresh of the night after the day `add_one_day` recorded."""
    from datetime import timedelta

    started = time.perf_counter()
    snap = reports_refresh(merchant=merchant, today=day["day"] + timedelta(days=1))
    total = time.perf_counter() - started
    parts = snap.timings or {}
    print(
        f"incremental refresh of one day ({day['per_day']} purchases, 1 late and refunded, "
        f"{day['joined']} new members, {day['moved']} channels changed): "
        f"{total:.2f} s — rollup {parts.get('rollup', 0):.2f} s over {parts.get('days', 0)} "
        f"days, client-level {parts.get('clients', 0):.2f} s {parts} (load {load()})"
    )
    return {"total": total, "rollup": parts.get("rollup", 0), "clients": parts.get("clients", 0)}


def evening(merchant):
    """20:00 of the merchant's local day of its last purchase (the page's today then)."""
    from datetime import datetime, time

    from django.db.models import Max

    from loyalty.models import Purchase

    last = Purchase.objects.filter(merchant=merchant).aggregate(at=Max("occurred_at"))["at"]
    day = last.astimezone(merchant.tzinfo).date()
    return datetime.combine(day, time(20), tzinfo=merchant.tzinfo)
