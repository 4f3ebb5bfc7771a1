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

from dashboard_day import add_one_day, evening, insert_select, refresh_one_day
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
                "created_at": "now() - interval '1 day'",  # before the marks, as purchases
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
    if not args.skip_naive:  # the peer: every figure computed live, in the same run
        print(f"RESULT dashboard_refresh_one_day_ratio_to_live {naive_s / one_day['total']:.1f} x")
    if not args.skip_page:
        print(f"RESULT dashboard_page {page_s * 1000:.0f} ms")
        print(f"RESULT admin_client_search_by_phone {admin_s * 1000:.0f} ms")
    print(f"RESULT rfm_segment_ids {live_s:.2f} s")
    print(f"RESULT rfm_segment_ids_seconds {seg_s:.3f} s")


if __name__ == "__main__":
    main()
