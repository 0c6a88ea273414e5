"""Test support shared by every app's end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def subprocess_database_url() -> str:
    """DATABASE_URL of the database this test process uses, for the real processes an e2e test starts.

    Under pytest-django that is the test database (a file for SQLite, `test_<name>` on PostgreSQL); the test
    must use `transactional_db` so the subprocess sees committed rows.
    """
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(settings.get("USER") or "", safe="")
        password = quote(settings.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings.get("HOST") or "127.0.0.1"
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{settings['NAME']}"
    raise RuntimeError(f"unsupported database vendor for subprocesses: {connection.vendor}")


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class QCluster:
    """A real `manage.py qcluster` on this test's database, in its own process group so that a crash test can
    kill master and workers together. Dispatch timings come from `billing.tests.dispatch_e2e_settings`."""

    def __init__(
        self,
        *,
        waha_url: str,
        waha_key: str,
        workers: int = 2,
        log_path: Path | None = None,
        extra_env: dict | None = None,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            {
                "DATABASE_URL": subprocess_database_url(),
                "DJANGO_SETTINGS_MODULE": "billing.tests.dispatch_e2e_settings",
                "COBRANCA_IGNORE_DOTENV": "1",
                "WAHA_BASE_URL": waha_url,
                "WAHA_API_KEY": waha_key,
                "WAHA_SESSION_NAME": "default",
                "WAHA_CONNECT_TIMEOUT": "2",
                "WAHA_READ_TIMEOUT": "5",
                "Q_WORKERS": str(workers),
                "Q_SYNC": "false",
                "SEND_WINDOW": "always",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if env["DATABASE_URL"].startswith("sqlite"):
            env.pop("REDIS_URL", None)
        env.update(extra_env or {})
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> QCluster:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """kill -9 of the whole process group: master, monitor, pusher and every worker, mid-whatever."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc and self.proc.poll() is None:
            self.kill()


def wait_cluster_ready(timeout: float = 150.0) -> None:
    """Enqueue a harmless task and wait until a worker has run it: the cluster is up and polling.

    Generous on purpose: after a kill -9 the restarted cluster has been seen to need more than a minute on a
    loaded 2-core machine before its first task (the wait ends as soon as the task has run)."""
    from django_q.models import Task
    from django_q.tasks import async_task

    task_id = async_task("billing.tasks.dispatch_recover_stale_task")
    wait_until(
        lambda: Task.objects.filter(id=task_id).exists(), timeout=timeout, what="qcluster to run a task"
    )


def use_fresh_queue(monkeypatch) -> str:
    """Point this test process's `async_task` at a django-q queue of its own and return its name, for a
    QCluster started with `extra_env={"Q_CLUSTER_NAME": name}`. After a kill -9 the restarted cluster then
    starts from an empty queue instead of behind whatever the dead cluster left half-taken."""
    from django_q.conf import Conf

    name = f"e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    return name
