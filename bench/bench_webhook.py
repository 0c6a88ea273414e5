"""Benchmark of the WAHA webhook intake (`POST /webhook/waha`) under gunicorn.

Starts the app under gunicorn on a free loopback port against a throwaway database, posts N signed webhooks
with unique envelope ids (plus a share of duplicates) from several client processes over keep-alive
connections, then reports requests/s and latency percentiles and checks that nothing was lost: stored
WebhookEvents == accepted requests, each duplicate stored once, one django-q task enqueued per accepted event.

    .venv/bin/python bench/bench_webhook.py                       # SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cobranca_bench .venv/bin/python bench/bench_webhook.py

The PostgreSQL database named in DATABASE_URL is dropped and re-created: point it at a throwaway name.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    db_label,
    describe_machine,
    free_port,
    is_postgres,
    latency_summary,
    prepare_database,
    recreate_postgres,
    server_env,
    setup_django,
    start_gunicorn,
    stop,
)

KEY = "bench-hmac-key"
PATH = "/webhook/waha"


def envelope(run: str, n: int) -> bytes:
    now_ms = int(time.time() * 1000)
    return json.dumps(
        {
            "id": f"evt_{run}_{n:08d}",
            "timestamp": now_ms,
            "event": "message.ack" if n % 2 else "message",
            "session": "default",
            "me": {"id": "5511900000000@c.us", "pushName": "Bench"},
            "payload": {
                "id": f"true_5511987654321@c.us_BENCH{run}{n:08d}",
                "timestamp": now_ms // 1000,
                "from": "5511987654321@c.us",
                "fromMe": bool(n % 2),
                "body": "Olá, mensagem de carga para o benchmark do webhook.",
                "ack": 1,
                "ackName": "SERVER",
            },
            "engine": "GOWS",
            "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "CORE"},
        },
        separators=(",", ":"),
    ).encode()


def client_worker(args: tuple) -> dict:
    """One client process: a keep-alive connection, posts its share of requests, returns the latencies."""
    port, run, numbers, dup_every = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for n in numbers:
        # Every dup_every-th request re-sends an earlier event (WAHA retrying while we were slow).
        body = envelope(run, n - 1 if dup_every and n % dup_every == 0 and n > 0 else n)
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Hmac": hmac.new(KEY.encode(), body, hashlib.sha512).hexdigest(),
            "X-Webhook-Hmac-Algorithm": "sha512",
            "X-Webhook-Timestamp": str(int(time.time() * 1000)),
            "X-Webhook-Request-Id": uuid.uuid4().hex,
        }
        started = time.perf_counter()
        try:
            conn.request("POST", PATH, body=body, headers=headers)
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
            key = json.loads(data).get("status", key)
        statuses[key] = statuses.get(key, 0) + 1
    conn.close()
    return {"latencies": latencies, "statuses": statuses}


# long-function: a benchmark script's steps (setup, measure, report) read best in order
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=6000)
    parser.add_argument("-c", "--clients", type=int, default=4, help="client processes (one connection each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--dup-every", type=int, default=50, help="every Nth request repeats the previous id")
    parser.add_argument("--warmup", type=int, default=400)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    env = server_env(tmp, WAHA_WEBHOOK_HMAC_KEY=KEY, WAHA_WEBHOOK_MAX_AGE_SECONDS="900")
    if is_postgres(env.get("DATABASE_URL")):
        recreate_postgres(env["DATABASE_URL"])
    else:
        env.pop("DATABASE_URL", None)
    prepare_database(env)
    database = db_label(env)

    port = free_port()
    server = start_gunicorn(
        env, port, workers=args.workers, threads=args.threads, worker_class=args.worker_class, keep_alive=30
    )
    try:
        run = uuid.uuid4().hex[:8]
        # Warm-up: imports, connections, first queries; not counted.
        client_worker((port, "w" + run, range(args.warmup), 0))

        shares = [range(i, args.requests, args.clients) for i in range(args.clients)]
        with mp.Pool(args.clients) as pool:
            started = time.perf_counter()
            results = pool.map(client_worker, [(port, run, share, args.dup_every) for share in shares])
            elapsed = time.perf_counter() - started
    finally:
        stop(server)

    latencies = sorted(lat for r in results for lat in r["latencies"])
    statuses: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v

    # Check nothing was lost, from the database itself.
    setup_django(env)
    from django_q.models import OrmQ

    from whatsapp.models import WebhookEvent

    stored = WebhookEvent.objects.filter(event_id__startswith=f"evt_{run}_").count()
    # The database is fresh and no qcluster runs: every stored event (warm-up included) must have its task.
    all_events = WebhookEvent.objects.count()
    enqueued = OrmQ.objects.count()
    accepted = statuses.get("accepted", 0)
    duplicates = statuses.get("duplicate", 0)

    summary = latency_summary(latencies, (50, 90, 99))

    report = {
        "database": database,
        "gunicorn": f"{args.workers} workers × {args.threads} threads ({args.worker_class})",
        "clients": args.clients,
        "requests": len(latencies),
        "statuses": statuses,
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": summary,
        "stored_events": stored,
        "accepted": accepted,
        "duplicates_answered": duplicates,
        "nothing_lost": stored == accepted,
        "tasks_enqueued_vs_events": f"{enqueued}/{all_events}",
        # The bench shares the machine; a load average above the core count means the figures are pessimistic.
        **describe_machine(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    shutil.rmtree(tmp, ignore_errors=True)
    if stored != accepted or enqueued != all_events or statuses.get("connection_error"):
        raise SystemExit("FAILED: lost or extra events")


if __name__ == "__main__":
    main()
