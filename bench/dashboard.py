"""Owner dashboard at 1 000 000 clients / 5 000 000 purchases on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--clients N] [--purchases N] [--keep]

Creates a separate database (`bench_dashboard` on the server of DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/), migrates it, fills the real tables with
INSERT … SELECT generate_series, then measures:
  * every figure computed live (no rollup, no snapshot) — the naive baseline;
  * the rollup + snapshot refresh (`reports_refresh`, full; skipped with --skip-full);
  * then a day recorded (`add_one_day`), and in its evening the dashboard's full page (GET
    /dashboard/<slug>/, server time: the snapshot with the day's purchases added), the admin
    client list searched by phone (GET /admin/crm/client/?q=<phone>) and one RFM segment's ids
    (what the campaigns' segment gift calls);
  * the night's incremental refresh of that day.
Drops the database at the end unless --keep.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from procstats import load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_dashboard"


def database_urls(given: str | None) -> tuple[str, str, str]:
    """(server admin URL, bench database URL, bench database name)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(given or base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/dashboard.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    name = parsed.path.strip("/") if given else DB_NAME
    admin = urlunparse(parsed._replace(path="/postgres"))
    bench = urlunparse(parsed._replace(path=f"/{name}"))
    return admin, bench, name


def recreate_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn, repeat=1):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


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


def build(n_clients: int, n_purchases: int):
    from datetime import date
    from decimal import Decimal as D

    from django.db import connection

    from loyalty.program import TierSpec, program_configure
    from onboarding.models import Branch, Merchant

    merchant = Merchant.objects.create(
        name="Bench merchant", slug="bench-dashboard", time_zone="Europe/Moscow",
        launch_date=date(2023, 1, 1), previous_discount_percent=D(5), onboarding_status="launched",
    )  # fmt: skip
    branches = [Branch.objects.create(merchant=merchant, name=f"Branch {i}") for i in range(3)]
    program = program_configure(
        merchant=merchant,
        tiers=[TierSpec("Base", D(3), D(10)), TierSpec("Silver", D(5), D(20), D(50000))],
    )
    tier = program.tiers.order_by("position").first()
    m, b0 = merchant.pk, branches[0].pk
    with connection.cursor() as cursor:
        insert_select(
            cursor,
            "crm_client",
            {
                "merchant_id": str(m),
                "phone": "'+7913' || lpad(g::text, 7, '0')",
                "full_name": "'Client ' || g",
                "birthday": "date '1970-01-01' + (g % 12000)",
                "gender": "CASE WHEN g % 2 = 0 THEN 'f' ELSE 'm' END",
                "email": "''",
                "notes": "''",
                "card_code": "''",
                "source": "CASE WHEN g % 10 < 4 THEN 'import' WHEN g % 10 < 6 THEN 'platform' "
                "WHEN g % 10 = 6 THEN 'promo_code' WHEN g % 10 = 7 THEN 'partner' "
                "ELSE 'organic' END",
                "source_detail": "CASE WHEN g % 10 = 6 THEN 'PROMO' || (g % 5) "
                "WHEN g % 10 = 7 THEN 'Partner ' || (g % 3) ELSE '' END",
                "tier_id": str(tier.pk),
                "tier_locked": "false",
                "joined_at": "CASE WHEN g % 10 >= 3 THEN timestamptz '2023-01-01 09:00+03' "
                "+ (g % 700) * interval '1 day' END",
                "imported": "g % 10 < 4",
                "consent": "true",
                "balance": "0",
                "total_spent": "0",
                "purchases_count": "0",
                "created_at": "now()",
                "updated_at": "now()",
            },
            f"FROM generate_series(1, {n_clients}) AS g",
        )
        cursor.execute("SELECT min(id) FROM crm_client WHERE merchant_id = %s", [m])
        first = cursor.fetchone()[0]
        # Referral chains: every 20th member was invited by the client 1000 ids earlier.
        cursor.execute(
            "UPDATE crm_client SET referred_by_id = id - 1000, source = 'referral' "
            "WHERE merchant_id = %s AND id >= %s AND (id - %s) %% 20 = 0 "
            "AND joined_at IS NOT NULL",
            [m, first + 1000, first],
        )
        buyers = int(n_clients * 0.6)
        insert_select(
            cursor,
            "loyalty_purchase",
            {
                "merchant_id": str(m),
                "client_id": f"CASE WHEN g % 10 = 0 THEN NULL "
                f"ELSE {first} + ((g::bigint * 7919) % {buyers}) END",
                "branch_id": f"{b0} + g % 3",
                "source": "'cashier'",
                "occurred_at": "timestamptz '2023-01-01 10:00+03' + (g % 700) * interval '1 day' "
                "+ (g % 600) * interval '1 minute'",
                "amount": "500 + (g * 37) % 5000",
                "excluded_amount": "0",
                "points_redeemed": "CASE WHEN g % 7 = 0 THEN round((500 + (g * 37) % 5000) * 0.05, 2) "
                "ELSE 0 END",
                "certificate_redeemed": "CASE WHEN g % 97 = 0 THEN 100 ELSE 0 END",
                "paid_money": "500 + (g * 37) % 5000",
                "payment_type": "'card'",
                "by_phone": "g % 4 = 0",
                "points_accrued": "0",
                "refunded_amount": "CASE WHEN g % 500 = 0 THEN 500 + (g * 37) % 5000 ELSE 0 END",
                # recorded before the refresh's change marks (see reports.rollup.MARK_WINDOW)
                "created_at": "now() - interval '1 day'",
            },
            f"FROM generate_series(1, {n_purchases}) AS g",
        )
        # The engine's cached per-client figures, set in one statement.
        cursor.execute(
            "UPDATE crm_client c SET purchases_count = s.n, total_spent = s.t, "
            "first_purchase_at = s.f, last_purchase_at = s.l FROM ("
            "  SELECT client_id, count(*) AS n, sum(amount - refunded_amount) AS t, "
            "  min(occurred_at) AS f, max(occurred_at) AS l FROM loyalty_purchase "
            "  WHERE merchant_id = %s AND client_id IS NOT NULL AND refunded_amount < amount "
            "  GROUP BY client_id) s WHERE c.id = s.client_id",
            [m],
        )
        cursor.execute("ANALYZE")
    return merchant, first


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=5_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="bench database (recreated); default bench_dashboard on DATABASE_URL's server",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--seed-only", action="store_true", help="fill the database and stop")
    parser.add_argument(
        "--reuse", action="store_true", help="measure on a database kept by --keep/--seed-only"
    )
    parser.add_argument("--skip-naive", action="store_true", help="skip the live baseline")
    parser.add_argument(
        "--skip-full", action="store_true", help="measure on the snapshot kept from a full refresh"
    )
    parser.add_argument("--skip-page", action="store_true", help="skip the page and admin")
    args = parser.parse_args()

    admin_url, bench_url, db_name = database_urls(args.database_url)
    if not args.reuse:
        recreate_database(admin_url, db_name)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client as HttpClient

    from onboarding.models import Merchant

    keep = args.keep or args.seed_only or args.reuse
    try:
        call_command("migrate", verbosity=0)
        if args.reuse:
            merchant = Merchant.objects.get(slug="bench-dashboard")
        else:
            build_s, (merchant, _first) = timed(lambda: build(args.clients, args.purchases))
            print(
                f"generated {args.clients} clients / {args.purchases} purchases in {build_s:.1f} s"
            )
        if args.seed_only:
            return
        measure(merchant, args, HttpClient, Group, User)
    finally:
        connections.close_all()
        if not keep:
            drop_database(admin_url, db_name)


def measure(merchant, args, HttpClient, Group, User) -> None:
    import time_machine
    from dashboard_page import evening

    from reports import metrics
    from reports.rfm import segment_client_ids
    from reports.rollup import reports_refresh

    # Small runs (--clients/--purchases below the threshold) still exercise the rollup.
    metrics.ROLLUP_MIN_PURCHASES = min(metrics.ROLLUP_MIN_PURCHASES, args.purchases)
    if not args.skip_naive:
        naive_s, _b = timed(lambda: metrics.point_b(merchant=merchant, use_snapshot=False))
        print(f"every figure live (no rollup/snapshot): {naive_s:.2f} s (load {load()})")
    if not args.skip_full:
        refresh_s, snap = timed(lambda: reports_refresh(merchant=merchant, full=True))
        print(
            f"full rollup + snapshot refresh: {refresh_s:.1f} s (rollup through "
            f"{snap.rollup_through}; {snap.timings}; load {load()})"
        )

    # the evening of a day: its purchases recorded since the last refresh (the page adds them
    # to the kept figures), then the night's refresh
    day = add_one_day(merchant)
    if not args.skip_page:
        owner, _ = User.objects.get_or_create(username="bench-owner")
        owner.groups.add(Group.objects.get(name="owner"))
        merchant.owners.add(owner)
        http = HttpClient()
        http.force_login(owner)
        url = f"/dashboard/{merchant.slug}/"
        # the page in the evening of the day (its "today"; the bench's days run ahead of the
        # calendar)
        with time_machine.travel(evening(merchant), tick=True):
            http.get(url)  # warm caches and the template loader
            page_s, response = timed(lambda: http.get(url), repeat=3)
            assert response.status_code == 200, response.status_code
            assert merchant.name.encode() in response.content
            b = metrics.point_b(merchant=merchant)
        assert b.data_source == "rollup", b.data_source
        print(
            f"dashboard page: {page_s * 1000:.0f} ms (contacts {b.clients.contacts}, card purchases "
            f"{b.sales.card_purchases}, benefit {b.benefit.total}; load {load()})"
        )

        admin, _ = User.objects.get_or_create(
            username="bench-admin", is_superuser=True, is_staff=True
        )
        http.force_login(admin)
        phone = f"+7913{(args.clients // 2):07d}"
        admin_url_q = f"/admin/crm/client/?q={phone.replace('+', '%2B')}"
        http.get(admin_url_q)
        admin_s, response = timed(lambda: http.get(admin_url_q), repeat=3)
        assert response.status_code == 200, response.status_code
        print(f"admin client list, search by phone: {admin_s * 1000:.0f} ms (load {load()})")

    from django.db.models import Count

    from reports.models import ReportSnapshot, RfmScore

    today = ReportSnapshot.objects.get(merchant=merchant).rfm_as_of
    # the largest segment of the stored day (the most ids to read)
    segment = (
        RfmScore.objects.filter(merchant=merchant)
        .values("segment")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("segment", flat=True)
        .first()
    ) or "lapsed"
    live_s, live_ids = timed(
        lambda: segment_client_ids(merchant=merchant, segment=segment, today=today, live=True)
    )
    seg_s, ids = timed(
        lambda: segment_client_ids(merchant=merchant, segment=segment, today=today), repeat=3
    )
    assert ids == live_ids
    print(
        f"RFM segment {segment!r} ids as of {today}: {len(ids)} in {seg_s:.3f} s stored, "
        f"{live_s:.2f} s live (load {load()})"
    )

    one_day = refresh_one_day(merchant, reports_refresh, day)

    if not args.skip_naive:
        print(f"RESULT dashboard_live_all_figures {naive_s:.2f} s")
    if not args.skip_full:
        print(f"RESULT dashboard_refresh {refresh_s:.1f} s")
    print(f"RESULT dashboard_refresh_one_day_seconds {one_day['total']:.2f} s")
    print(f"RESULT dashboard_refresh_one_day_rollup_seconds {one_day['rollup']:.2f} s")
    print(f"RESULT dashboard_refresh_one_day_clients_seconds {one_day['clients']:.2f} s")
    if not args.skip_page:
        print(f"RESULT dashboard_page {page_s * 1000:.0f} ms")
        print(f"RESULT admin_client_search_by_phone {admin_s * 1000:.0f} ms")
    print(f"RESULT rfm_segment_ids {live_s:.2f} s")
    print(f"RESULT rfm_segment_ids_seconds {seg_s:.3f} s")


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


if __name__ == "__main__":
    main()
