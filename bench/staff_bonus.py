"""Staff bonus benchmark: one merchant, N card purchases over three months, 2% refunded.

    .venv/bin/python bench/staff_bonus.py [--purchases 300000] [--database-url URL]

Builds the data in a scratch database (default: a SQLite file in /tmp; pass a PostgreSQL URL
such as postgres://postgres@127.0.0.1:5432/bench_staff_bonus — it is dropped and recreated),
closes the first month, then times the open month's live report (two grouped queries) and
the closed month's frozen report, and the close itself.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare_database(url: str) -> None:
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


def build(purchases: int):
    import datetime as dt
    import random
    from decimal import Decimal

    from crm.models import Client
    from loyalty.models import Purchase, Refund
    from loyalty.program import program_for
    from onboarding.models import Branch, Merchant, StaffMember

    rng = random.Random(7)
    merchant = Merchant.objects.create(name="Bench", slug="bench", time_zone="Europe/Moscow")
    program = program_for(merchant)
    program.staff_bonus_percent = Decimal("0.1")
    program.save()
    branches = [Branch.objects.create(merchant=merchant, name=f"B{i}") for i in range(5)]
    staff = [
        StaffMember.objects.create(merchant=merchant, full_name=f"S{i}", branch=branches[i % 5])
        for i in range(50)
    ]
    Client.objects.bulk_create(
        Client(merchant=merchant, phone=f"+7913{i:07d}") for i in range(5000)
    )
    client_ids = list(Client.objects.filter(merchant=merchant).values_list("pk", flat=True))
    today = merchant.local_today()
    first = (today.replace(day=1) - dt.timedelta(days=80)).replace(day=1)
    span = (today.replace(day=1) - first).days
    batch = []
    for _i in range(purchases):
        day = first + dt.timedelta(days=rng.randrange(span))
        batch.append(
            Purchase(
                merchant=merchant,
                client_id=rng.choice(client_ids) if rng.random() < 0.8 else None,
                cashier=staff[rng.randrange(50)],
                source="demo",
                occurred_at=dt.datetime.combine(
                    day, dt.time(rng.randrange(9, 22)), tzinfo=merchant.tzinfo
                ),
                amount=Decimal(rng.randrange(500, 50000)),
                paid_money=Decimal(0),
            )
        )
        if len(batch) == 5000:
            Purchase.objects.bulk_create(batch)
            batch = []
    Purchase.objects.bulk_create(batch)
    refunds = []
    for pk, amount, occurred in (
        Purchase.objects.filter(merchant=merchant)
        .order_by("pk")
        .values_list("pk", "amount", "occurred_at")
    ):
        if rng.random() < 0.02:
            refunds.append(
                Refund(merchant=merchant, purchase_id=pk, amount=amount, occurred_at=occurred)
            )
    Refund.objects.bulk_create(refunds, batch_size=5000)
    return merchant, first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--purchases", type=int, default=300_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/bench_staff_bonus.sqlite3")
    args = parser.parse_args()
    prepare_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from onboarding import bonus

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    merchant, first = build(args.purchases)
    print(f"built {args.purchases} purchases in {time.perf_counter() - started:.1f} s")
    import datetime as dt

    second = (first + dt.timedelta(days=32)).replace(day=1)
    closed = bonus.period_for(merchant=merchant, day=first)
    started = time.perf_counter()
    bonus.bonus_period_close(merchant=merchant, period=closed)
    close_s = time.perf_counter() - started
    closed.refresh_from_db()
    open_period = bonus.period_peek(merchant=merchant, day=second)
    started = time.perf_counter()
    report = bonus.bonus_report(merchant=merchant, period=open_period)
    live_s = time.perf_counter() - started
    started = time.perf_counter()
    bonus.bonus_report(merchant=merchant, period=closed)
    frozen_s = time.perf_counter() - started
    started = time.perf_counter()
    bonus.bonus_export_xlsx(report)
    xlsx_s = time.perf_counter() - started
    engine = "postgresql" if "postgres" in args.database_url else "sqlite"
    print(
        f"{engine}: live month {report.totals.purchases_count} card purchases, "
        f"bonus {report.totals.bonus}"
    )
    print(f"RESULT staff_bonus_close_month_{engine} {close_s * 1000:.0f} ms")
    print(f"RESULT staff_bonus_live_report_{engine} {live_s * 1000:.0f} ms")
    print(f"RESULT staff_bonus_frozen_report_{engine} {frozen_s * 1000:.1f} ms")
    print(f"RESULT staff_bonus_xlsx_export_{engine} {xlsx_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
