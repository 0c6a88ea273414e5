"""Test helpers: a PSP simulator running in a thread, and a loopback endpoint that records webhook posts."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .server import PixSimulatorServer
from .state import Options

CLIENT_ID = "cobranca-test"
CLIENT_SECRET = "cobranca-test-secret"  # noqa: S105 - a test credential of the simulator


class SimulatorHandle:
    """A running simulator: its URLs, a ready client, and the operator's control API as methods."""

    def __init__(self, server: PixSimulatorServer) -> None:
        self.server = server
        self.state = server.state
        self.base_url = server.base_url
        self.oauth_url = server.oauth_url
        self.root_url = server.root_url
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET

    def client(self, **kwargs: Any) -> Any:
        from billing.pix_api.client import PixApiClient

        return PixApiClient(self.base_url, self.oauth_url, self.client_id, self.client_secret, **kwargs)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback simulator
            self.root_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def pay(self, txid: str, **body: Any) -> dict[str, Any]:
        return self.control("POST", "/_sim/pay", {"txid": txid, **body})

    def notify_forged(self, **body: Any) -> dict[str, Any]:
        return self.control("POST", "/_sim/notify-forged", body)

    def faults(self, **body: Any) -> dict[str, Any]:
        return self.control("POST", "/_sim/faults", body)

    def snapshot(self) -> dict[str, Any]:
        return self.control("GET", "/_sim/state")

    def reset(self) -> None:
        self.control("POST", "/_sim/reset")


@contextlib.contextmanager
def running_pix_simulator(options: Options | None = None) -> Iterator[SimulatorHandle]:
    """A simulator on a free loopback port that only knows the test credentials (``CLIENT_ID``/``SECRET``)."""
    options = options or Options(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    server = PixSimulatorServer(("127.0.0.1", 0), options)
    server.start_in_thread()
    try:
        yield SimulatorHandle(server)
    finally:
        server.close()


class WebhookReceiver:
    """What a webhook endpoint received: ``posts`` as (path, parsed JSON); ``status`` is what it answers."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.posts: list[tuple[str, Any]] = []
        self.status = 200
        self.condition = threading.Condition()
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}/webhook/pix/test-token"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} webhook posts, got {len(self.posts)}")
                self.condition.wait(left)
            return list(self.posts)


@contextlib.contextmanager
def running_webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.condition:
                receiver.posts.append((self.path, json.loads(raw or b"null")))
                receiver.condition.notify_all()
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = WebhookReceiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
