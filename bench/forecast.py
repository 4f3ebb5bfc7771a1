"""The program forecast on 100 000 and 1 000 000 purchases.

    .venv/bin/python bench/forecast.py [--sizes 100000,1000000] [--clients-per 10]

Seeds its own database — a temporary SQLite file by default; the PostgreSQL database named by
DATABASE_URL when it is set (it is recreated, so point it at a scratch database) — with one
merchant per size: `size / clients-per` clients (every fifth referred by an earlier one, so
chains reach three levels; birthdays on all), `size` card purchases over the last 12 months
(checks of 300–5 000, a tenth with promo items, a twentieth in installments) and active
birthday and win-back certificate campaigns. Then it times `forecast_run` with one draft
(three tiers, welcome points, one-time bonus and three referral levels, expiry after 6 months)
beside the previous direct discount, from the streamed read to the figures.
Prints the CPU time of this process and of the forked process that replays the second group of
members, the load average, then `RESULT forecast_<size> <seconds> s` (wall time)."""

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup(url: str | None) -> None:
    if url:
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = url
    else:
        path = Path(tempfile.mkdtemp()) / "forecast.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


DRAFT = {
    "welcome_points": "300",
    "points_expiry_months": 6,
    "referral_bonus_points": "200",
    "referral_level1_percent": "3",
    "referral_level2_percent": "2",
    "referral_level3_percent": "1",
    "tiers": [
        {
            "name": "Silver",
            "cashback_percent": "3",
            "max_redemption_percent": "20",
            "spend_threshold": "0",
        },
        {
            "name": "Gold",
            "cashback_percent": "5",
            "max_redemption_percent": "30",
            "spend_threshold": "20000",
        },
        {
            "name": "Platinum",
            "cashback_percent": "7",
            "max_redemption_percent": "50",
            "spend_threshold": "60000",
        },
    ],
}


def seed(size: int, clients_per: int):
    from django.db import connection, transaction

    from crm.models import Client
    from loyalty.models import Campaign, Purchase
    from onboarding.models import Merchant

    rng = random.Random(size)
    merchant = Merchant.objects.create(
        name=f"Forecast {size}",
        slug=f"forecast-{size}",
        time_zone="Europe/Moscow",
        previous_discount_percent=Decimal(7),
    )
    n_clients = max(size // clients_per, 1)
    with transaction.atomic():
        Client.objects.bulk_create(
            [
                Client(
                    merchant=merchant,
                    phone=f"+7900{size % 7}{i:06d}",
                    birthday=datetime(1970 + i % 40, 1 + i % 12, 1 + i % 28).date(),
                )
                for i in range(n_clients)
            ],
            batch_size=5000,
        )
        ids = list(
            Client.objects.filter(merchant=merchant).order_by("pk").values_list("pk", flat=True)
        )
        table = connection.ops.quote_name(Client._meta.db_table)
        pairs = [(ids[rng.randrange(n)], ids[n]) for n in range(5, len(ids), 5)]
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET referred_by_id = %s WHERE id = %s", pairs)
        for kind, extra in (
            ("birthday", {"days_before": 7}),
            ("winback", {"days_after_last_purchase": 90}),
        ):
            Campaign.objects.create(
                merchant=merchant,
                kind=kind,
                name=kind,
                reward_form="certificate",
                reward_points=Decimal(500),
                certificate_valid_days=14,
                redemption_cap_percent=Decimal(30),
                channel="console",
                **extra,
            )
    now = datetime.now(UTC)
    columns = (
        "merchant_id",
        "client_id",
        "source",
        "occurred_at",
        "amount",
        "excluded_amount",
        "points_redeemed",
        "certificate_redeemed",
        "paid_money",
        "payment_type",
        "by_phone",
        "points_accrued",
        "refunded_amount",
        "review_reason",
        "content_key",
        "created_at",
    )
    table = connection.ops.quote_name(Purchase._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    rows = []
    for _n in range(size):
        amount = Decimal(rng.randrange(300, 5000))
        excluded = Decimal(rng.randrange(0, int(amount) // 2)) if rng.random() < 0.1 else Decimal(0)
        payment = "installment" if rng.random() < 0.05 else "card"
        at = now - timedelta(seconds=rng.randrange(1, 364 * 86400))
        rows.append(
            (
                merchant.pk,
                ids[rng.randrange(n_clients)],
                "manual",
                at,
                amount,
                excluded,
                0,
                0,
                amount,
                payment,
                False,
                0,
                0,
                "",
                "",
                now,
            )
        )
        if len(rows) == 20000:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            rows = []
    if rows:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return merchant


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the forecast's forked group)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--clients-per", type=int, default=10)
    args = parser.parse_args()
    setup(os.environ.get("DATABASE_URL"))
    from django.db import connection

    from loyalty.forecast.drafts import draft_save
    from loyalty.forecast.service import forecast_run

    print(f"database: {connection.vendor}")
    for size in [int(s) for s in args.sizes.split(",")]:
        t = time.perf_counter()
        merchant = seed(size, args.clients_per)
        print(f"seeded {size} purchases in {time.perf_counter() - t:.1f} s")
        draft = draft_save(merchant=merchant, name="Three tiers", settings=DRAFT)
        t, cpu, forked = time.perf_counter(), time.process_time(), children_cpu()
        fc = forecast_run(merchant=merchant, drafts=[draft], months=12)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        forked = children_cpu() - forked
        p = fc["programs"][0]
        print(
            f"checks {fc['checks']}, members {p['members']}, actual discount "
            f"{p['actual_discount_percent']}%, liability {p['liability_end']}, "
            f"referral by level {p['referral_by_level']}"
        )
        # On a shared machine the wall time grows with the load; the process's own CPU time
        # (the database server's work on PostgreSQL aside) shows what the forecast costs.
        print(
            f"cpu {cpu:.2f} s here + {forked:.2f} s in the forked group, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        print(f"RESULT forecast_{size} {elapsed:.2f} s", flush=True)


if __name__ == "__main__":
    main()
