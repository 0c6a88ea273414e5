"""Sustained mixed load on the app under gunicorn: signed webhooks and authenticated API reads.

Starts gunicorn on a free loopback port against a throwaway database, seeds clients, charges, a finished
campaign with its dispatches and conversations, creates an Integradores user and takes one JWT from
`POST /auth/login`. Then several client processes, each with one keep-alive connection, loop until
`--seconds` have passed, mixing:

- `POST /webhook/waha`: a `message` or `message.ack` envelope (whatsapp/tests/fixtures/ shapes) with a unique
  id, signed with HMAC-SHA512 of the raw body (the key set in WAHA_WEBHOOK_HMAC_KEY);
- `GET /api/clients/?page=1`, `/api/charges/?status=open`, `/api/billing/batch-status`,
  `/api/conversations/` with `Authorization: Bearer <JWT>`.

It reports, per kind and in total: requests, throughput, p50/p95/p99 latency, errors (non-2xx and connection
errors) and 5xx, plus throughput and p95 per time slice (sustained or degrading?) and the load average during
the run. Afterwards it checks from the database that stored WebhookEvents == accepted webhooks and that one
processing task was enqueued per event (no qcluster runs, so the tasks stay queued).

    .venv/bin/python bench/load_api.py --seconds 60                      # SQLite (WAL) + database cache
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cobranca_load REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python bench/load_api.py --seconds 300                 # PostgreSQL + Redis

The PostgreSQL database named in DATABASE_URL is dropped and re-created (and dropped at the end unless
--keep-db): point it at a throwaway name; names without "load", "bench" or "tmp" are refused. With REDIS_URL,
cache keys and the django-q list use a per-run prefix and are deleted at the end.

Rate limit: the API allows RATE_LIMIT_REQUESTS per user per RATE_LIMIT_PERIOD (100/hour by default), so a
load test with one user would get 429 after 100 reads. The run sets RATE_LIMIT_REQUESTS=10000000 (and keeps
the limiter on: every read still pays its counter increment in the shared cache, as in production).
DEBUG=False, as in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    MANAGE,
    ROOT,
    db_label,
    describe_machine,
    drop_postgres,
    free_port,
    is_postgres,
    latency_summary,
    manage,
    percentile,
    prepare_database,
    recreate_postgres,
    server_env,
    start_gunicorn,
    stop,
)
from _load_scripts import SEED, VERIFY

HMAC_KEY = "load-hmac-key-" + "k" * 20
USERNAME = "load-integrador"
PASSWORD = "Load-Test-" + "p" * 12
RATE_LIMIT_REQUESTS = 10_000_000
READS = {
    "clients": "/api/clients/?page=1",
    "charges": "/api/charges/?status=open",
    "batch_status": "/api/billing/batch-status",
    "conversations": "/api/conversations/",
}
KINDS = ["webhook", *READS]


def envelope(prefix: str, n: int, phone: str) -> bytes:
    """A WAHA envelope: inbound `message` (even n) or `message.ack` of an outgoing one (odd n)."""
    now_ms = int(time.time() * 1000)
    ack = bool(n % 2)
    chat = phone.lstrip("+") + "@c.us"
    payload = {
        "id": f"{'true' if ack else 'false'}_{chat}_LOAD{prefix}{n:09d}".replace("-", ""),
        "timestamp": now_ms // 1000,
        "from": chat if not ack else "5511900000000@c.us",
        "to": "5511900000000@c.us" if not ack else chat,
        "fromMe": ack,
    }
    if ack:
        payload.update({"ack": 2, "ackName": "DEVICE"})
    else:
        payload.update({"body": "Oi, recebi a cobrança. Posso pagar na sexta?", "hasMedia": False})
    return json.dumps(
        {
            "id": f"{prefix}{n:09d}",
            "timestamp": now_ms,
            "event": "message.ack" if ack else "message",
            "session": "default",
            "me": {"id": "5511900000000@c.us", "pushName": "Cobrança Carga"},
            "payload": payload,
            "engine": "GOWS",
            "environment": {"version": "2026.7.1", "engine": "GOWS", "tier": "CORE"},
        },
        separators=(",", ":"),
    ).encode()


def schedule(webhook_weight: int) -> list[str]:
    """The request mix one client cycles through: `webhook_weight` webhooks per read of each endpoint."""
    cycle: list[str] = []
    for read in READS:
        cycle += ["webhook"] * webhook_weight + [read]
    return cycle


def client_loop(args: tuple) -> dict:
    """One client process: one keep-alive connection, requests until `end_at` (time.monotonic, shared by
    all processes on Linux). Returns per request (kind, offset from start_at, latency, status) — status 0 is a
    connection error — and the count of accepted/duplicate webhooks."""
    index, port, token, prefix, start_at, end_at, cycle, seed_clients = args
    while time.monotonic() < start_at:
        time.sleep(min(0.05, max(0.0, start_at - time.monotonic())))
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    records: list[tuple[str, float, float, int]] = []
    webhook_status: dict[str, int] = {}
    n = 0
    i = index  # clients start at different points of the cycle
    while True:
        now = time.monotonic()
        if now >= end_at:
            break
        kind = cycle[i % len(cycle)]
        i += 1
        if kind == "webhook":
            number = n * 1000 + index  # unique across clients
            n += 1
            phone = f"+55119{number % seed_clients:08d}"
            body = envelope(prefix, number, phone)
            headers = {
                "Content-Type": "application/json",
                "X-Webhook-Hmac": hmac.new(HMAC_KEY.encode(), body, hashlib.sha512).hexdigest(),
                "X-Webhook-Hmac-Algorithm": "sha512",
                "X-Webhook-Timestamp": str(int(time.time() * 1000)),
                "X-Webhook-Request-Id": uuid.uuid4().hex,
            }
            method, path = "POST", "/webhook/waha"
        else:
            body, headers, method, path = None, auth, "GET", READS[kind]
        started = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            records.append((kind, started - start_at, time.monotonic() - started, 0))
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            continue
        finished = time.monotonic()
        records.append((kind, started - start_at, finished - started, response.status))
        if kind == "webhook":
            key = str(response.status)
            if response.status == 200:
                key = json.loads(data).get("status", key)
            webhook_status[key] = webhook_status.get(key, 0) + 1
    conn.close()
    return {"records": records, "webhook_status": webhook_status, "finished_at": time.monotonic()}


def login(port: int) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    body = json.dumps({"username": USERNAME, "password": PASSWORD})
    conn.request("POST", "/auth/login", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"login failed: {response.status} {data[:200]!r}")
    return json.loads(data)["access"]


def summarize(records: list[tuple[str, float, float, int]], elapsed: float) -> dict:
    latencies = [r[2] for r in records if r[3]]
    errors = sum(1 for r in records if not (200 <= r[3] < 300))
    statuses: dict[str, int] = {}
    for r in records:
        key = str(r[3]) if r[3] else "connection_error"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "requests": len(records),
        "throughput_rps": round(len(records) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": latency_summary(latencies, (50, 95, 99)),
        "errors": errors,
        "http_5xx": sum(1 for r in records if r[3] >= 500),
        "connection_errors": sum(1 for r in records if r[3] == 0),
        "statuses": dict(sorted(statuses.items())),
    }


def slices(records: list[tuple[str, float, float, int]], width: float, elapsed: float) -> list[dict]:
    """Throughput and p95 per `width`-second slice of the run (by request start; answered requests)."""
    out = []
    start = 0.0
    while start < elapsed - 1e-9:
        end = min(start + width, elapsed)
        inside = [r[2] for r in records if start <= r[1] < end and r[3]]
        out.append(
            {
                "t_s": f"{start:.0f}-{end:.0f}",
                "rps": round(len(inside) / (end - start), 1),
                "p95_ms": round(percentile(inside, 95) * 1000, 1) if inside else None,
            }
        )
        start = end
    return out


def check_throwaway(url: str, allow: bool) -> None:
    name = urlparse(url).path.lstrip("/")
    if not allow and not any(word in name for word in ("load", "bench", "tmp")):
        raise SystemExit(
            f"refusing to drop and re-create database {name!r}: use a throwaway name such as cobranca_load "
            "(or pass --i-know-it-is-throwaway)"
        )


def redis_cleanup(url: str, patterns: list[str]) -> int:
    import redis

    client = redis.Redis.from_url(url)
    deleted = 0
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            deleted += client.delete(*keys[start : start + 500])
    return deleted


# long-function: the load test's phases (start, warm up, load, report) read best in order
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300, help="measured duration (default 300)")
    parser.add_argument("-c", "--clients", type=int, default=4, help="client processes (one connection each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (one per core)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--webhook-weight", type=int, default=1, help="webhooks per read of each endpoint")
    parser.add_argument("--seed-clients", type=int, default=2000)
    parser.add_argument("--warmup-seconds", type=float, default=5, help="not counted")
    parser.add_argument("--slice", type=float, default=0, help="slice width in s (default: seconds/10)")
    parser.add_argument(
        "--keep-db", action="store_true", help="do not drop the PostgreSQL database at the end"
    )
    parser.add_argument("--i-know-it-is-throwaway", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="load-api-"))
    env = server_env(
        tmp,
        WAHA_WEBHOOK_HMAC_KEY=HMAC_KEY,
        WAHA_WEBHOOK_MAX_AGE_SECONDS="900",
        RATE_LIMIT_REQUESTS=str(RATE_LIMIT_REQUESTS),
        JWT_ACCESS_MINUTES=str(int(args.seconds // 60) + 30),
        Q_CLUSTER_NAME=f"load{run}",
        CACHE_KEY_PREFIX=f"cobranca_load_{run}",
        LOAD_SEED_CLIENTS=str(args.seed_clients),
        LOAD_USERNAME=USERNAME,
        LOAD_PASSWORD=PASSWORD,
    )
    for key in ("Q_SYNC", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(key, None)
    db_url = env.get("DATABASE_URL", "")
    postgres = is_postgres(db_url)
    if postgres:
        check_throwaway(db_url, args.i_know_it_is_throwaway)
        if urlparse(db_url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("loopback only")
        recreate_postgres(db_url)
    else:
        env.pop("DATABASE_URL", None)
    redis_url = env.get("REDIS_URL", "")
    if redis_url and urlparse(redis_url).hostname not in ("127.0.0.1", "localhost", "::1", None):
        raise SystemExit("loopback only")

    def cleanup() -> None:
        """Drop the throwaway database and this run's Redis keys (cache prefix and django-q list)."""
        if redis_url:
            deleted = redis_cleanup(redis_url, [f"cobranca_load_{run}:*", f"django_q:load{run}:*"])
            print(f"redis: deleted {deleted} keys of this run", file=sys.stderr)
        if postgres and not args.keep_db:
            drop_postgres(db_url)
        shutil.rmtree(tmp, ignore_errors=True)

    server = None
    results: list[dict] = []
    load_samples: list[float] = []
    try:
        prepare_database(env)
        database = db_label(env)
        started_setup = time.monotonic()
        manage(env, "shell", "-v", "0", "-c", SEED)
        print(f"seed: {time.monotonic() - started_setup:.1f} s", flush=True)

        port = free_port()
        server = start_gunicorn(env, port, workers=args.workers, threads=args.threads, keep_alive=30)
        token = login(port)
        cycle = schedule(args.webhook_weight)
        prefix = f"evt_load_{run}_"

        # Warm-up (not counted): imports, connections, first queries in every worker and thread.
        if args.warmup_seconds > 0:
            now = time.monotonic()
            warm_args = [
                (i, port, token, f"evt_warm_{run}_", now + 0.2, now + 0.2 + args.warmup_seconds, cycle,
                 args.seed_clients)
                for i in range(args.clients)
            ]  # fmt: skip
            with mp.Pool(args.clients) as pool:
                warm = pool.map(client_loop, warm_args)
        else:
            warm = []

        with mp.Pool(args.clients) as pool:
            start_at = time.monotonic() + 1.0  # every client process is up and waiting
            end_at = start_at + args.seconds
            pending = pool.map_async(
                client_loop,
                [
                    (i, port, token, prefix, start_at, end_at, cycle, args.seed_clients)
                    for i in range(args.clients)
                ],
            )
            load_before = os.getloadavg()
            while not pending.ready():
                pending.wait(timeout=5)
                if start_at <= time.monotonic() <= end_at + 1:
                    load_samples.append(os.getloadavg()[0])
            results = pending.get()
            load_after = os.getloadavg()
    except BaseException:
        stop(server)
        cleanup()
        raise
    stop(server)

    elapsed = max(r["finished_at"] for r in results) - start_at
    records = [rec for r in results for rec in r["records"]]
    accepted = sum(r["webhook_status"].get("accepted", 0) for r in results)
    warm_accepted = sum(r["webhook_status"].get("accepted", 0) for r in warm)

    try:
        completed = subprocess.run(
            [*MANAGE, "shell", "-v", "0", "-c", VERIFY],
            cwd=ROOT,
            env={**env, "LOAD_EVENT_PREFIX": prefix},
            check=True,
            capture_output=True,
            text=True,
        )
        verify = json.loads(next(x for x in completed.stdout.splitlines() if x.startswith("VERIFY "))[7:])
    except BaseException:
        cleanup()
        raise

    per_kind = {kind: summarize([r for r in records if r[0] == kind], elapsed) for kind in KINDS}
    total = summarize(records, elapsed)
    width = args.slice or max(args.seconds / 10, 1)
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "database": database,
        "cache_and_broker": "Redis" if redis_url else "database cache + ORM broker",
        "gunicorn": f"{args.workers} workers × {args.threads} threads (gthread), DEBUG=False",
        "clients": args.clients,
        "mix": f"{args.webhook_weight} webhook(s) per read of each of {len(READS)} endpoints",
        "rate_limit_requests": RATE_LIMIT_REQUESTS,
        "seconds": round(elapsed, 1),
        "total": total,
        "per_kind": per_kind,
        "slices": slices(records, width, args.seconds),
        "webhooks": {
            "accepted": accepted,
            "statuses": {
                k: sum(r["webhook_status"].get(k, 0) for r in results)
                for k in sorted({k for r in results for k in r["webhook_status"]})
            },
            "stored_events_run": verify["events_run"],
            "stored_events_total": verify["events_total"],
            "accepted_incl_warmup": accepted + warm_accepted,
            "tasks_enqueued": verify["tasks_enqueued"],
        },
        "load_average_during_run_1m": {
            "min": round(min(load_samples), 2) if load_samples else None,
            "mean": round(sum(load_samples) / len(load_samples), 2) if load_samples else None,
            "max": round(max(load_samples), 2) if load_samples else None,
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        **describe_machine(database),
    }
    ok = (
        verify["events_run"] == accepted
        and verify["events_total"] == accepted + warm_accepted
        and verify["tasks_enqueued"] == verify["events_total"]
    )
    report["webhooks"]["nothing_lost"] = ok

    cleanup()

    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if not ok:
        raise SystemExit("FAILED: stored WebhookEvents != accepted webhooks (or a task is missing)")


if __name__ == "__main__":
    main()
