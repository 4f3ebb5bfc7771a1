"""POS sales through HTTP: Evotor documents → gunicorn (4 workers) → the engine.

    .venv/bin/python bench/pos_webhooks.py [--database-url URL] [--documents 6000]
                                           [--senders 6] [--generator lanes|processes]
                                           [--gunicorn-workers 4] [--port 8170]
                                           [--chains 1500] [--refunds 0.1] [--peer-purchases 3000]
                                           [--gunicorn-options "--worker-class gthread --threads 2"]

Builds the purchases bench's merchant (5 tiers, welcome 3 000, referral 500 + 5/2/1 % over
3-level chains, every buyer joined), connects an Evotor store and a cashier, starts
`gunicorn config.wsgi` with `--gunicorn-workers` sync workers on 127.0.0.1:`--port`, and sends
`--documents` Evotor documents over `--senders` connections in flight from one load-generator
process on the same machine (`--generator processes`: a process per sender; `http_sender`):
sales with two positions (one a promo item), paid by card, cash or partly in points, whose
buyer is a known member (phone in a local spelling), a new phone (enrolled at the till) or
nobody; and, for a `--refunds` share, a PAYBACK of all positions of a sale the same sender
sent earlier.

Before the run it prints the SQL statements one sale costs through the view (Django's test
client in this process, the program already cached; savepoints excluded). After the run it
checks: every answer 200 "accepted"; one purchase per sale, one refund per PAYBACK, one event
row per document; for every client, cached balance = ledger sum and ≥ 0; for every refunded
sale, the ledger rows of the sale and its refund net to 0 (referral rewards included). The
peer, in the same run: `purchase_record` called directly by 4 processes (the purchases bench's
single mode) on the same buyers.

It also prints the CPU per document of the gunicorn processes (master and workers, from
/proc, counted once every worker has loaded the application: start-up is not a document's
cost), of the PostgreSQL server processes serving them and of the load generator, with the
load average at the start and the end: on a shared machine the rate moves with the load, the
CPU per document much less.

The database (default PostgreSQL `bench_pos_webhooks` on 127.0.0.1) is recreated each run.

Over 420 lines: one measurement, whose parts — the merchant built, gunicorn started, the
documents sent, the discrepancy check — share the run's state and must stay in step (a document
the generator sends is what the check verifies); reading the processes' CPU is `procstats`'s,
the HTTP requests sent and their answers read `http_sender`'s.
"""

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_sender import lanes_send, process_send, request_bytes  # noqa: E402
from procstats import backend_pids, cpu_seconds, load, with_children  # noqa: E402
from purchases import build, recreate_database, run_mode, setup_django  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_pos_webhooks"
STORE = "20240713-774A-4B1C-80A1-9D2B8C7E6F50"
USER = "01-000000000123456"
CASHIER = "20240713-EEEE-4000-8000-000000000001"
TOKEN = "bench-user-token-0123456789abcdef"
APP_TOKEN, APP_ID = "bench-app-token", "9a0b1c2d-0000-4000-8000-00000000a99"
PROBES = 3  # sales sent through the test client to count statements
PATH = f"/pos/evotor/api/v1/inventories/stores/{STORE}/documents"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-Evotor-User-Id": USER,
    "Content-Type": "application/json",
}


def connect_store(merchant) -> None:
    from loyalty.pos.evotor import token_hash
    from onboarding.models import Branch, StaffMember

    merchant.evotor_user_id = USER
    merchant.evotor_token_hash = token_hash(TOKEN)
    merchant.save()
    Branch.objects.create(merchant=merchant, name="Store", pos_store_id=STORE.lower())
    StaffMember.objects.create(merchant=merchant, full_name="Cashier", pos_employee_id=CASHIER)


def local_spelling(phone: str, rng: random.Random) -> str:
    digits = phone[2:]  # +7XXXXXXXXXX → XXXXXXXXXX
    return rng.choice(
        [
            phone,
            f"8{digits}",
            f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        ]
    )


def positions(rng: random.Random) -> list[dict]:
    regular = rng.choice([1500, 4000, 9000, 18000])
    promo = rng.choice([300, 800])
    return [
        {"product_id": "p-1", "product_name": "Item", "quantity": 1, "result_sum": regular},
        {
            "product_id": "p-2",
            "product_name": "Promo item",
            "quantity": 2,
            "result_sum": promo,
            "position_discount": {"discount_sum": 100},
        },
    ]


def sale(doc_id: str, at: int, phone: str | None, rng: random.Random) -> dict:
    lines = positions(rng)
    total = sum(line["result_sum"] for line in lines)
    points = 50 if phone and rng.random() < 0.3 else 0
    kind = rng.choice(["ELECTRON", "CASH"])
    payments = [{"id": f"{doc_id}-1", "sum": total - points, "type": kind}]
    if points:
        payments.append(
            {
                "id": f"{doc_id}-2",
                "sum": points,
                "type": "ELECTRON",
                "app_payment": {"app_id": APP_ID},
            }
        )
    body = {"positions": lines, "payments": payments, "result_sum": total}
    if phone:
        body["customer_phone"] = phone
    return {
        "id": doc_id,
        "type": "SELL",
        "store_id": STORE,
        "user_id": USER,
        "close_user_id": CASHIER,
        "close_date": f"2025-03-{1 + at // 86400 % 28:02d}T{at // 3600 % 24:02d}:"
        f"{at // 60 % 60:02d}:{at % 60:02d}.000+0000",
        "time_zone_offset": 25200000,
        "version": "V2",
        "body": body,
    }


def payback(doc_id: str, base: dict, at: int) -> dict:
    lines = base["body"]["positions"]
    total = sum(line["result_sum"] for line in lines)
    return {
        "id": doc_id,
        "type": "PAYBACK",
        "store_id": STORE,
        "user_id": USER,
        "close_date": base["close_date"][:11] + f"{at // 3600 % 24:02d}:59:59.000+0000",
        "time_zone_offset": 25200000,
        "version": "V2",
        "body": {
            "base_document_id": base["id"],
            "positions": [
                {
                    "product_id": ln["product_id"],
                    "quantity": ln["quantity"],
                    "result_sum": ln["result_sum"],
                }
                for ln in lines
            ],
            "payments": [{"id": f"{doc_id}-1", "sum": total, "type": "ELECTRON"}],
            "result_sum": total,
        },
    }


def documents(n: int, senders: int, phones: list[str], refund_share: float, seed: int):
    """Per sender, its documents in sending order; refunds follow their sale."""
    rng = random.Random(seed)
    plans = [[] for _ in range(senders)]
    fresh = 0
    for k in range(n):
        plan = plans[k % senders]
        sales = [d for d in plan if d["type"] == "SELL" and not d.get("_refunded")]
        if sales and rng.random() < refund_share:
            base = rng.choice(sales)
            base["_refunded"] = True
            plan.append(payback(f"refund-{k}", base, k))
            continue
        roll = rng.random()
        if roll < 0.7:
            phone = local_spelling(rng.choice(phones), rng)
        elif roll < 0.8:
            fresh += 1
            phone = f"+7999{fresh:07d}"
        else:
            phone = None
        plan.append(sale(f"sale-{k}", k, phone, rng))
    return [
        [json.dumps({k: v for k, v in d.items() if k != "_refunded"}).encode() for d in plan]
        for plan in plans
    ]


def serve(url: str, port: int, workers: int, options: str = "") -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EVOTOR_APP_TOKEN": APP_TOKEN,
        "EVOTOR_APP_ID": APP_ID,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("CELERY_BROKER_URL", None)
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            *options.split(),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/pos/poster/")
            conn.getresponse().read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.1)
    raise SystemExit("gunicorn did not answer in 60 s")


def generator_cpu() -> float:
    """CPU seconds of this process and its finished children (the load generator's)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def send(generator: str, port: int, plans: list[list[bytes]]) -> list[tuple]:
    """Every plan's documents through `http_sender`: one process keeping a connection per
    plan in flight (lanes), or a process per plan; (start, end, count, answers) spans."""
    if generator == "lanes":
        requests = [
            [request_bytes("PUT", PATH, HEADERS, body, f"127.0.0.1:{port}") for body in plan]
            for plan in plans
        ]
        start, end, answers = lanes_send(port, requests)
        return [(start, end, sum(map(len, plans)), answers)]
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(len(plans)), ctx.Queue()
    procs = [
        ctx.Process(target=process_send, args=(port, PATH, HEADERS, plan, barrier, out))
        for plan in plans
    ]
    for proc in procs:
        proc.start()
    spans = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    return spans


def workers_settled(master: int) -> float:
    """The gunicorn processes' CPU seconds once every worker has loaded the application: the
    first answer comes from one worker while the others may still be importing (≈ 1 s of CPU
    each), which is start-up, not the cost of the documents."""
    before = sum(cpu_seconds(pid) for pid in with_children(master))
    for _ in range(120):
        time.sleep(0.5)
        now = sum(cpu_seconds(pid) for pid in with_children(master))
        if now - before < 0.02:
            return now
        before = now
    return before


def statements_per_sale(phone: str) -> tuple[int, int, list[str]]:
    """(statements, of them BEGIN/COMMIT, the statements) of one steady-state sale through
    the view: the same shape as two warm-up sales, so the program is cached and the engine's
    statements are prepared; savepoints (none outside a test) excluded."""
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext, override_settings

    http = HttpClient()
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Evotor-User-Id": USER}

    def put(doc_id):
        body = json.dumps(sale(doc_id, 1, phone, random.Random(0)))
        return http.put(PATH, data=body, content_type="application/json", headers=headers)

    with override_settings(EVOTOR_APP_TOKEN=APP_TOKEN, EVOTOR_APP_ID=APP_ID, ALLOWED_HOSTS=["*"]):
        put("probe-warm-up-1")
        put("probe-warm-up-2")
        with CaptureQueriesContext(connection) as ctx:
            response = put("probe")
    assert response.json()["status"] == "accepted", response.content
    sql = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    brackets = sum(1 for s in sql if s in ("BEGIN", "COMMIT"))
    return len(sql), brackets, [s[:90] for s in sql]


def checks(merchant, sales: int, refunds: int) -> dict[str, int]:
    from django.db.models import Q, Sum
    from django.db.models.functions import Coalesce

    from crm.models import Client
    from loyalty.models import LedgerEntry, Purchase, Refund
    from loyalty.pos.models import PosEvent

    pos = Purchase.objects.filter(merchant=merchant, source="evotor")
    ledger = dict(
        LedgerEntry.objects.filter(merchant=merchant)
        .values("client_id")
        .annotate(s=Sum("points"))
        .values_list("client_id", "s")
    )
    balances = Client.objects.filter(merchant=merchant).values_list("pk", "balance")
    refunded = Refund.objects.filter(merchant=merchant).values("purchase_id")
    net = (
        LedgerEntry.objects.filter(
            Q(purchase_id__in=refunded) | Q(refund__purchase_id__in=refunded)
        )
        .annotate(sale=Coalesce("refund__purchase_id", "purchase_id"))
        .values("sale")
        .annotate(s=Sum("points"))
        .exclude(s=0)
    )
    return {
        "purchases_missing": abs(pos.count() - sales),
        "refunds_missing": abs(Refund.objects.filter(merchant=merchant).count() - refunds),
        "events_missing": abs(PosEvent.objects.filter(merchant=merchant).count() - sales - refunds),
        "cached_ne_ledger": sum(1 for pk, b in balances if b != (ledger.get(pk) or 0)),
        "negative": sum(1 for _pk, b in balances if b < 0),
        "refund_not_netted": net.count(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--documents", type=int, default=6000)
    parser.add_argument("--senders", type=int, default=6, help="connections in flight")
    parser.add_argument(
        "--generator",
        choices=("lanes", "processes"),
        default="lanes",
        help="one process with a connection per sender, or a process per sender",
    )
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8170)
    parser.add_argument(
        "--gunicorn-options",
        default="",
        help='more gunicorn options, e.g. "--worker-class gthread --threads 2"',
    )
    parser.add_argument("--chains", type=int, default=1500)
    parser.add_argument("--refunds", type=float, default=0.1)
    parser.add_argument("--peer-purchases", type=int, default=3000)
    args = parser.parse_args()
    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connections

    from crm.models import Client

    call_command("migrate", verbosity=0)
    t0 = time.time()
    merchant, buyers = build(args.chains)
    connect_store(merchant)
    phones = list(Client.objects.filter(pk__in=buyers).values_list("phone", flat=True))
    print(f"{args.chains} chains of 4 clients built and joined in {time.time() - t0:.1f} s")
    count, brackets, sql = statements_per_sale(phones[0])
    print(f"one Evotor sale through the view: {count} statements, {brackets} of them BEGIN/COMMIT")
    for line in sql:
        print(f"    {line}")
    plans = documents(args.documents, args.senders, phones, args.refunds, seed=1)
    refunds = sum(1 for plan in plans for body in plan if b'"PAYBACK"' in body)
    sales = args.documents - refunds
    connections.close_all()
    server = serve(args.database_url, args.port, args.gunicorn_workers, args.gunicorn_options)
    try:
        cpu_start = workers_settled(server.pid)
        senders_start = generator_cpu()
        load_start = load()
        spans = send(args.generator, args.port, plans)
        load_end = load()
        web_cpu = sum(cpu_seconds(pid) for pid in with_children(server.pid)) - cpu_start
        db_cpu = sum(cpu_seconds(pid) for pid in backend_pids(args.database_url))
        senders_cpu = generator_cpu() - senders_start
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    elapsed = max(s[1] for s in spans) - min(s[0] for s in spans)
    answers: dict[str, int] = {}
    for span in spans:
        for status, n in span[3].items():
            answers[status] = answers.get(status, 0) + n
    rate = args.documents / elapsed
    print(
        f"HTTP: {args.documents} documents ({sales} sales, {refunds} refunds) in {elapsed:.2f} s "
        f"= {rate:.0f}/s with {args.gunicorn_workers} gunicorn workers, {args.senders} senders "
        f"({args.generator}), gunicorn options {args.gunicorn_options or '(none)'}; "
        f"answers {answers}"
    )
    per = 1000 / args.documents
    print(
        f"CPU per document: gunicorn {web_cpu * per:.2f} ms, PostgreSQL backends "
        f"{db_cpu * per:.2f} ms, load generator {senders_cpu * per:.2f} ms; "
        f"load average {load_start} at the start, {load_end} at the end (2 cores here: "
        f"{os.cpu_count()})"
    )
    found = checks(merchant, sales + PROBES, refunds)
    found["not_accepted"] = args.documents - answers.get("accepted", 0)
    print("checks:", ", ".join(f"{k} {v}" for k, v in found.items()))
    peer, peer_elapsed = run_mode("single", merchant, buyers, args.peer_purchases, 4, 50, seed=7)
    print(
        f"peer: purchase_record, 4 processes, {args.peer_purchases} checks in {peer_elapsed:.2f} s"
    )
    print(f"RESULT pos_webhooks_sales_per_s {rate:.0f} sales/s")
    print(f"RESULT pos_webhooks_statements_per_sale {count - brackets} statements")
    print(f"RESULT pos_webhooks_statements_per_sale_with_begin_commit {count} statements")
    print(f"RESULT pos_webhooks_discrepancies {sum(found.values())} documents")
    print(f"RESULT pos_webhooks_gunicorn_cpu_per_document {web_cpu * per:.2f} ms")
    print(f"RESULT pos_webhooks_postgresql_cpu_per_document {db_cpu * per:.2f} ms")
    print(f"RESULT pos_webhooks_server_cpu_per_document {(web_cpu + db_cpu) * per:.2f} ms")
    print(f"RESULT pos_webhooks_peer_engine_single_per_s {peer:.0f} purchases/s")
    print(f"RESULT pos_webhooks_ratio_to_engine {rate / peer:.2f} x")


if __name__ == "__main__":
    main()
