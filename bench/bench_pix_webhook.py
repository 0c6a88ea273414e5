"""Benchmark of the PSP payment webhook (`POST /webhook/pix/<token>/pix`) and of confirmation → paid.

Two parts, each against a throwaway database, the app under gunicorn on a free loopback port:

1. **intake**: N notifications (one Pix each, unique endToEndId, 1 in 50 a repeat of the previous one) posted
   from several client processes over keep-alive connections; requests/s and latency percentiles; then, from
   the database: stored notifications == accepted requests, each repeat answered "duplicate" and stored once,
   one confirmation task per accepted request. The WAHA webhook (`bench_webhook.py`'s signed envelopes) is
   posted the same way in the same run as the baseline (`--no-baseline` skips it).
2. **confirmation** (`--paid`, on the embedded default unless DATABASE_URL says otherwise): the PSP simulator
   (in this process), a real `manage.py qcluster`, M charges with their cobv at the simulator; each one paid
   at the simulator (which posts the webhook to gunicorn), timed until the charge is paid in the database.

    .venv/bin/python bench/bench_pix_webhook.py                        # SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cobranca_bench .venv/bin/python bench/bench_pix_webhook.py
    .venv/bin/python bench/bench_pix_webhook.py --skip-intake --paid 50  # confirmation → paid, SQLite

The PostgreSQL database named in DATABASE_URL is dropped and re-created: point it at a throwaway name.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the simulator runs in this process

from _common import (
    MANAGE,
    ROOT,
    db_label,
    describe_machine,
    free_port,
    is_postgres,
    latency_summary,
    manage,
    prepare_database,
    recreate_postgres,
    server_env,
    setup_django,
    start_gunicorn,
    stop,
)
from bench_webhook import KEY as WAHA_KEY
from bench_webhook import envelope as waha_envelope

TOKEN = "bench-pix-webhook-token-0123456789abcdef"  # noqa: S105 - a throwaway bench value
PIX_PATH = f"/webhook/pix/{TOKEN}/pix"
WAHA_PATH = "/webhook/waha"


def e2eid(run: str, n: int) -> str:
    # E + ISPB (8) + yyyyMMddHHmm (12) + 11 alphanumerics: 32 characters, unique per run and number.
    return f"E60701190202612071200{run[:3]}{n:08d}"


def pix_body(run: str, n: int) -> bytes:
    item = {
        "endToEndId": e2eid(run, n),
        "txid": f"CI{n:012d}{0:012d}V001",
        "valor": "150.50",
        "horario": "2026-12-07T12:00:00.000Z",
        "chave": "pix@cobranca.example",
        "infoPagador": "pagamento da mensalidade",
    }
    return json.dumps({"pix": [item]}, separators=(",", ":")).encode()


def client_worker(args: tuple) -> dict:
    """One client process: a keep-alive connection, posts its share, returns latencies and answer kinds."""
    port, kind, run, numbers, dup_every = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for n in numbers:
        m = n - 1 if dup_every and n % dup_every == 0 and n > 0 else n
        if kind == "pix":
            path, body, headers = PIX_PATH, pix_body(run, m), {"Content-Type": "application/json"}
        else:
            path, body = WAHA_PATH, waha_envelope(run, m)
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Hmac": hmac.new(WAHA_KEY.encode(), body, hashlib.sha512).hexdigest(),
                "X-Webhook-Timestamp": str(int(time.time() * 1000)),
            }
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            statuses["connection_error"] = statuses.get("connection_error", 0) + 1
            continue
        latencies.append(time.perf_counter() - started)
        key = str(response.status)
        if response.status == 200:
            answer = json.loads(data)
            if kind == "pix":
                key = (
                    "accepted"
                    if answer.get("accepted")
                    else ("duplicate" if answer.get("duplicates") else "0")
                )
            else:
                key = answer.get("status", key)
        statuses[key] = statuses.get(key, 0) + 1
    conn.close()
    return {"latencies": latencies, "statuses": statuses}


def post_load(port: int, kind: str, run: str, total: int, clients: int, dup_every: int) -> dict:
    shares = [range(i, total, clients) for i in range(clients)]
    with mp.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(client_worker, [(port, kind, run, share, dup_every) for share in shares])
        elapsed = time.perf_counter() - started
    latencies = sorted(lat for r in results for lat in r["latencies"])
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": latency_summary(latencies, (50, 90, 99)),
        "statuses": statuses,
    }


# long-function: a benchmark's steps (setup, load, checks from the database, report) read best in order
def intake(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-pix-intake-"))
    env = server_env(
        tmp, PIX_WEBHOOK_TOKEN=TOKEN, WAHA_WEBHOOK_HMAC_KEY=WAHA_KEY, WAHA_WEBHOOK_MAX_AGE_SECONDS="900"
    )
    if is_postgres(env.get("DATABASE_URL")):
        recreate_postgres(env["DATABASE_URL"])
    else:
        env.pop("DATABASE_URL", None)
    prepare_database(env)
    port = free_port()
    server = start_gunicorn(env, port, workers=args.workers, threads=args.threads, keep_alive=30)
    try:
        run = uuid.uuid4().hex[:8]
        client_worker((port, "pix", "w" + run, range(args.warmup), 0))  # warm-up, not counted
        pix = post_load(port, "pix", run, args.requests, args.clients, args.dup_every)
        waha = None
        if args.baseline:
            client_worker((port, "waha", "w" + run, range(args.warmup), 0))
            waha = post_load(port, "waha", run, args.requests, args.clients, args.dup_every)
    finally:
        stop(server)
    setup_django(env)
    from django_q.models import OrmQ

    from billing.models import PixNotification

    stored = PixNotification.objects.filter(e2eid__contains=f"1200{run[:3]}").count()
    all_stored = PixNotification.objects.count()
    pix_tasks = sum(1 for task in OrmQ.objects.all() if task.func() == "billing.tasks.pix_confirm_task")
    accepted = pix["statuses"].get("accepted", 0)
    report = {
        "database": db_label(env),
        "gunicorn": f"{args.workers} workers × {args.threads} threads (gthread)",
        "clients": args.clients,
        "pix_webhook": pix,
        "stored_notifications": stored,
        "nothing_lost": stored == accepted,
        "duplicates_answered": pix["statuses"].get("duplicate", 0),
        "confirmation_tasks_vs_notifications": f"{pix_tasks}/{all_stored}",
    }
    if waha:
        report["waha_webhook_baseline"] = waha
        report["ratio_rps_pix_over_waha"] = round(pix["requests_per_second"] / waha["requests_per_second"], 2)
    shutil.rmtree(tmp, ignore_errors=True)
    if stored != accepted or pix_tasks != all_stored or pix["statuses"].get("connection_error"):
        report["FAILED"] = "lost or extra notifications"
    return report


# long-function: the confirmation run's steps (simulator, server, cluster, charges, timed payments) in order
def confirmation(args: argparse.Namespace) -> dict:
    from billing.pix_api.simulator.testing import running_pix_simulator

    tmp = Path(tempfile.mkdtemp(prefix="bench-pix-paid-"))
    with running_pix_simulator() as psp:
        env = server_env(
            tmp,
            PIX_PROVIDER="api_pix",
            PIX_API_BASE_URL=psp.base_url,
            PIX_OAUTH_URL=psp.oauth_url,
            PIX_CLIENT_ID=psp.client_id,
            PIX_CLIENT_SECRET=psp.client_secret,
            PIX_WEBHOOK_TOKEN=TOKEN,
            Q_WORKERS="2",
            WAHA_WEBHOOK_HMAC_KEY=WAHA_KEY,
            WAHA_BASE_URL="http://127.0.0.1:9",  # the thank-you message has nowhere to go: not measured here
        )
        if is_postgres(env.get("DATABASE_URL")):
            recreate_postgres(env["DATABASE_URL"])
        else:
            env.pop("DATABASE_URL", None)
        prepare_database(env)
        port = free_port()
        manage(env, "pix_register_webhook", "--base-url", f"http://127.0.0.1:{port}", quiet=True)
        server = start_gunicorn(env, port, workers=2, threads=4, keep_alive=30)
        log = open(tmp / "qcluster.log", "ab")
        cluster = subprocess.Popen([*MANAGE, "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            setup_django(env)
            from django.utils import timezone

            from billing.models import Charge, Client
            from billing.payments.pix_charges import cobv_ensure

            txids = []
            for n in range(args.paid):
                client = Client.objects.create(
                    name=f"Devedor {n}", phone=f"+55119{n:08d}", document=f"{10_000_000_000 + n:011d}"
                )
                charge = Charge.objects.create(
                    client=client, amount="150.50", due_date=timezone.localdate(), description="Mensalidade"
                )
                txids.append((charge.pk, cobv_ensure(charge=charge).txid))
            _wait_cluster(Charge)
            latencies = []
            for charge_id, txid in txids:
                started = time.perf_counter()
                psp.pay(txid)
                while not Charge.objects.filter(pk=charge_id, status=Charge.Status.PAID).exists():
                    if time.perf_counter() - started > 60:
                        raise SystemExit(f"charge {charge_id} not paid after 60 s")
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - started)
        finally:
            cluster.terminate()
            try:
                cluster.wait(30)
            except subprocess.TimeoutExpired:
                cluster.kill()
            log.close()
            stop(server)
    from billing.models import Payment

    report = {
        "database": db_label(env),
        "qcluster_workers": 2,
        "payments": len(latencies),
        "paid_charges_payments": Payment.objects.count(),
        "pay_to_paid_ms": latency_summary(latencies, (50, 95, 99)),
    }
    shutil.rmtree(tmp, ignore_errors=True)
    return report


def _wait_cluster(charge_model) -> None:
    """Enqueue a harmless task and wait until the cluster ran it (it is up and polling)."""
    from django_q.models import Task
    from django_q.tasks import async_task

    task_id = async_task("billing.tasks.pix_sweep_task")
    deadline = time.monotonic() + 120
    while not Task.objects.filter(id=task_id).exists():
        if time.monotonic() > deadline:
            raise SystemExit("qcluster did not start")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=6000)
    parser.add_argument("-c", "--clients", type=int, default=4, help="client processes (one connection each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--dup-every", type=int, default=50, help="every Nth request repeats the previous Pix"
    )
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--paid", type=int, default=0, help="charges paid one after the other (part 2)")
    args = parser.parse_args()
    report: dict = {}
    if not args.skip_intake:
        report["intake"] = intake(args)
    if args.paid and args.skip_intake:
        report["confirmation"] = confirmation(args)
    elif args.paid:
        # Django is set up for the intake's database in this process: the second part runs in its own.
        out = subprocess.run(
            [sys.executable, __file__, "--skip-intake", "--paid", str(args.paid)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        report["confirmation"] = json.loads(out)["confirmation"]
    report.update(describe_machine())
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if "FAILED" in report.get("intake", {}):
        raise SystemExit("FAILED: lost or extra notifications")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobranca.settings")
    main()
