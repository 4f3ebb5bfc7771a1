"""Client import benchmark: the product's importer vs stock django-import-export.

    .venv/bin/python bench/import_clients.py --rows 100000 [--db sqlite|postgres] [--stock-rows 5000]

Generates a realistic file (Russian headers, `;`-separated UTF-8 with BOM, mixed phone spellings,
2% duplicates, 1% invalid rows, an unknown column), imports it end to end with
`manage.py import_clients`'s service in a child process (parse, normalise, dedupe, write) and
prints rows/s and that child's peak RSS. Then times, each in its own child and on the first
`--stock-rows` rows, a stock `ModelResource` with the library's defaults and the library's bulk
mode (`use_bulk`, `batch_size`, `skip_diff`), and prints the speed ratios. Each child gets a fresh
merchant, so every run creates clients. PostgreSQL uses the database `bench_import` on
127.0.0.1 (recreated each run); SQLite a temporary file.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgres://postgres@127.0.0.1:5432/bench_import"

PREFIXES = [901, 903, 905, 909, 912, 913, 915, 916, 917, 919, 921, 925, 926, 929, 950, 960]
PREFIXES += [961, 962, 963, 964, 965, 977, 985, 987, 999]
FIRST = ["Анна", "Мария", "Елена", "Ольга", "Иван", "Пётр", "Алексей", "Дмитрий", "Сергей", "Юлия"]
LAST = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов"]
HEADER = [
    "Номер телефона",
    "ФИО",
    "ДР",
    "E-mail",
    "Пол",
    "Бонусы",
    "Карта",
    "Источник",
    "Комментарий",
]
BAD_PHONES = ["12345", "8 800", "не указан", "+7 (013) 123", "0000000000", "+44 20"]


def _phone_digits(i: int) -> str:
    prefix = PREFIXES[i % len(PREFIXES)]
    return f"{prefix}{(i // len(PREFIXES)) * 7919 % 10_000_000:07d}"


def _spell(d: str, rnd: random.Random) -> str:
    k = rnd.randrange(6)
    if k == 0:
        return f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"
    if k == 1:
        return f"8 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}"
    if k == 2:
        return d
    if k == 3:
        return f"'+7{d}"
    if k == 4:
        return f"7{d}.0"
    return f"8({d[:3]}){d[3:6]}-{d[6:8]}-{d[8:]}"


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(HEADER) + "\r\n")
        for i in range(rows):
            r = rnd.random()
            if r < 0.01:
                phone = rnd.choice(BAD_PHONES)
            elif r < 0.03 and i > 10:
                phone = _spell(_phone_digits(rnd.randrange(i)), rnd)  # a duplicate
            else:
                phone = _spell(_phone_digits(i), rnd)
            name = f"{rnd.choice(LAST)} {rnd.choice(FIRST)}"
            b = rnd.random()
            day, month, year = rnd.randint(1, 28), rnd.randint(1, 12), rnd.randint(1950, 2005)
            birthday = (
                f"{day:02d}.{month:02d}.{year}"
                if b < 0.6
                else (f"{year}-{month:02d}-{day:02d}" if b < 0.8 else "")
            )
            email = f"User{i}@Example.com" if rnd.random() < 0.3 else ""
            gender = rnd.choice(["м", "ж", "", "М", "Ж"])
            points = (
                f"{rnd.randint(1, 5000)},{rnd.randint(0, 99):02d}" if rnd.random() < 0.3 else ""
            )
            card = f"{100000 + i}" if rnd.random() < 0.2 else ""
            source = rnd.choice(["", "", "Instagram", "2ГИС", "Сайт"])
            out.write(f"{phone};{name};{birthday};{email};{gender};{points};{card};{source};\r\n")


# --- children -----------------------------------------------------------------------------


def _django(db_url: str):
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def child_prepare(db_url: str) -> dict:
    _django(db_url)
    from django.core.management import call_command

    from onboarding.models import Merchant

    call_command("migrate", verbosity=0)
    for slug in ("bench", "bench-stock", "bench-bulk"):
        Merchant.objects.get_or_create(slug=slug, defaults={"name": slug, "country": "RU"})
    return {}


def child_import(db_url: str, path: str) -> dict:
    _django(db_url)
    from crm.importing import clients_import
    from onboarding.models import Merchant

    merchant = Merchant.objects.get(slug="bench")
    started = time.perf_counter()
    report = clients_import(merchant=merchant, path=path)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": report.rows_total,
        "created": report.created,
        "skipped": report.skipped,
        "rejected": report.rejected,
        "opening_balances": report.opening_balances,
    }


def child_stock(db_url: str, path: str, rows: int, bulk: bool) -> dict:
    """Stock django-import-export on the same rows, with its own column names: the phone as
    E.164 where ours found one (the stock resource does not normalise), ISO birthdays."""
    _django(db_url)
    import tablib
    from import_export import resources

    from crm.importing.cleaning import parse_birthday
    from crm.models import Client
    from crm.phones import phone_or_none
    from onboarding.models import Merchant

    merchant = Merchant.objects.get(slug="bench-bulk" if bulk else "bench-stock")
    dataset = tablib.Dataset(headers=["merchant", "phone", "full_name", "birthday", "email"])
    import csv as _csv

    today = merchant.local_today()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = _csv.reader(handle, delimiter=";")
        next(reader)
        for i, row in enumerate(reader):
            if i >= rows:
                break
            try:
                birthday = parse_birthday(row[2], today=today)
            except ValueError:
                birthday = None
            phone = phone_or_none(row[0], "RU") or row[0][:20]
            dataset.append(
                [merchant.pk, phone, row[1], birthday.isoformat() if birthday else "", row[3]]
            )

    class StockResource(resources.ModelResource):
        class Meta:
            model = Client
            fields = ("merchant", "phone", "full_name", "birthday", "email")
            import_id_fields = ("merchant", "phone")

    class BulkResource(StockResource):
        class Meta(StockResource.Meta):
            use_bulk = True
            batch_size = 1000
            skip_diff = True

    resource = BulkResource() if bulk else StockResource()
    started = time.perf_counter()
    result = resource.import_data(dataset, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(dataset), "errors": len(result.row_errors())}


def _run_child(args: list[str]) -> tuple[dict, float]:
    """Run this script as a child; return its JSON answer and the peak RSS (MB) of the
    children so far (Linux reports KB)."""
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {args[0]} failed")
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _fresh_postgres() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS bench_import")
        c.execute("CREATE DATABASE bench_import")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("child-"):
        kind, db_url, *rest = sys.argv[1:]
        if kind == "child-prepare":
            answer = child_prepare(db_url)
        elif kind == "child-import":
            answer = child_import(db_url, rest[0])
        else:
            answer = child_stock(db_url, rest[0], int(rest[1]), kind == "child-bulk")
        print(json.dumps(answer))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--stock-rows", type=int, default=5000, help="0 skips the library runs")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = workdir / "clients.csv"
    started = time.perf_counter()
    generate(path, args.rows)
    print(
        f"generated {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s: {path}"
    )
    if args.db == "postgres":
        _fresh_postgres()
        db_url = PG_URL
    else:
        db_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    _run_child(["child-prepare", db_url])

    ours, peak = _run_child(["child-import", db_url, str(path)])
    ours_rate = ours["rows"] / ours["seconds"]
    print(
        f"product importer: {ours['rows']} rows in {ours['seconds']:.2f} s = {ours_rate:,.0f} rows/s, "
        f"peak RSS {peak:.0f} MB (created {ours['created']}, skipped {ours['skipped']}, "
        f"rejected {ours['rejected']}, opening balances {ours['opening_balances']})"
    )
    print(f"RESULT import_{args.db}_{args.rows}_seconds {ours['seconds']:.2f} s")
    print(f"RESULT import_{args.db}_{args.rows}_rows_per_s {ours_rate:.0f} rows/s")
    print(f"RESULT import_{args.db}_{args.rows}_peak_rss {peak:.0f} MB")
    if args.stock_rows:
        stock, _ = _run_child(["child-stock", db_url, str(path), str(args.stock_rows)])
        bulk, _ = _run_child(["child-bulk", db_url, str(path), str(args.stock_rows)])
        stock_rate = stock["rows"] / stock["seconds"]
        bulk_rate = bulk["rows"] / bulk["seconds"]
        print(
            f"stock ModelResource (defaults): {stock['rows']} rows in {stock['seconds']:.2f} s "
            f"= {stock_rate:,.0f} rows/s; bulk mode: {bulk['seconds']:.2f} s = {bulk_rate:,.0f} rows/s"
        )
        print(f"RESULT stock_resource_{args.db}_rows_per_s {stock_rate:.0f} rows/s")
        print(f"RESULT bulk_resource_{args.db}_rows_per_s {bulk_rate:.0f} rows/s")
        print(f"RESULT speedup_vs_stock_{args.db} {ours_rate / stock_rate:.1f} x")
        print(f"RESULT speedup_vs_bulk_{args.db} {ours_rate / bulk_rate:.1f} x")


if __name__ == "__main__":
    main()
