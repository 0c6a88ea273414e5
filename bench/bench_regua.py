"""Régua planner benchmark: plan 100,000 open charges for one day on the embedded default (SQLite).

    .venv/bin/python bench/bench_regua.py [--charges 100000] [--repeat 3]

Builds a throwaway SQLite database (migrated once, copied fresh for every run) with `--charges` open charges
whose due dates put one of the default régua's steps (D-3, D0, D+1, D+7, D+15, D+30) on a plain Wednesday,
spread over 60 % as many debtors (a third of them with two or three charges: one message each), plus as many
charges due on days without a step (noise the plan must not read), and a few hundred of each stop condition
(paid, opted out, promise, agreement, human conversation). Each run, in a child process of its own (clean peak
RSS):

1. the raw SQL count of the same charges (`SELECT COUNT(*) … WHERE due_date IN (…)`), timed;
2. `regua_plan_run` for that day at 07:00, timed, with the peak RSS of the process (ru_maxrss) and its growth
   during the run;
3. checks: every charge on a step day has exactly one entry, one Dispatch per debtor with planned entries.

Targets (issue #14): ≤ 10 s and ≤ 300 MB. The figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import describe_machine

DAY = dt.date(2026, 12, 9)  # a Wednesday without holidays around it
STEP_OFFSETS = (-3, 0, 1, 7, 15, 30)
NOISE_OFFSETS = (2, 3, 4, 5, 6, 10, 20, 40)


def _env(workdir: Path) -> dict[str, str]:
    return _common.server_env(
        workdir,
        DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        WAHA_WEBHOOK_HMAC_KEY="bench-hmac-" + "k" * 32,
        REDIS_URL="",
    )


# long-function: one fixture database built step by step, in order
def build_template(workdir: Path, charges: int, seed: int = 7) -> Path:
    """Migrate a database and fill it (Django bulk_create in a child-free setup: this process)."""
    env = _env(workdir)
    _common.prepare_database(env)
    _common.setup_django(env)
    from django.utils import timezone

    from billing.models import Agreement, Charge, Client, Installment, PromiseToPay
    from billing.payments.schedule import plan_installments
    from billing.suppression import phone_hash
    from conversations.models import Conversation

    rng = random.Random(seed)
    debtors = int(charges * 0.6)
    now = timezone.now()
    clients = [
        Client(name=f"Cliente {i}", phone=f"+55119{i:08d}", phone_hash=phone_hash(f"+55119{i:08d}"))
        for i in range(debtors)
    ]
    Client.objects.bulk_create(clients, batch_size=5000)
    client_ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    rows = []
    for i in range(charges):
        # The first `debtors` charges one per debtor; the rest go to a third of them (2-3 charges each).
        client_id = client_ids[i] if i < debtors else client_ids[rng.randrange(debtors // 3)]
        due = DAY - dt.timedelta(days=STEP_OFFSETS[i % len(STEP_OFFSETS)])
        rows.append(
            Charge(
                client_id=client_id,
                external_id=f"R-{i:07d}",
                amount="150.50",
                due_date=due,
                description="Mensalidade",
            )
        )
        # Noise: a charge due on a day without a step that day.
        noise = DAY - dt.timedelta(days=NOISE_OFFSETS[i % len(NOISE_OFFSETS)])
        rows.append(Charge(client_id=client_id, external_id=f"N-{i:07d}", amount="99.90", due_date=noise))
        if len(rows) >= 20000:
            Charge.objects.bulk_create(rows, batch_size=5000)
            rows = []
    Charge.objects.bulk_create(rows, batch_size=5000)

    step_charges = list(
        Charge.objects.filter(external_id__startswith="R-").order_by("pk").values_list("pk", "client_id")
    )
    sample = rng.sample(step_charges, min(1500, len(step_charges) // 2))
    n = len(sample) // 5
    paid, promised, agreed = sample[:n], sample[n : 2 * n], sample[2 * n : 3 * n]
    opted, human = sample[3 * n : 4 * n], sample[4 * n : 5 * n]
    Charge.objects.filter(pk__in=[c for c, _ in paid]).update(status="paid", paid_at=now)
    Charge.objects.filter(pk__in=[c for c, _ in promised]).update(status="promised")
    PromiseToPay.objects.bulk_create(
        [PromiseToPay(charge_id=c, promised_date=DAY + dt.timedelta(days=5)) for c, _ in promised]
    )
    Charge.objects.filter(pk__in=[c for c, _ in agreed]).update(status="negotiating")
    Agreement.objects.bulk_create(
        [
            Agreement(
                charge_id=c,
                installments=3,
                installment_amount="50.17",
                total_amount="150.50",
                first_due_date=DAY + dt.timedelta(days=1),
            )
            for c, _ in agreed
        ]
    )
    Installment.objects.bulk_create(
        [
            Installment(agreement=a, number=p.number, due_date=p.due_date, amount=p.amount)
            for a in Agreement.objects.all()
            for p in plan_installments(
                amount=a.total_amount, installments=a.installments, first_due_date=a.first_due_date
            )
        ]
    )
    Client.objects.filter(pk__in=[cl for _, cl in opted]).update(opted_out_at=now)
    Conversation.objects.bulk_create(
        [Conversation(client_id=cl, chat_id=f"h{cl}@c.us", state="human") for _, cl in human],
        ignore_conflicts=True,
    )
    from django.db import connection

    connection.close()
    return workdir / "bench.db"


def child(workdir: str) -> None:
    """One measured run (in its own process): raw count, then the planner, then the checks."""
    workdir_path = Path(workdir)
    _common.setup_django(_env(workdir_path))
    from django.db import connection
    from django.utils import timezone

    from billing.models import Dispatch
    from billing.regua.models import Regua, ReguaEntry
    from billing.regua.run import regua_plan_run

    Regua.objects.filter(slug="default").update(status="active")
    dates = [(DAY - dt.timedelta(days=o)).isoformat() for o in STEP_OFFSETS]

    started = time.perf_counter()
    with connection.cursor() as cursor:
        placeholders = ",".join(["%s"] * len(dates))
        cursor.execute(f"SELECT COUNT(*) FROM billing_charge WHERE due_date IN ({placeholders})", dates)
        raw_count = cursor.fetchone()[0]
    raw_seconds = time.perf_counter() - started

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    rss_before = usage.ru_maxrss / 1024
    now = timezone.make_aware(dt.datetime.combine(DAY, dt.time(7, 0)))
    started = time.perf_counter()
    summary = regua_plan_run(now=now)
    plan_seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024
    cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_before

    entries = ReguaEntry.objects.filter(ref_date__in=dates, step__kind="due").count()
    debtors_planned = ReguaEntry.objects.filter(status="planned").values("client_id").distinct().count()
    messages = Dispatch.objects.count()
    print(
        json.dumps(
            {
                "raw_sql_count": raw_count,
                "raw_sql_seconds": round(raw_seconds, 4),
                "plan_seconds": round(plan_seconds, 3),
                "plan_cpu_seconds": round(cpu_seconds, 3),
                "plan_rss_growth_mb": round(peak - rss_before, 1),
                "peak_rss_mb": round(peak, 1),
                "rss_before_plan_mb": round(rss_before, 1),
                "summary": summary,
                "due_step_entries": entries,
                "messages": messages,
                "debtors_with_planned": debtors_planned,
                "one_entry_per_charge": entries == raw_count,
                "one_message_per_debtor": messages == debtors_planned,
            }
        )
    )


# long-function: a benchmark script's steps (setup, measure, report) read best in order
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument(
        "--template",
        help="keep the seeded database in this directory and reuse it on the next run (same --charges)",
    )
    args = parser.parse_args()
    if args.seed:
        build_template(Path(args.seed), args.charges)
        return
    if args.child:
        child(args.child)
        return
    base = Path(tempfile.mkdtemp(prefix="bench-regua-"))
    try:
        template_dir = Path(args.template) if args.template else base / "template"
        if not (template_dir / "bench.db").exists():
            template_dir.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            # Seeding in a child too, so the measured children start from a cold, identical file.
            build_in_child(template_dir, args.charges)
            seeded = time.perf_counter() - started
            print(f"seeded {args.charges} step charges (+ as many noise charges) in {seeded:.1f} s")
        runs = []
        for i in range(args.repeat):
            run_dir = base / f"run{i}"
            run_dir.mkdir()
            for suffix in ("", "-wal", "-shm"):
                source = template_dir / f"bench.db{suffix}"
                if source.exists():
                    shutil.copy(source, run_dir / f"bench.db{suffix}")
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(run_dir)],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(result)
            print(json.dumps(result))
        print(
            json.dumps(
                {
                    "charges": args.charges,
                    "median_plan_seconds": _common.median([r["plan_seconds"] for r in runs]),
                    "median_plan_cpu_seconds": _common.median([r["plan_cpu_seconds"] for r in runs]),
                    "median_peak_rss_mb": _common.median([r["peak_rss_mb"] for r in runs]),
                    "median_plan_rss_growth_mb": _common.median([r["plan_rss_growth_mb"] for r in runs]),
                    "median_raw_sql_seconds": _common.median([r["raw_sql_seconds"] for r in runs]),
                    "all_checks": all(
                        r["one_entry_per_charge"] and r["one_message_per_debtor"] for r in runs
                    ),
                    "machine": describe_machine("SQLite (WAL)"),
                }
            )
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def build_in_child(template_dir: Path, charges: int) -> None:
    subprocess.run(
        [sys.executable, __file__, "--charges", str(charges), "--seed", str(template_dir)], check=True
    )
    # Fold the WAL into the main file so a plain copy carries everything.
    with sqlite3.connect(template_dir / "bench.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobranca.settings")
    main()
