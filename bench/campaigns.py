"""Daily campaign run benchmark: one merchant with 1 000 000 clients on PostgreSQL.

    .venv/bin/python bench/campaigns.py [--clients 1000000] [--database-url URL]

Builds (with INSERT … SELECT generate_series, in seconds) a ZOLOTOFF-like merchant in the
Asia/Novokuznetsk time zone: birthdays spread over the year, last purchases over three years
(30% never bought), balances with their opening ledger entries, points expiring 24 months after
the last purchase, lapsed certificates and short-lived gifts due to burn. Campaigns: birthday
certificate 10 days ahead, win-back 1000 points after 716 days, check growth ≥ 15 000, review
reward. Before the run, times its selections alone (the floor: `selections_floor`, printed with the
run's ratio to it). Then times `campaigns_run_day` for the merchant's today (wall, this process's CPU, the
server backend's CPU, SQL statements and the commits, where deferred key checks run), re-runs it and shows that the re-run issues and expires nothing (a completed
day is marked, so the re-run is a few index look-ups). The database (default `bench_campaigns` on 127.0.0.1) is
dropped and recreated each run. Each step of the first run is timed (wall and statements).
`--checkpoint`: a CHECKPOINT just before the run, so every page it changes writes its full
image to the WAL as it would minutes after the server's last checkpoint (a clone's run
otherwise pays them only when a checkpoint fell between the clone and the run).

`--template NAME`: the generated base is kept as database NAME and later runs clone it
instead of generating again (A/B comparisons of two versions on the same base). A clone that
needs migrations the template lacks (a branch's) is vacuumed after them, as the template was.
"""

import argparse
import contextlib
import functools
import os
import sys
import time
from pathlib import Path

from campaigns_base import build
from procstats import cpu_seconds

NAN = float("nan")  # a backend whose CPU cannot be read (a server on another machine)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_campaigns"


def recreate_database(url: str, template: str | None = None) -> bool:
    """Drop and create the bench database, from `template` if that database exists.
    Returns whether it was cloned."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = (
            template
            and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        )
        if exists:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return True
        conn.execute(f'CREATE DATABASE "{name}"')
        return False


def save_template(url: str, template: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')


def time_steps(timings: dict, statements: list, backend: list) -> None:
    """Wrap each step of the daily run to add its wall time, statements, this process's CPU
    and the server backend's CPU (`backend[0]`: its pid) to `timings`."""
    # The steps' modules: Django is set up only in main().
    from loyalty.campaigns import expiry, run

    def wrap(module, name, label=None):
        original = getattr(module, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            key = label(kwargs) if label else name
            with _step(timings, key, statements, backend):
                return original(*args, **kwargs)

        setattr(module, name, timed)

    for kind, selector in list(run.DAILY_SELECTORS.items()):
        run.DAILY_SELECTORS[kind] = _timed_selector(
            selector, f"select {kind}", timings, statements, backend
        )
    wrap(run, "issue_rewards", lambda kw: f"issue {kw['campaign'].kind}")
    for name in ("gifts_burn", "points_expire", "certificates_expire"):
        wrap(expiry, name)
    wrap(run.marks, "day_mark")
    wrap(run.marks, "day_mark_write")


def wal_stats(url: str) -> list[int]:
    """The server's WAL records, full-page images and bytes so far (`pg_stat_wal`: every
    database's, so other sessions' writes count too)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [
            int(value)
            for value in conn.execute(
                "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"
            ).fetchone()
        ]


def time_commits(connection, commits: list) -> None:
    """Add each commit's wall time to `commits[0]` (the deferred foreign-key checks run
    there) and count it in `commits[1]`."""
    original = connection.commit

    def timed():
        t = time.perf_counter()
        try:
            return original()
        finally:
            commits[0] += time.perf_counter() - t
            commits[1] += 1

    connection.commit = timed


@contextlib.contextmanager
def _step(timings, key, statements, backend):
    t, n, cpu = time.perf_counter(), statements[0], time.process_time()
    server = cpu_seconds(backend[0], missing=NAN) if backend else 0.0
    try:
        yield
    finally:
        wall, count, cpu_sum, server_sum = timings.get(key, (0.0, 0, 0.0, 0.0))
        timings[key] = (
            wall + time.perf_counter() - t,
            count + statements[0] - n,
            cpu_sum + time.process_time() - cpu,
            server_sum + (cpu_seconds(backend[0], missing=NAN) - server if backend else 0.0),
        )


def _timed_selector(selector, key, timings, statements, backend):
    def timed(**kwargs):
        with _step(timings, key, statements, backend):
            return selector(**kwargs)

    return timed


def selections_floor(merchant, day) -> tuple[float, int]:
    """The floor of the filing's comparison: the run's reads alone — each daily campaign's
    candidates (its selector, as the run calls it) and the clients whose points lapse (the
    expiry's range over the maintained last activity) — timed on the same base just before the
    run, nothing written (the run reads the same pages: the run's figure is within the noise
    with and without this pass before it). Returns (seconds, rows selected)."""
    from loyalty.campaigns.expiry import expiry_months, points_expiry_candidates
    from loyalty.campaigns.run import DAILY_SELECTORS, daily_campaigns

    t, rows = time.perf_counter(), 0
    for campaign in daily_campaigns(merchant):
        campaign.merchant = merchant
        rows += len(DAILY_SELECTORS[campaign.kind](campaign=campaign, day=day))
    months = expiry_months(merchant)
    if months:
        rows += len(points_expiry_candidates(merchant=merchant, day=day, months=months))
    return time.perf_counter() - t, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument(
        "--slowest", type=int, default=0, help="print the N statement shapes that took longest"
    )
    parser.add_argument("--template", help="keep the generated base as this database, reuse it")
    parser.add_argument(
        "--checkpoint",
        action="store_true",
        help="CHECKPOINT just before the run: every page the run changes first writes its full "
        "image to the WAL, as in a run minutes after the server's last checkpoint (without it "
        "the figure depends on whether one fell between the clone and the run)",
    )
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    cloned = recreate_database(args.database_url, args.template)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.models import Sum

    from crm.models import Client
    from loyalty.campaigns.run import campaigns_run_day
    from loyalty.models import LedgerEntry
    from onboarding.models import Merchant

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - t:.1f} s")
    if cloned and pending:
        # The template was vacuumed as a base that autovacuum has visited; a migration that
        # rewrote a table on the clone (this branch's, not the template's) leaves it
        # unvacuumed, so the clone is brought to the same state before the run is timed.
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE, FREEZE)")
        print(
            f"{len(pending)} migrations applied to the clone, vacuumed in "
            f"{time.perf_counter() - t:.1f} s"
        )
    if cloned:
        merchant = Merchant.objects.get(slug="bench-campaigns")
        print(f"cloned the base from {args.template}")
    else:
        t = time.perf_counter()
        merchant = build(args.clients)
        print(f"generated {args.clients:,} clients in {time.perf_counter() - t:.1f} s")
        if args.template:
            connection.close()
            save_template(args.database_url, args.template)

    day = merchant.local_today()
    # twice: the first pass reads the pages from disk, the second is the floor
    passes = [selections_floor(merchant, day) for _ in range(2)]
    floor, selected = min(passes)
    print(
        f"the run's selections alone (read-only, before the run): "
        f"{' / '.join(f'{wall:.3f}' for wall, _rows in passes)} s, {selected:,} rows"
    )

    statements = [0]
    timings: dict[str, tuple[float, int, float, float]] = {}
    backend_pid: list[int] = []
    time_steps(timings, statements, backend_pid)

    slow: list[tuple[float, str]] = []

    def count(execute, sql, params, many, context):
        statements[0] += 1
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            slow.append((time.perf_counter() - t, " ".join(sql.split())[:110]))

    commits = [0.0, 0]
    time_commits(connection, commits)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_pid.append(backend)
    print(f"load average before the run: {os.getloadavg()[0]:.1f}")
    with connection.cursor() as cursor:
        if args.checkpoint:
            cursor.execute("CHECKPOINT")

    def wal_now() -> list[int]:
        # This backend's WAL counters reach the server's view once it is idle with a flush
        # forced: the migrations' and the vacuum's before the run, the run's own after it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        return wal_stats(args.database_url)

    wal = wal_now()
    t, cpu, server = time.perf_counter(), time.process_time(), cpu_seconds(backend, missing=NAN)
    with connection.execute_wrapper(count):
        report = campaigns_run_day(merchant=merchant, day=day)
    first = time.perf_counter() - t
    first_cpu, first_statements = time.process_time() - cpu, statements[0]
    first_server = cpu_seconds(backend, missing=NAN) - server
    wal = [after - before for before, after in zip(wal, wal_now(), strict=True)]
    print(
        f"daily run for {day} ({merchant.time_zone}): {first:.2f} s "
        f"(CPU {first_cpu:.2f} s, server backend CPU {first_server:.2f} s, "
        f"{first_statements} statements; {commits[1]} commits {commits[0]:.2f} s)"
    )
    print(
        f"  WAL during the run (whole server): {wal[0]:,} records, {wal[1]:,} full-page images, "
        f"{wal[2] / 2**20:.1f} MB"
    )
    for line in report.campaigns:
        print(
            f"  {line.kind:<14} issued {line.outcome.issued:>6} "
            f"(certificates {line.outcome.certificates}, points {line.outcome.points})"
        )
    for key, (wall, n, cpu_step, server_step) in timings.items():
        print(
            f"  step {key:<22} {wall:6.3f} s {n:>4} statements  "
            f"CPU {cpu_step:5.2f} s, server {server_step:5.2f} s"
        )
    timings.clear()
    print(f"  statements' own time {sum(wall for wall, _sql in slow):.2f} s")
    shapes: dict[str, list] = {}
    for wall, sql in slow:
        shape = shapes.setdefault(sql[:72], [0.0, 0])
        shape[0] += wall
        shape[1] += 1
    for sql, (wall, n) in sorted(shapes.items(), key=lambda i: -i[1][0])[: args.slowest]:
        print(f"  {wall:6.3f} s {n:>3}×  {sql}")
    e = report.expiry
    print(
        f"  expiry: {e.clients_expired} balances ({e.points_expired} points), "
        f"{e.gifts_burned} gifts burned ({e.points_burned}), {e.certificates_expired} certificates"
    )

    statements[0] = 0
    t, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        again = campaigns_run_day(merchant=merchant, day=day)
    second = time.perf_counter() - t
    second_cpu, second_statements = time.process_time() - cpu, statements[0]
    expired_again = again.expiry.clients_expired + again.expiry.gifts_burned
    print(
        f"re-run: {second:.3f} s (CPU {second_cpu:.3f} s, {second_statements} statements), "
        f"issued {again.issued} new, expired {expired_again} "
        f"balances/gifts, {again.expiry.certificates_expired} certificates"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    balances = Client.objects.filter(merchant=merchant).aggregate(s=Sum("balance"))["s"]
    ledger = LedgerEntry.objects.filter(merchant=merchant).aggregate(s=Sum("points"))["s"]
    print(f"ledger sum {ledger} == cached balances {balances}: {ledger == balances}")
    connection.close()
    print(f"RESULT campaigns_daily_run_{args.clients} {first:.2f} s")
    print(f"RESULT campaigns_daily_run_cpu_{args.clients} {first_cpu:.2f} s")
    print(f"RESULT campaigns_daily_run_server_cpu_{args.clients} {first_server:.2f} s")
    print(f"RESULT campaigns_daily_run_statements_{args.clients} {first_statements} statements")
    print(f"RESULT campaigns_rerun_{args.clients} {second:.3f} s")
    print(f"RESULT campaigns_rerun_statements_{args.clients} {second_statements} statements")
    print(f"RESULT campaigns_rerun_issued {again.issued} issuances")
    print(f"RESULT campaigns_selections_floor_{args.clients} {floor:.3f} s")
    print(f"RESULT campaigns_daily_run_ratio_to_selections {first / floor:.1f} x")


if __name__ == "__main__":
    main()
