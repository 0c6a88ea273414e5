"""Import benchmark: time and memory of billing.importing.import_file against a raw baseline.

    DJANGO_SETTINGS_MODULE=cobranca.settings .venv/bin/python bench/bench_import.py \
        [--rows 100000] [--repeat 3]
    DJANGO_SETTINGS_MODULE=cobranca.settings .venv/bin/python bench/bench_import.py --million

Uses a throwaway SQLite database (DATABASE_URL=sqlite:///<tmp>/bench.db, migrated once, copied fresh for every
run) and a throwaway UPLOADS_DIR. The baseline is what a no-validation import would cost: json.load + sqlite3
executemany of the same rows into one similar table. `--million` runs the import of 1,000,000 rows (JSON, then
CSV) in a child process each and reports its peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import csv
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

DDDS = [11, 21, 31, 41, 47, 51, 61, 71, 81, 85, 91]


def generate_rows(count: int, seed: int = 42):
    rng = random.Random(seed)
    for i in range(count):
        ddd = DDDS[i % len(DDDS)]
        yield {
            "id": f"INV-{i:08d}",
            "name": f"Cliente Teste {i}",
            # Unique phones: the worst case, one new client per charge.
            "phone": f"55{ddd}9{i:08d}",
            "amount": round(rng.uniform(10, 5000), 2),
            "due_date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "description": f"Mensalidade {1 + i % 12:02d}/2026",
        }


def write_json(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i, row in enumerate(generate_rows(count)):
            if i:
                fh.write(",\n")
            fh.write(json.dumps(row, ensure_ascii=False))
        fh.write("\n]\n")


def write_csv(path: Path, count: int) -> None:
    # As Excel in pt-BR writes it: ';', cp1252, dd/mm/aaaa, comma decimals.
    with open(path, "w", encoding="cp1252", newline="") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["id", "nome", "telefone", "valor", "vencimento", "descrição"])
        for row in generate_rows(count):
            year, month, day = row["due_date"].split("-")
            writer.writerow(
                [
                    row["id"],
                    row["name"],
                    row["phone"],
                    f"{row['amount']:.2f}".replace(".", ","),
                    f"{day}/{month}/{year}",
                    row["description"],
                ]
            )


def baseline(json_path: Path, workdir: Path) -> float:
    db = workdir / "baseline.db"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    with open(json_path, encoding="utf-8") as fh:
        rows = json.load(fh)
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE charge (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, name TEXT, phone TEXT, "
        "amount DECIMAL, due_date DATE, description TEXT)"
    )
    conn.executemany(
        "INSERT INTO charge (external_id, name, phone, amount, due_date, description) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(r["id"], r["name"], r["phone"], r["amount"], r["due_date"], r["description"]) for r in rows],
    )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def schema_floor(json_path: Path, template: Path, workdir: Path) -> float:
    """No validation, raw sqlite3 into the real billing tables (same indexes): what any import must pay."""
    db = workdir / "floor.db"
    fresh_db(template, db)
    started = time.perf_counter()
    with open(json_path, encoding="utf-8") as fh:
        rows = json.load(fh)
    now = "2026-01-01 00:00:00"
    conn = sqlite3.connect(db)
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        conn.executemany(
            "INSERT INTO billing_client (name, phone, chat_id, lid, not_on_whatsapp, document, external_id, "
            "email, opted_out_at, wrong_number, forgotten_at, created_at, updated_at, whatsapp_checked_at, "
            "phone_hash) VALUES (?, ?, '', '', 0, '', NULL, '', NULL, 0, NULL, ?, ?, NULL, '')",
            [(r["name"], "+" + r["phone"], now, now) for r in chunk],
        )
        phones = ["+" + r["phone"] for r in chunk]
        marks = ", ".join("?" * len(phones))
        ids = dict(conn.execute(f"SELECT phone, id FROM billing_client WHERE phone IN ({marks})", phones))
        conn.executemany(
            "INSERT INTO billing_charge (client_id, external_id, amount, due_date, description, status, "
            "import_batch_id, paid_at, status_changed_at, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'open', NULL, NULL, ?, ?, ?)",
            [
                (
                    ids["+" + r["phone"]],
                    r["id"],
                    str(r["amount"]),
                    r["due_date"],
                    r["description"],
                    now,
                    now,
                    now,
                )
                for r in chunk
            ],
        )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def setup_django(workdir: Path, db_name: str = "bench.db") -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobranca.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _common.setup_django(
        {"DATABASE_URL": f"sqlite:///{workdir / db_name}", "UPLOADS_DIR": str(workdir / "uploads")}
    )


def fresh_db(template: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copyfile(template, target)


def run_import(path: Path) -> tuple[float, dict]:
    from billing.importing import import_file

    started = time.perf_counter()
    report = import_file(path_or_file=path)
    elapsed = time.perf_counter() - started
    return elapsed, report.as_dict()


def child(path: str, workdir: str) -> None:
    setup_django(Path(workdir), db_name="child.db")
    elapsed, report = run_import(Path(path))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "peak_rss_mb": peak_mb,
                "imported": report["imported"],
                "rejected": report["rejected"],
                "success": report["success"],
            }
        )
    )


# long-function: a benchmark script's steps (setup, measure, report) read best in order
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="peak RSS for 1,000,000 rows (JSON and CSV)")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        setup_django(workdir, db_name="template.db")
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        connection.close()
        with sqlite3.connect(workdir / "template.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        template = workdir / "pristine.db"
        shutil.copyfile(workdir / "template.db", template)

        if args.million:
            million(workdir, template)
            return

        json_path = workdir / "rows.json"
        write_json(json_path, args.rows)
        size_mb = json_path.stat().st_size / 1e6
        machine = describe_machine("SQLite (WAL)")
        print(
            f"rows: {args.rows:,}  file: {size_mb:.1f} MB  machine: {machine['machine']}  "
            f"load average: {machine['load_average']}"
        )

        base_times = [baseline(json_path, workdir) for _ in range(args.repeat)]
        base = _common.median(base_times)
        print(f"baseline json.load + sqlite3 executemany: median {base:.2f} s  ({_fmt(base_times)})")
        floor_times = [schema_floor(json_path, template, workdir) for _ in range(args.repeat)]
        floor = _common.median(floor_times)
        print(
            f"schema floor (raw sqlite3 into the real client+charge tables, no validation): median "
            f"{floor:.2f} s  ({_fmt(floor_times)})  ratio {floor / base:.1f}x baseline"
        )

        from django.conf import settings
        from django.db import connections

        db_path = Path(settings.DATABASES["default"]["NAME"])
        import_times, update_times = [], []
        for _ in range(args.repeat):
            connections.close_all()
            fresh_db(template, db_path)
            elapsed, report = run_import(json_path)
            assert report["success"] and report["created_charges"] == args.rows, report["message"]
            import_times.append(elapsed)
            elapsed, report = run_import(json_path)
            assert report["success"] and report["updated_charges"] == args.rows, report["message"]
            update_times.append(elapsed)
        median = _common.median(import_times)
        print(
            f"import_file (new clients + charges): median {median:.2f} s  ({_fmt(import_times)})  "
            f"{args.rows / median:,.0f} rows/s  ratio {median / base:.1f}x baseline"
        )
        updates = _common.median(update_times)
        print(
            f"re-import (upsert, all updates):     median {updates:.2f} s  ({_fmt(update_times)})  "
            f"ratio {updates / base:.1f}x baseline"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def million(workdir: Path, template: Path) -> None:
    count = 1_000_000
    for kind, writer in (("json", write_json), ("csv", write_csv)):
        path = workdir / f"million.{kind}"
        writer(path, count)
        fresh_db(template, workdir / "child.db")
        size_mb = path.stat().st_size / 1e6
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(workdir)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ},
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        print(
            f"{kind.upper()} {count:,} rows ({size_mb:.0f} MB): {result['seconds']:.1f} s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB, imported {result['imported']:,}, "
            f"success {result['success']}"
        )
        path.unlink()


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
