"""Benchmark: campaign dispatch throughput with real `qcluster` processes against the WAHA simulator.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cobranca_bench REDIS_URL=redis://127.0.0.1:6379/1 \
        .venv/bin/python bench/bench_dispatch.py --messages 3000 --workers 2

Creates (drops first) the bench database, migrates it, seeds N clients with one charge each, starts an unpaced
campaign (delay 0) and measures messages/second from the simulator's outbox timestamps (first → last send),
plus start-to-first-send latency. Prints JSON. `bench/bench_pacing.py` reuses `run()` with a pace and two
clusters.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/cobranca_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/1"


def _prepare_environment(database_url: str, redis_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("Q_CLUSTER_NAME", "bench")
    os.environ["COBRANCA_IGNORE_DOTENV"] = "1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing.tests.dispatch_e2e_settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["SEND_WINDOW"] = "always"
    os.environ["DISPATCH_DAILY_CAP"] = "1000000"


def _recreate_database(database_url: str) -> None:
    parsed = urlparse(database_url)
    if parsed.scheme.startswith("postgres"):
        import psycopg

        name = parsed.path.lstrip("/")
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        path = Path(parsed.path[1:] if parsed.path.startswith("//") else parsed.path.lstrip("/"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    env = dict(os.environ)
    for command in (["migrate", "--noinput", "-v", "0"], ["createcachetable"]):
        subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *command], cwd=BASE_DIR, env=env, check=True
        )


def _seed(n: int) -> list[int]:
    import datetime as dt
    from decimal import Decimal

    from billing.models import Charge, Client, MessageTemplate

    MessageTemplate.objects.update_or_create(
        name="bench",
        defaults={
            "body": "Olá {name}, sua fatura de {amount} vence em {due_date}. "
            "{creditor_name}, CNPJ {creditor_document}."
        },
    )
    clients = Client.objects.bulk_create(
        [Client(name=f"Cliente {i}", phone=f"+55119{i:08d}") for i in range(n)], batch_size=1000
    )
    due = dt.date.today() + dt.timedelta(days=5)
    Charge.objects.bulk_create(
        [
            Charge(client=c, external_id=f"B-{i}", amount=Decimal("10.00"), due_date=due)
            for i, c in enumerate(clients)
        ],
        batch_size=1000,
    )
    return [c.pk for c in clients]


def _cluster(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# long-function: a benchmark run's steps (setup, measure, report) read best in order
def run(
    *,
    messages: int,
    delay: float,
    jitter: float,
    workers: int,
    clusters: int,
    database_url: str,
    redis_url: str,
    timeout: float = 600,
) -> dict:
    _prepare_environment(database_url, redis_url)
    _recreate_database(database_url)
    import django

    django.setup()
    from django.conf import settings
    from django_q.models import Task
    from django_q.tasks import async_task

    from billing.dispatch import services
    from billing.dispatch.pacing import pacing_reset
    from billing.models import Campaign, Charge, Dispatch, ImportBatch, MessageTemplate
    from whatsapp.simulator.testing import running_simulator

    pacing_reset(session_name="default")
    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()
    _seed(messages)
    batch = ImportBatch.objects.create(filename="bench.json", file_format="json")
    Charge.objects.update(import_batch=batch)
    log_dir = BASE_DIR / "bench" / "out"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    with running_simulator(ack_delay_seconds=3600, log_size=messages + 100) as sim:
        env = dict(
            os.environ,
            WAHA_BASE_URL=sim.base_url,
            WAHA_API_KEY=sim.api_key,
            Q_WORKERS=str(workers),
            WAHA_READ_TIMEOUT="10",
        )
        try:
            for i in range(clusters):
                procs.append(_cluster(env, log_dir / f"qcluster-{i}.log"))
            for _ in range(clusters * workers):
                task_id = async_task("billing.tasks.dispatch_recover_stale_task")
                deadline = time.monotonic() + 120
                while not Task.objects.filter(id=task_id).exists():
                    if time.monotonic() > deadline:
                        raise RuntimeError("qcluster did not start")
                    time.sleep(0.1)
            campaign = services.campaign_create(
                template=MessageTemplate.objects.get(name="bench"),
                import_batch=batch,
                delay_seconds=delay,
                jitter_seconds=jitter,
                send_window="always",
            )
            started = time.time()
            campaign = services.campaign_start(campaign=campaign, confirm_off_hours=True)
            deadline = time.monotonic() + timeout
            while Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("campaign did not finish in time")
                time.sleep(0.2)
            outbox = sim.outbox()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, 15)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
    stamps = sorted(item["timestamp"] / 1000 for item in outbox)
    intervals = [b - a for a, b in itertools.pairwise(stamps)]
    per_chat = {}
    for item in outbox:
        per_chat[item["chatId"]] = per_chat.get(item["chatId"], 0) + 1
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    statuses = dict(
        Dispatch.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("pk"))
    )
    return {
        "messages": messages,
        "sent": len(outbox),
        "duplicates": sum(1 for n in per_chat.values() if n > 1),
        "statuses": statuses,
        "delay": delay,
        "jitter": jitter,
        "workers_per_cluster": workers,
        "clusters": clusters,
        "database": urlparse(database_url).scheme,
        "broker": "redis" if redis_url else "orm",
        "first_send_latency_s": round(stamps[0] - started, 3) if stamps else None,
        "send_span_s": round(span, 3),
        "messages_per_second": round((len(stamps) - 1) / span, 1) if span else None,
        "interval_mean_s": round(statistics.mean(intervals), 4) if intervals else None,
        "interval_median_s": round(statistics.median(intervals), 4) if intervals else None,
        "interval_min_s": round(min(intervals), 4) if intervals else None,
        "interval_max_s": round(max(intervals), 4) if intervals else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    result = run(
        messages=args.messages,
        delay=args.delay,
        jitter=args.jitter,
        workers=args.workers,
        clusters=args.clusters,
        database_url=args.database_url,
        redis_url=args.redis_url,
    )
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
