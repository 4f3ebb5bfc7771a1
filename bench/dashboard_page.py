"""The owner dashboard page block by block, on a base kept by bench/dashboard.py (`--keep`).

    .venv/bin/python bench/dashboard_page.py --database-url postgres://…/<copy> [--repeat 5]
        [--explain 3]

Times the whole page (GET /dashboard/<slug>/ as the merchant's owner, server time, median of
`--repeat` after one warm-up; its first view with nothing kept of the day's purchases,
`reports.intraday`; its first view after the periodic task kept the day, `reports.day_kept`)
and each block the view reads, with its SQL statements; prints the slowest statements of the
page and, with `--explain N`, `EXPLAIN ANALYZE` of the N slowest. Measures on the base as it
is: no refresh is run (run the refresh first, e.g. the bench's one-day night, so that the
snapshot serves the page). With `--add-day` a day of purchases is recorded first
(`bench/dashboard_day.add_one_day`, not refreshed: the page adds it to the kept figures). The
clock is set to 20:00 (the merchant's time) of the day of its last purchase, as the bench's
days run ahead of the calendar: the page's "today" is that day.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from dashboard_day import add_one_day, evening
from procstats import load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_time(fn, repeat: int):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Statements:
    """Every statement run on a connection with its time (`execute_wrapper`; a request resets
    the connection's own query log when it starts)."""

    def __init__(self):
        self.rows = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.rows.append((time.perf_counter() - started, sql, params))


def page_owner(merchant, Group, User):
    """One of the merchant's owners (one is added when it has none)."""
    owner = merchant.owners.order_by("pk").first()
    if owner is None:
        owner = User.objects.create(username=f"{merchant.slug}-owner")
        owner.groups.add(Group.objects.get(name="owner"))
        merchant.owners.add(owner)
    return owner


def blocks(merchant) -> dict:
    """The view's blocks as it calls them (reports.views.dashboard, default filters)."""
    from cards.selectors import card_stats
    from reports import views
    from reports.lift import lift_context
    from reports.metrics import branch_breakdown, point_b
    from reports.partners import partner_summary

    today = merchant.local_today()
    filters = {"start": None, "end": None, "branch_id": None}
    return {
        "point_b": lambda: point_b(merchant=merchant, **filters),
        "branch_breakdown": lambda: branch_breakdown(merchant=merchant, start=None, end=None),
        "card_stats": lambda: card_stats(merchant=merchant, start=None, end=None),
        "channels": lambda: views._channel_rows(merchant, filters),
        "partners": lambda: partner_summary(merchant=merchant, start=None, end=today),
        "lift": lambda: lift_context(merchant=merchant),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--slug", default="bench-dashboard")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", type=int, default=0)
    parser.add_argument("--add-day", action="store_true", help="record a day first")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import time_machine

    from onboarding.models import Merchant

    merchant = Merchant.objects.get(slug=args.slug)
    if args.add_day:
        add_one_day(merchant)
    at = evening(merchant)
    print(f"clock: {at.isoformat()}")
    with time_machine.travel(at, tick=True):
        measure(merchant, args)


def measure(merchant, args) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client as HttpClient

    http = HttpClient()
    http.force_login(page_owner(merchant, Group, User))
    url = f"/dashboard/{merchant.slug}/"
    assert http.get(url).status_code == 200  # warm caches and the template loader
    cache.clear()  # the first view of the day's purchases since the night: nothing kept
    first_s = median_time(lambda: http.get(url), 1)
    # the same after the periodic task kept the day (`reports.day_kept`; here just before the
    # view: a real view also reads the purchases of the minutes since the task's last run)
    from reports.day_kept import keep_day

    cache.clear()
    keep_s = median_time(lambda: keep_day(merchant), 1)
    kept_first_s = median_time(lambda: http.get(url), 1)
    page = Statements()
    with connection.execute_wrapper(page):
        http.get(url)
    page_s = median_time(lambda: http.get(url), args.repeat)
    print(f"page: {page_s * 1000:.0f} ms, {len(page.rows)} statements (load {load()})")
    print(f"first view, nothing kept of the day (reports.intraday): {first_s * 1000:.0f} ms")
    print(
        f"first view after the periodic task kept the day (reports.day_kept, "
        f"{keep_s * 1000:.0f} ms for the task): {kept_first_s * 1000:.0f} ms"
    )
    results = {}
    for name, fn in blocks(merchant).items():
        fn()
        block = Statements()
        with connection.execute_wrapper(block):
            fn()
        results[name] = median_time(fn, args.repeat)
        sql_s = sum(row[0] for row in block.rows)
        print(
            f"  {name}: {results[name] * 1000:.1f} ms, {len(block.rows)} statements "
            f"({sql_s * 1000:.1f} ms in them)"
        )
    slowest = sorted(page.rows, key=lambda row: -row[0])
    print("slowest statements of the page:")
    for seconds, sql, _params in slowest[:10]:
        print(f"  {seconds * 1000:7.1f} ms  {sql[:240]}")
    with connection.cursor() as cursor:
        for _seconds, sql, params in slowest[: args.explain]:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()) + "\n")
    print(f"load {load()}")
    for name, seconds in results.items():
        print(f"RESULT dashboard_page_block_{name} {seconds * 1000:.1f} ms")
    print(f"RESULT dashboard_page_first_view {first_s * 1000:.0f} ms")
    print(f"RESULT dashboard_page_first_view_day_kept {kept_first_s * 1000:.0f} ms")
    print(f"RESULT dashboard_keep_day {keep_s * 1000:.0f} ms")
    print(f"RESULT dashboard_page {page_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
