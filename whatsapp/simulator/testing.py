"""Helpers to use the WAHA simulator from tests: a running server in a thread, a handle to drive it, waits.

Tests must never sleep a fixed time waiting for webhooks or acks; they call the ``wait_for*`` helpers, which
poll a condition until a deadline and fail with a readable message.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from whatsapp.simulator.core import Simulator, SimulatorOptions
from whatsapp.simulator.server import WahaSimulatorServer

T = TypeVar("T")

# The simulator is on loopback: ignore any HTTP(S)_PROXY in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Fast defaults for tests: short transitions and acks, webhook retries every 50 ms instead of 2 s.
TEST_DEFAULTS: dict[str, Any] = {
    "api_key": "test-waha-key",
    "auto_scan_seconds": None,
    "starting_seconds": 0.02,
    "ack_delay_seconds": 0.02,
    "webhook_retry_delay_seconds": 0.05,
    "webhook_timeout_seconds": 3.0,
}


def wait_for(
    predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, message: str = ""
) -> T:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s" + (f": {message}" if message else ""))
        time.sleep(interval)


class SimulatorError(Exception):
    """A control call answered with an HTTP error."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"simulator answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class SimulatorHandle:
    """Drives a running simulator over HTTP (control endpoints) and waits for what it emits."""

    base_url: str
    api_key: str
    server: WahaSimulatorServer | None = field(default=None, repr=False)

    @property
    def simulator(self) -> Simulator:
        """Direct access to the in-process state (only when started by :func:`running_simulator`)."""
        assert self.server is not None, "not an in-process simulator"
        return self.server.simulator

    # --- raw calls --------------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> Any:
        """Call any simulator endpoint with the API key; return decoded JSON (None for empty bodies)."""
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"X-Api-Key": self.api_key, "Content-Type": "application/json"}
        all_headers.update(headers or {})
        request = urllib.request.Request(  # noqa: S310 - http URL we built
            self.base_url + path, data=data, headers=all_headers, method=method
        )
        try:
            with _OPENER.open(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            exc.close()
            raise SimulatorError(exc.code, json.loads(raw) if raw else None) from None
        return json.loads(raw) if raw else None

    # --- control endpoints ------------------------------------------------------------------------------

    def inbound(
        self,
        from_: str,
        text: str,
        *,
        session: str = "default",
        lid: bool = False,
        reply_to: str | None = None,
        media: bytes | None = None,
        mimetype: str = "",
        filename: str | None = None,
    ) -> dict[str, Any]:
        """A debtor writes ``text`` from ``from_`` (digits, ``…@c.us`` or ``…@lid``); with ``media`` he sends
        a file (``text`` is its caption, may be "") declared as ``mimetype``."""
        body: dict[str, Any] = {"from": from_, "text": text, "session": session, "lid": lid}
        if reply_to:
            body["reply_to"] = reply_to
        if media is not None:
            body["media"] = {
                "data": base64.b64encode(media).decode(),
                "mimetype": mimetype or "application/octet-stream",
                "filename": filename,
            }
        return self.request("POST", "/simulator/inbound", body)

    def reply_from_phone(self, to: str, text: str, *, session: str = "default") -> dict[str, Any]:
        return self.request(
            "POST", "/simulator/reply-from-phone", {"to": to, "text": text, "session": session}
        )

    def outbox(self) -> list[dict[str, Any]]:
        return self.request("GET", "/simulator/outbox")

    def webhooks(self, event: str | None = None) -> list[dict[str, Any]]:
        """Delivery attempts (one row per attempt, with ``status_code``, ``ok``, ``attempt``, ``body``)."""
        return self.request("GET", "/simulator/webhooks" + (f"?event={event}" if event else ""))

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every envelope emitted, whether or not a webhook was configured to receive it."""
        return self.request("GET", "/simulator/events" + (f"?event={event}" if event else ""))

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self.request("POST", "/simulator/faults", faults)

    def configure(self, **options: Any) -> dict[str, Any]:
        return self.request("POST", "/simulator/config", options)

    def set_webhook(
        self, url: str | None, hmac_key: str | None = None, events: list[str] | None = None
    ) -> None:
        """Point the global webhook (WHATSAPP_HOOK_URL's equivalent) at ``url``; None switches it off."""
        self.configure(webhook_url=url, hmac_key=hmac_key, webhook_events=events or ["*"])

    def set_engine(self, engine: str) -> None:
        self.configure(engine=engine)

    def add_contact(self, phone: str, chat_id: str | None) -> dict[str, Any]:
        """Register how check-exists answers for ``phone``; ``chat_id=None`` = not on WhatsApp."""
        return self.request("POST", "/simulator/contacts", {"phone": phone, "chatId": chat_id})

    def scan(self, session: str = "default") -> dict[str, Any]:
        return self.request("POST", f"/simulator/sessions/{session}/scan")

    def set_session_status(self, status: str, session: str = "default") -> dict[str, Any]:
        return self.request("POST", f"/simulator/sessions/{session}/status", {"status": status})

    def reset(self) -> None:
        self.request("POST", "/simulator/reset")

    def session(self, name: str = "default") -> dict[str, Any]:
        return self.request("GET", f"/api/sessions/{name}")

    def client(self, **overrides: Any) -> Any:
        """A :class:`whatsapp.client.WahaClient` pointed at this simulator (short timeouts)."""
        from whatsapp.client import WahaClient

        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "session_name": "default",
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
        }
        kwargs.update(overrides)
        return WahaClient(**kwargs)

    # --- waits ------------------------------------------------------------------------------------------

    wait_for = staticmethod(wait_for)

    def wait_for_outbox(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            items = self.outbox()
            return items if len(items) >= count else None

        return wait_for(enough, timeout, message=f"{count} message(s) in the outbox")

    def wait_for_event(
        self, event: str, predicate: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first emitted envelope of ``event`` matching ``predicate`` (on the envelope)."""

        def find() -> dict[str, Any] | None:
            return next((e for e in self.events(event) if predicate is None or predicate(e)), None)

        return wait_for(find, timeout, message=f"event {event}")

    def wait_for_webhook(
        self,
        event: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
        ok: bool | None = True,
    ) -> dict[str, Any]:
        """The first delivery attempt of ``event`` (successful by default) matching ``predicate``."""

        def find() -> dict[str, Any] | None:
            return next(
                (
                    d
                    for d in self.webhooks(event)
                    if (ok is None or d["ok"] == ok) and (predicate is None or predicate(d))
                ),
                None,
            )

        return wait_for(find, timeout, message=f"webhook {event}")

    def wait_for_ack(self, message_id: str, ack: int = 3, timeout: float = 5.0) -> dict[str, Any]:
        """The ``message.ack`` envelope with value ``ack`` for the serialized ``message_id``."""
        return self.wait_for_event(
            "message.ack", lambda e: e["payload"]["id"] == message_id and e["payload"]["ack"] == ack, timeout
        )

    def wait_for_status(self, status: str, session: str = "default", timeout: float = 5.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            info = self.session(session)
            return info if info["status"] == status else None

        return wait_for(reached, timeout, message=f"session {session} {status}")

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        """Until no transition, ack or webhook delivery/retry is pending."""
        wait_for(lambda: self.request("GET", "/simulator/idle")["idle"], timeout, message="simulator idle")


@contextlib.contextmanager
def running_simulator(**options: Any) -> Iterator[SimulatorHandle]:
    """Start a simulator on a free loopback port in a thread; yield its handle; stop it afterwards.

    Keyword arguments are :class:`SimulatorOptions` fields; test-friendly defaults (fast transitions and
    retries, default session already WORKING, API key ``test-waha-key``) apply to what is not given.
    """
    merged = {**TEST_DEFAULTS, **options}
    host = merged.pop("host", "127.0.0.1")
    server = WahaSimulatorServer((host, int(merged.pop("port", 0))), SimulatorOptions(**merged))
    server.start_in_thread()
    try:
        yield SimulatorHandle(
            base_url=server.base_url, api_key=server.simulator.options.api_key, server=server
        )
    finally:
        server.close()


# --- a webhook receiver for tests ---------------------------------------------------------------------------


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class WebhookReceiver:
    """A loopback HTTP endpoint recording every POST; can answer errors for the first N requests."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self.fail_next = 0
        self.fail_status = 500
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(ReceivedWebhook({k: v for k, v in self.headers.items()}, raw))
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                status = receiver.fail_status if failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook/waha"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def bodies(self, event: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self.received)
        return [r.json for r in items if event is None or r.json.get("event") == event]

    def requests(self, event: str | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            items = list(self.received)
        return [r for r in items if event is None or r.json.get("event") == event]

    def wait_for(self, event: str, count: int = 1, timeout: float = 5.0) -> list[ReceivedWebhook]:
        def enough() -> list[ReceivedWebhook] | None:
            items = self.requests(event)
            return items if len(items) >= count else None

        return wait_for(enough, timeout, message=f"{count} {event} webhook(s) received")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def running_webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
