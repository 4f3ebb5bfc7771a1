"""Purchases through the engine's service with 3-level referral chains.

    .venv/bin/python bench/purchases.py [--database-url URL] [--workers 4] [--purchases 6000]
                                        [--chains 1500] [--batch 50] [--modes single,batch]
                                        [--without-hooks | --check-growth 15000]
                                        [--pgbench-seconds 20]

Builds a ZOLOTOFF-like merchant (5 tiers, welcome 3 000, referral 500 + 5/2/1 %) whose buyers
each sit at the bottom of a chain of three referrers, joins every buyer (welcome points), then
runs the purchases in `--workers` processes (multiprocessing), each purchase paying 50 points
on a random buyer's check:
  single: `purchase_record` once per check (its own transaction, the cashier/POS path);
  batch:  `purchase_record_many` with `--batch` checks per transaction (queued POS events,
          history import).
By default the merchant has no active check-growth campaign, so the campaigns' after-purchase
hook costs nothing (the engine learns that in its lock statement); `--check-growth AMOUNT`
adds one (a certificate for checks ≥ AMOUNT; 18 000 of the four check sizes reach 15 000) to
measure the hook at work (issuance and outbox rows; delivery belongs to another worker); `--without-hooks` switches the hook off entirely.
Before the run it prints the SQL statements one purchase costs (CaptureQueriesContext).
After each mode it prints the CPU per purchase of the worker processes and of their
PostgreSQL backends (/proc: a local server), with the load average, and checks, for every client, that the cached balance = the ledger sum = the
balance expected from an independent replay of the recorded purchases (tiers by spend,
cashback, referral levels of the check amount, one-time bonus), and prints the discrepancies (must be 0).
The peer, in the same run after the modes: pgbench TPC-B (scale 10) with as many clients as
workers, on a scratch database `<name>_pgbench`; each mode's rate is printed as a ratio to it.
The database (default PostgreSQL `bench_purchases` on 127.0.0.1) is recreated each run; a
`sqlite:///path` URL runs on SQLite (use --workers 1 there: SQLite has one writer).
"""

import argparse
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

from procstats import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_purchases"


def recreate_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build(chains: int):
    from decimal import Decimal as D

    from crm.models import Client, ClientSource
    from loyalty.program import TierSpec, program_configure
    from loyalty.services.members import client_join
    from onboarding.models import Merchant

    merchant = Merchant.objects.create(name="Bench purchases", slug="bench-purchases")
    program_configure(
        merchant=merchant,
        tiers=[
            TierSpec("T1", D(3), D(5), D(0)),
            TierSpec("T2", D(5), D(10), D(30000)),
            TierSpec("T3", D(7), D(15), D(80000)),
            TierSpec("T4", D(9), D(17), D(150000)),
            TierSpec("T5", D(11), D(20), D(300000)),
        ],
        welcome_points=D(3000),
        referral_bonus_points=D(500),
        referral_level1_percent=D(5),
        referral_level2_percent=D(2),
        referral_level3_percent=D(1),
    )
    parents = [None] * chains
    serial = 0
    for _level in range(4):
        rows = []
        for parent in parents:
            serial += 1
            rows.append(
                Client(
                    merchant=merchant,
                    phone=f"+7913{serial:07d}",
                    referred_by_id=parent,
                    source=ClientSource.REFERRAL if parent else ClientSource.ORGANIC,
                )
            )
        Client.objects.bulk_create(rows, batch_size=2000)
        parents = [c.pk for c in rows]
    buyers = parents
    for buyer in Client.objects.filter(pk__in=buyers):
        client_join(merchant=merchant, client=buyer)
    return merchant, buyers


def add_check_growth(merchant, amount) -> None:
    from decimal import Decimal as D

    from loyalty.program import campaign_configure

    campaign_configure(
        merchant=merchant,
        kind="check_growth",
        name="Big check",
        reward_form="certificate",
        reward_points=D(2000),
        min_check_amount=D(amount),
        certificate_valid_days=30,
        redemption_cap_percent=D(20),
        channel="console",
    )


def statements_per_purchase(merchant, buyers) -> tuple[int, list[str]]:
    """Statements of one purchase of 18 000 in steady state, BEGIN/COMMIT included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.models import Client
    from loyalty.services.purchases import purchase_record

    def buy(key):
        purchase_record(
            merchant=merchant,
            client=Client(pk=buyers[0], merchant_id=merchant.pk),
            amount=18000,
            points_to_redeem=50,
            payment_type="card",
            source="api",
            external_id=key,
        )

    buy("probe-warm-up-1")  # the first check pays the one-time referral bonus too
    buy("probe-warm-up-2")  # the steady shape, prepared once per connection
    with CaptureQueriesContext(connection) as ctx:
        buy("probe")
    return len(ctx.captured_queries), [q["sql"][:70] for q in ctx.captured_queries]


def worker(mode, merchant_id, tasks, batch, barrier, out):
    from django.db import connection

    from crm.models import Client
    from loyalty.services.purchases import PurchaseInput, purchase_record, purchase_record_many
    from onboarding.models import Merchant

    merchant = Merchant.objects.get(pk=merchant_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 0"
        )
        backend = cursor.fetchone()[0]
    barrier.wait()
    start = time.time()
    cpu, server = time.process_time(), cpu_seconds(backend)
    if mode == "single":
        for buyer, key, amount in tasks:
            purchase_record(
                merchant=merchant,
                client=Client(pk=buyer, merchant_id=merchant_id),
                amount=amount,
                points_to_redeem=50,
                payment_type="card",
                source="api",
                external_id=key,
            )
    else:
        for i in range(0, len(tasks), batch):
            items = [
                PurchaseInput(
                    client=Client(pk=buyer, merchant_id=merchant_id),
                    amount=amount,
                    points_to_redeem=50,
                    payment_type="card",
                    source="api",
                    external_id=key,
                )
                for buyer, key, amount in tasks[i : i + batch]
            ]
            purchase_record_many(merchant=merchant, items=items)
    out.put(
        (start, time.time(), len(tasks), time.process_time() - cpu, cpu_seconds(backend) - server)
    )
    connection.close()


def run_mode(mode, merchant, buyers, purchases, workers, batch, seed):
    from django.db import connections

    rng = random.Random(seed)
    tasks = [
        (rng.choice(buyers), f"{mode}-{n}", rng.choice([1500, 4000, 9000, 18000]))
        for n in range(purchases)
    ]
    shares = [tasks[w::workers] for w in range(workers)]
    connections.close_all()
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=worker, args=(mode, merchant.pk, share, batch, barrier, out))
        for share in shares
    ]
    for p in procs:
        p.start()
    spans = []
    while len(spans) < len(procs):
        try:
            spans.append(out.get(timeout=5))
        except Exception:  # queue.Empty: make sure nobody died
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                raise SystemExit(f"a {mode} worker failed") from None
    for p in procs:
        p.join()
    elapsed = max(s[1] for s in spans) - min(s[0] for s in spans)
    run_mode.cpu = (sum(s[3] for s in spans) / purchases, sum(s[4] for s in spans) / purchases)
    return sum(s[2] for s in spans) / elapsed, elapsed


def discrepancies(merchant) -> tuple[int, int, int]:
    """(clients checked, cached ≠ ledger sum, cached ≠ independent replay)."""
    from collections import defaultdict
    from decimal import Decimal as D

    from django.db.models import Sum

    from crm.models import Client
    from loyalty.models import LedgerEntry, Purchase
    from onboarding.money import q

    tiers = [
        (D(0), D(3)),
        (D(30000), D(5)),
        (D(80000), D(7)),
        (D(150000), D(9)),
        (D(300000), D(11)),
    ]
    levels = [D(5), D(2), D(1)]
    clients = dict(Client.objects.filter(merchant=merchant).values_list("pk", "balance"))
    parent = dict(Client.objects.filter(merchant=merchant).values_list("pk", "referred_by_id"))
    ledger = dict(
        LedgerEntry.objects.filter(merchant=merchant)
        .values("client_id")
        .annotate(s=Sum("points"))
        .values_list("client_id", "s")
    )
    expected = defaultdict(lambda: D(0))
    for client_id, points in LedgerEntry.objects.filter(
        merchant=merchant, kind="welcome"
    ).values_list("client_id", "points"):
        expected[client_id] += points
    spent, bought = defaultdict(lambda: D(0)), set()
    for client_id, amount, redeemed in (
        Purchase.objects.filter(merchant=merchant)
        .order_by("pk")
        .values_list("client_id", "amount", "points_redeemed")
    ):
        paid = amount - redeemed
        percent = [p for threshold, p in tiers if spent[client_id] >= threshold][-1]
        expected[client_id] += q(paid * percent / 100) - redeemed
        ancestor = parent.get(client_id)
        if ancestor and client_id not in bought:
            expected[ancestor] += D(500)
        for pct in levels:
            if not ancestor:
                break
            # Referral % of the check amount (the program's default referral base).
            expected[ancestor] += q(amount * pct / 100)
            ancestor = parent.get(ancestor)
        spent[client_id] += amount
        bought.add(client_id)
    bad_ledger = sum(1 for pk, bal in clients.items() if bal != (ledger.get(pk) or 0))
    bad_expected = sum(1 for pk, bal in clients.items() if bal != q(expected[pk]) or bal < 0)
    return len(clients), bad_ledger, bad_expected


def pgbench_tps(url: str, clients: int, seconds: int) -> float | None:
    """The floor in the same run: pgbench TPC-B (scale 10) with `clients` clients on a scratch
    database next to the bench's (None on SQLite or without pgbench)."""
    import re
    import shutil
    import subprocess

    if url.startswith("sqlite") or shutil.which("pgbench") is None:
        return None
    scratch = f"{url}_pgbench"
    recreate_database(scratch)
    subprocess.run(["pgbench", "-i", "-q", "-s", "10", scratch], check=True, capture_output=True)
    run = subprocess.run(
        ["pgbench", "-c", str(clients), "-j", str(clients), "-T", str(seconds), scratch],
        check=True,
        capture_output=True,
        text=True,
    )
    found = re.search(r"tps = ([0-9.]+)", run.stdout)
    return float(found.group(1)) if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--purchases", type=int, default=6000)
    parser.add_argument("--chains", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--modes", default="single,batch")
    parser.add_argument(
        "--check-growth",
        type=int,
        default=None,
        metavar="AMOUNT",
        help="add an active check-growth campaign for checks ≥ AMOUNT (the hook at work)",
    )
    parser.add_argument(
        "--without-hooks",
        action="store_true",
        help="skip the campaigns' after-purchase hook (measures the engine alone)",
    )
    parser.add_argument(
        "--pgbench-seconds", type=int, default=20, help="peer run length (0: no peer)"
    )
    args = parser.parse_args()
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if args.without_hooks:
        from loyalty import events

        # No reactions to recorded purchases (inherited by the forked workers).
        for reaction in events.event_reactions(events.PURCHASES_RECORDED):
            events.event_unsubscribe(events.PURCHASES_RECORDED, reaction)
    t0 = time.time()
    merchant, buyers = build(args.chains)
    if args.check_growth:
        add_check_growth(merchant, args.check_growth)
        from loyalty.tasks import delivery

        # Messages are delivered by another worker in production; the bench measures the
        # purchase and the issuance, not the console printing them (inherited by workers).
        delivery.enqueue_deliveries = lambda ids: None
    hooks = "off" if args.without_hooks else "on"
    if not args.without_hooks:
        hooks += (
            f", check-growth campaign from {args.check_growth}"
            if args.check_growth
            else ", no check-growth campaign"
        )
    print(
        f"database: {connection.vendor}; {args.chains} chains of 4 clients; "
        f"built and joined in {time.time() - t0:.1f} s; {args.workers} workers; "
        f"campaign hooks {hooks}"
    )
    count, sql = statements_per_purchase(merchant, buyers)
    print(f"one purchase (3-level chain, hook {hooks}): {count} statements")
    for line in sql:
        print(f"    {line}")
    results = []
    for n, mode in enumerate(args.modes.split(",")):
        rate, elapsed = run_mode(
            mode, merchant, buyers, args.purchases, args.workers, args.batch, seed=n + 1
        )
        checked, bad_ledger, bad_expected = discrepancies(merchant)
        label = mode if mode == "single" else f"batch of {args.batch}"
        worker_cpu, server_cpu = run_mode.cpu
        print(
            f"{label:>12}: {args.purchases} purchases in {elapsed:.2f} s = {rate:.0f}/s; "
            f"{checked} clients checked: {bad_ledger} cached≠ledger, {bad_expected} ≠expected; "
            f"CPU per purchase: workers {worker_cpu * 1000:.2f} ms, PostgreSQL backends "
            f"{server_cpu * 1000:.2f} ms; load average {os.getloadavg()[0]:.1f}"
        )
        results.append((mode, rate, bad_ledger + bad_expected, worker_cpu, server_cpu))
    peer = None
    if args.pgbench_seconds:
        connection.close()
        peer = pgbench_tps(args.database_url, args.workers, args.pgbench_seconds)
    if peer:
        print(f"peer: pgbench TPC-B, scale 10, {args.workers} clients: {peer:.0f} tps")
    tag = f"{connection.vendor}_{args.workers}w" + ("_nohooks" if args.without_hooks else "")
    tag += "_checkgrowth" if args.check_growth and not args.without_hooks else ""
    print(f"RESULT purchases_statements_{tag} {count} statements/purchase")
    for mode, rate, bad, worker_cpu, server_cpu in results:
        print(f"RESULT purchases_{mode}_{tag} {rate:.0f} purchases/s")
        print(f"RESULT purchases_{mode}_{tag}_worker_cpu {worker_cpu * 1000:.2f} ms/purchase")
        print(f"RESULT purchases_{mode}_{tag}_postgresql_cpu {server_cpu * 1000:.2f} ms/purchase")
        print(f"RESULT purchases_{mode}_{tag}_discrepancies {bad} clients")
        if peer:
            print(f"RESULT purchases_{mode}_{tag}_ratio_to_pgbench {rate / peer:.2f} x")
    if peer:
        print(f"RESULT purchases_peer_pgbench_tpcb_{args.workers}c {peer:.0f} tps")


if __name__ == "__main__":
    main()
