"""What the bench scripts share: loopback ports, throwaway databases, gunicorn, percentiles, machine
description.

Only loopback addresses are used. A PostgreSQL database named in a DATABASE_URL given to these helpers is
dropped and re-created: always point it at a throwaway name (cobranca_bench, cobranca_load…).
"""

from __future__ import annotations

import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = [PYTHON, str(ROOT / "manage.py")]
HOST = "127.0.0.1"


# --- Ports and processes ------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """terminate() then wait; kill() if it does not exit in time. Only the process we started."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_http(port: int, path: str = "/health", timeout: float = 30, what: str = "gunicorn") -> None:
    """Wait until GET http://127.0.0.1:<port><path> answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not become ready on port {port}")


def start_gunicorn(
    env: Mapping[str, str],
    port: int,
    *,
    workers: int = 2,
    threads: int = 4,
    worker_class: str = "gthread",
    keep_alive: int | None = None,
    extra: Sequence[str] = (),
    wait: bool = True,
) -> subprocess.Popen:
    """Start `gunicorn cobranca.wsgi:application` on 127.0.0.1:<port> with `env`, and wait for /health."""
    command = [
        PYTHON, "-m", "gunicorn", "cobranca.wsgi:application",
        "--bind", f"{HOST}:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", str(threads),
        "--log-level", "warning",
    ]  # fmt: skip
    if keep_alive is not None:
        command += ["--keep-alive", str(keep_alive)]
    command += list(extra)
    server = subprocess.Popen(command, cwd=ROOT, env=dict(env))
    if wait:
        try:
            wait_http(port)
        except BaseException:
            stop(server)
            raise
    return server


# --- Environment and databases ------------------------------------------------------------------------------


def server_env(data_dir: Path | str, **overrides: str) -> dict[str, str]:
    """The environment of a production-like app process (DEBUG off, no HTTPS redirect on loopback, no .env
    file, quiet logs, DATA_DIR in a temp dir). TESTING is removed; `overrides` are applied last."""
    env = {
        **os.environ,
        "DEBUG": "False",
        "HTTPS": "False",
        "SECURE_SSL_REDIRECT": "False",
        "SECRET_KEY": "bench-" + "x" * 40,
        "JWT_SECRET_KEY": "bench-jwt-" + "y" * 40,
        "SUPPRESSION_HASH_KEY": "bench-suppression-" + "z" * 32,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "COBRANCA_IGNORE_DOTENV": "1",
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        "LOG_FILE": "",
        "DJANGO_SETTINGS_MODULE": "cobranca.settings",
    }
    env.pop("TESTING", None)
    env.update(overrides)
    return env


def is_postgres(url: str | None) -> bool:
    return bool(url) and urlparse(url).scheme.startswith("postgres")


def recreate_postgres(url: str) -> None:
    """DROP (forcing out other sessions) and CREATE the database named in `url`. Throwaway names only."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name or name in {"postgres", "template0", "template1"}:
        raise SystemExit(f"refusing to drop database {name!r}")
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1", None, ""}:
        raise SystemExit("bench databases must be on loopback")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def db_label(env: Mapping[str, str]) -> str:
    """'PostgreSQL 15.2' or 'SQLite (WAL)', from the DATABASE_URL in `env`."""
    url = env.get("DATABASE_URL", "")
    if not is_postgres(url):
        return "SQLite (WAL)"
    try:
        import psycopg

        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        return f"PostgreSQL {version}"
    except Exception:  # noqa: BLE001 - a label, not a check
        return "PostgreSQL"


def manage(env: Mapping[str, str], *args: str, quiet: bool = False) -> None:
    """Run `manage.py <args>` in a child process with `env`."""
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([*MANAGE, *args], cwd=ROOT, env=dict(env), check=True, stdout=out)


def prepare_database(env: Mapping[str, str], *, cache_table: bool = True, groups: bool = True) -> None:
    """migrate (+ createcachetable, + create_groups) the throwaway database of `env`."""
    manage(env, "migrate", "--noinput", "-v", "0")
    if cache_table:
        manage(env, "createcachetable")
    if groups:
        manage(env, "create_groups", quiet=True)


def setup_django(env: Mapping[str, str] | None = None) -> None:
    """django.setup() in this process, after os.environ.update(env); the repository goes on sys.path."""
    if env:
        os.environ.update(env)
    for entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- Statistics ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float, *, already_sorted: bool = False) -> float:
    """Nearest-rank percentile (p in 0..100): values[min(n-1, int(p/100*n))]. NaN when empty."""
    if not values:
        return float("nan")
    ordered = values if already_sorted else sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def median(values: Iterable[float]) -> float:
    return statistics.median(values)


def latency_summary(
    values: Sequence[float],
    percentiles: Iterable[float] = (50, 95, 99),
    *,
    scale: float = 1000.0,
    digits: int = 2,
) -> dict[str, float]:
    """p50/p95/p99 (nearest rank), max and mean of `values`, multiplied by `scale` (seconds → ms by default)
    and rounded to `digits`. Empty dict when there are no values."""
    if not values:
        return {}
    ordered = sorted(values)
    summary = {
        f"p{p:g}": round(percentile(ordered, p, already_sorted=True) * scale, digits) for p in percentiles
    }
    summary["max"] = round(ordered[-1] * scale, digits)
    summary["mean"] = round(statistics.fmean(ordered) * scale, digits)
    return summary


# --- Machine ------------------------------------------------------------------------------------------------


def machine_line() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def describe_machine(database: str | None = None) -> dict[str, object]:
    """Cores, load average (1/5/15 min), Python, OS and, when given, the database label. The benches share the
    machine: a load average above the core count means the figures are pessimistic."""
    info: dict[str, object] = {
        "machine": machine_line(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    if database:
        info["database"] = database
    return info
