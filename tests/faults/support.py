"""Helpers for the fault-injection tests (not a test module: no test_ prefix, pytest does not collect it).

- `QCluster`: a real `manage.py qcluster` subprocess (own process group) on this test's database, with the
  short dispatch timings of `billing.tests.dispatch_e2e_settings`, an isolated django-q queue name and cache
  key prefix (the Redis server is shared with other jobs), and a daily cap no other job's traffic can reach.
- `OutageProxy`: an HTTP forwarder in front of the WAHA simulator that can go *down* (listening socket closed:
  new connections are refused; a request arriving on a kept-alive connection is dropped unanswered, never
  forwarded) and come back *up* on the same port. The simulator keeps its state (outbox) through the outage.
- `wait_until`: poll a condition with a deadline (no fixed sleeps).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cobranca.testing import subprocess_database_url

BASE_DIR = Path(__file__).resolve().parents[2]


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def queue_name() -> str:
    """A django-q queue (list key) of this test process only: other jobs share the Redis server."""
    return f"faults-{os.getpid()}"


def isolate_queue(monkeypatch) -> str:
    """Point this process's async_task at `queue_name()`, the queue the QCluster subprocess reads."""
    from django_q.conf import Conf

    name = queue_name()
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "PREFIX", name)
    return name


class QCluster:
    """`manage.py qcluster` in its own process group (stop() ends master and workers, by that group id)."""

    def __init__(self, *, waha_url: str, waha_key: str, log_path: Path, extra_env: dict | None = None):
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
                "Q_WORKERS": "2",
                "Q_SYNC": "false",
                "Q_CLUSTER_NAME": queue_name(),
                "CACHE_KEY_PREFIX": f"faults-{os.getpid()}",
                # The Redis pacing hash of session "default" (and its per-day counter) is shared with every
                # other job on this Redis: a cap nobody reaches keeps their traffic from deferring ours.
                "DISPATCH_DAILY_CAP": "100000000",
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
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def wait_cluster_ready(timeout: float = 60.0) -> None:
    """Enqueue a harmless task and wait until a worker has run it: the cluster is up and polling."""
    from django_q.models import Task
    from django_q.tasks import async_task

    task_id = async_task("billing.tasks.dispatch_recover_stale_task")
    wait_until(
        lambda: Task.objects.filter(id=task_id).exists(), timeout=timeout, what="qcluster to run a task"
    )


# --- WAHA outage -------------------------------------------------------------------------------------------

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
}


class OutageProxy:
    """HTTP/1.1 keep-alive forwarder to `upstream`; `down()` makes WAHA unreachable, `up()` brings it back.

    Down means nothing reaches the simulator: the listening socket is closed (connect → ECONNREFUSED), and a
    request that arrives on a connection kept alive from before is dropped without an answer and without
    being forwarded. A request already forwarded when `down()` is called completes normally, so every
    failure the sender sees is one where WAHA provably did not get the message.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.down_flag = threading.Event()
        self.forwarded = 0
        self.dropped = 0
        self._lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            timeout = 30

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.down_flag.is_set():
                    with proxy._lock:
                        proxy.dropped += 1
                    self.close_connection = True
                    # Reset rather than a polite FIN, like a crashed peer.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    with proxy._lock:
                        proxy.forwarded += 1
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP and key.lower() not in (
                            "content-length",
                            "server",
                            "date",
                        ):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> None:
        """(Re)open the listening socket on the same port and forward again."""
        assert self.server is None, "already up"
        # HTTPServer sets SO_REUSEADDR: the port can be bound again at once after down().
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.down_flag.clear()
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def down(self) -> None:
        """Stop answering: close the listener (refused) and drop requests on kept-alive connections."""
        self.down_flag.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def refuses(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        return False

    def close(self) -> None:
        self.down()
