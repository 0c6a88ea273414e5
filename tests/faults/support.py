"""Helpers for the fault-injection tests (not a test module: no test_ prefix, pytest does not collect it).

- `fault_cluster`: a real `manage.py qcluster` subprocess (own process group) on this test's database, with
  the short dispatch timings of `billing.tests.dispatch_e2e_settings`, an isolated django-q queue name and
  cache key prefix (the Redis server is shared with other jobs), and a daily cap no other job's traffic can
  reach.
- `OutageProxy`: an HTTP forwarder in front of the WAHA simulator that can go *down* (listening socket closed:
  new connections are refused; a request arriving on a kept-alive connection is dropped unanswered, never
  forwarded) and come back *up* on the same port. The simulator keeps its state (outbox) through the outage.
"""

from __future__ import annotations

import http.client
import os
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cobranca.testing import QCluster


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


def fault_cluster(*, waha_url: str, waha_key: str, log_path: Path, extra_env: dict | None = None) -> QCluster:
    """The shared QCluster harness with an isolated queue name and cache prefix (the Redis server is shared
    with other jobs) and a daily cap no other job's traffic can reach (the Redis pacing hash of session
    "default" is shared too)."""
    isolation = {
        "Q_CLUSTER_NAME": queue_name(),
        "CACHE_KEY_PREFIX": f"faults-{os.getpid()}",
        "DISPATCH_DAILY_CAP": "100000000",
    }
    return QCluster(
        waha_url=waha_url, waha_key=waha_key, log_path=log_path, extra_env={**isolation, **(extra_env or {})}
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
