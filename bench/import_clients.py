"""Client import benchmark: the product's importer against django-import-export's bulk mode,
tuned as a Django engineer would tune it for a new client base.

    .venv/bin/python bench/import_clients.py --rows 100000 [--db sqlite|postgres] [--no-peer]

Generates a realistic file (Russian headers, `;`-separated UTF-8 with BOM, mixed phone spellings,
2% duplicates, 1% invalid rows, an unknown column, 30% with points), then times two whole
processes on the same file, one after the other, each into a fresh merchant:

- ours: `manage.py import_clients FILE --merchant bench` — start-up, parse, clean, dedupe, write,
  opening balances through the ledger, the import run's record;
- the peer: a `ModelResource` with `use_bulk = True`, `batch_size = 1000`, `skip_diff = True`,
  `force_init_instance = True` (no look-up per row), the merchant set in `init_instance`, in-file
  duplicates and invalid phones skipped in `skip_row`, phones normalised beforehand with the
  product's own normaliser, the whole file through one `import_data` (one transaction). It does
  less than ours (no e-mail validation, no opening balances, no run record).

Each is timed from spawn to exit (wall) with its peak RSS (`ru_maxrss` from `wait4`) and the peak
of the sum of PSS over the process and its children (sampled from /proc every 50 ms: the
importer may clean rows in a second process). PostgreSQL uses the database `bench_import` (or
`--pg-db NAME`) on 127.0.0.1, recreated each run; SQLite a temporary file.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = "postgres://postgres@127.0.0.1:5432"

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
    for slug in ("bench", "bench-peer"):
        Merchant.objects.get_or_create(slug=slug, defaults={"name": slug, "country": "RU"})
    return {}


def child_count(db_url: str) -> dict:
    _django(db_url)
    from crm.models import Client
    from loyalty.models import LedgerEntry

    return {
        slug: {
            "clients": Client.objects.filter(merchant__slug=slug).count(),
            "ledger": LedgerEntry.objects.filter(client__merchant__slug=slug).count(),
        }
        for slug in ("bench", "bench-peer")
    }


def child_peer(db_url: str, path: str) -> dict:
    """The tuned bulk mode over the whole file, in this process."""
    _django(db_url)
    import csv

    import tablib
    from import_export import resources

    from crm.importing.cleaning import GENDERS, parse_birthday
    from crm.models import Client, ClientSource
    from crm.phones import phone_or_none
    from onboarding.models import Merchant

    merchant = Merchant.objects.get(slug="bench-peer")
    today = merchant.local_today()
    columns = ["phone", "full_name", "birthday", "email", "gender", "card_code", "source_detail"]
    dataset = tablib.Dataset(headers=columns)
    started = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for row in reader:
            try:
                birthday = parse_birthday(row[2], today=today)
            except ValueError:
                birthday = None
            dataset.append(
                [
                    phone_or_none(row[0], merchant.country) or "",
                    row[1],
                    birthday.isoformat() if birthday else "",
                    row[3].lower(),
                    GENDERS.get(row[4].lower(), ""),
                    row[6],
                    row[7],
                ]
            )
    prepared = time.perf_counter() - started

    class TunedBulkResource(resources.ModelResource):
        class Meta:
            model = Client
            fields = columns
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            force_init_instance = True

        def __init__(self):
            super().__init__()
            self.seen = set()

        def init_instance(self, row=None):
            return Client(merchant_id=merchant.pk, source=ClientSource.IMPORT, imported=True)

        def skip_row(self, instance, original, row, import_validation_errors=None):
            phone = row["phone"]
            if not phone or phone in self.seen:
                return True
            self.seen.add(phone)
            return False

    started = time.perf_counter()
    result = TunedBulkResource().import_data(dataset, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - started
    return {
        "prepare_seconds": prepared,
        "import_data_seconds": seconds,
        "rows": len(dataset),
        "errors": len(result.row_errors()) + len(result.base_errors),
        "totals": {k: v for k, v in result.totals.items() if v},
    }


# --- timing whole processes ---------------------------------------------------------------


def _tree_pss_kb(pid: int) -> int:
    """PSS (kB) of `pid` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{current}/task/{current}/children") as handle:
                todo.extend(int(c) for c in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_process(argv: list[str], env: dict) -> dict:
    """Run argv to its end: wall seconds, peak RSS (MB) of the process, peak PSS (MB) of its tree,
    its stdout (last line), CPU seconds (user + sys, children included)."""
    peak = [0]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out_file, stderr=err_file, text=True
        )
        done = threading.Event()

        def sample():
            while not done.wait(0.05):
                peak[0] = max(peak[0], _tree_pss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
        if proc.returncode:
            sys.stderr.write(out + err)
            raise SystemExit(f"{argv[1:3]} failed with {proc.returncode}")
    lines = out.strip().splitlines()
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "pss_mb": peak[0] / 1024,
        "last": lines[-1] if lines else "",
    }


def _child(args: list[str], env: dict) -> tuple[dict, dict]:
    measured = run_process([sys.executable, __file__, *args], env)
    return json.loads(measured["last"]), measured


def _fresh_postgres(name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("child-"):
        kind, db_url, *rest = sys.argv[1:]
        if kind == "child-prepare":
            answer = child_prepare(db_url)
        elif kind == "child-count":
            answer = child_count(db_url)
        else:
            answer = child_peer(db_url, rest[0])
        print(json.dumps(answer))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--no-peer", action="store_true", help="time only the product's importer")
    parser.add_argument("--pg-db", default="bench_import", help="PostgreSQL database (recreated)")
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
        _fresh_postgres(args.pg_db)
        db_url = f"{PG_SERVER}/{args.pg_db}"
    else:
        db_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    _child(["child-prepare", db_url], env)
    load = os.getloadavg()[0]

    report = workdir / "report.json"
    ours = run_process(
        [sys.executable, "manage.py", "import_clients", str(path), "--merchant", "bench"]
        + ["--report-json", str(report)],
        env,
    )
    data = json.loads(report.read_text())
    rate = data["rows_total"] / ours["seconds"]
    print(
        f"ours (manage.py import_clients, whole process): {data['rows_total']} rows in "
        f"{ours['seconds']:.2f} s = {rate:,.0f} rows/s, CPU {ours['cpu']:.2f} s, peak RSS "
        f"{ours['rss_mb']:.0f} MB, peak PSS of the process tree {ours['pss_mb']:.0f} MB "
        f"(created {data['created']}, skipped {data['skipped']}, rejected {data['rejected']}, "
        f"opening balances {data['opening_balances']}; load average before {load:.1f})"
    )
    name = f"import_{args.db}_{args.rows}"
    print(f"RESULT {name}_seconds {ours['seconds']:.2f} s")
    print(f"RESULT {name}_rows_per_s {rate:.0f} rows/s")
    print(f"RESULT {name}_cpu_seconds {ours['cpu']:.2f} s")
    print(f"RESULT {name}_peak_rss {ours['rss_mb']:.0f} MB")
    print(f"RESULT {name}_peak_tree_pss {ours['pss_mb']:.0f} MB")
    if args.no_peer:
        return
    peer_answer, peer = _child(["child-peer", db_url, str(path)], env)
    counts, _m = _child(["child-count", db_url], env)
    peer_rate = peer_answer["rows"] / peer["seconds"]
    print(
        f"peer (django-import-export bulk mode, tuned, whole process): {peer_answer['rows']} rows "
        f"in {peer['seconds']:.2f} s = {peer_rate:,.0f} rows/s (import_data "
        f"{peer_answer['import_data_seconds']:.2f} s after {peer_answer['prepare_seconds']:.2f} s "
        f"of reading and normalising), CPU {peer['cpu']:.2f} s, peak RSS {peer['rss_mb']:.0f} MB; "
        f"{peer_answer['totals']}, {peer_answer['errors']} errors"
    )
    print(f"clients written: {counts}")
    print(f"RESULT peer_bulk_{args.db}_{args.rows}_seconds {peer['seconds']:.2f} s")
    print(f"RESULT peer_bulk_{args.db}_{args.rows}_rows_per_s {peer_rate:.0f} rows/s")
    print(f"RESULT peer_bulk_{args.db}_{args.rows}_cpu_seconds {peer['cpu']:.2f} s")
    print(
        f"RESULT speedup_vs_tuned_bulk_{args.db}_{args.rows} {peer['seconds'] / ours['seconds']:.2f} x"
    )
    # On a shared machine the wall ratio follows the load; the process CPU ratio does not
    # (it leaves out the database server's own work on PostgreSQL).
    print(f"RESULT cpu_ratio_vs_tuned_bulk_{args.db}_{args.rows} {peer['cpu'] / ours['cpu']:.2f} x")


if __name__ == "__main__":
    main()
