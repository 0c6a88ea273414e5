"""HTTP front of the WAHA simulator: routes, API-key check and WAHA-shaped responses on a stdlib server.

Uses ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive so the project's ``requests.Session`` reuses its
connection as it would against real WAHA; no Django is imported, so the same server runs inside tests, in a
thread, and in the foreground from ``manage.py waha_simulator``.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from whatsapp.simulator.core import ApiError, Simulator, SimulatorOptions

Handler = Callable[["_RequestHandler", dict[str, str]], tuple[int, Any]]
_ROUTES: list[tuple[str, re.Pattern[str], str]] = []

# A sentinel for "201 with no body" (sendSeen, typing, WEBJS's empty sendText answer).
EMPTY = object()


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler method for ``METHOD /path/{param}``; params match one URL segment."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        _ROUTES.append((method, regex, fn.__name__))
        return fn

    return decorator


class WahaSimulatorServer(ThreadingHTTPServer):
    """The simulator bound to an address: ``start_in_thread()`` for tests, ``serve_forever()`` otherwise."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], options: SimulatorOptions | None = None, *, verbose: bool = False
    ):
        self.simulator = Simulator(options)
        self.verbose = verbose
        self._thread: threading.Thread | None = None
        try:
            super().__init__(address, _RequestHandler)
        except OSError:
            self.simulator.close()
            raise
        # media.url points here, as WAHA's points at its own base URL.
        self.simulator.public_url = self.base_url

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="waha-simulator", daemon=True
        )
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop serving, close the socket and the background threads."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()
        self.simulator.close()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WAHA-simulator"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after a minute
    # Headers and body go out in two writes; with Nagle on, each keep-alive answer waits ~40 ms for the
    # client's delayed ACK, capping the simulator at ~20 requests/s.
    disable_nagle_algorithm = True
    server: WahaSimulatorServer

    # --- plumbing ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"[waha-simulator] {self.address_string()} {format % args}\n")

    @property
    def sim(self) -> Simulator:
        return self.server.simulator

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        self.route_path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""
        try:
            if not self._authorized():
                self._send(401, {"message": "Unauthorized", "statusCode": 401})
                return
            latency = float(self.sim.faults.get("latency_ms") or 0)
            if latency and not self.route_path.startswith("/simulator/"):
                time.sleep(latency / 1000)
            for route_method, regex, name in _ROUTES:
                match = regex.match(self.route_path)
                if match and route_method == method:
                    params = {k: unquote(v) for k, v in match.groupdict().items()}
                    status, body = getattr(self, name)(params)
                    self._send(status, body)
                    return
            self._send(
                404,
                {"message": f"Cannot {method} {self.route_path}", "error": "Not Found", "statusCode": 404},
            )
        except ApiError as exc:
            self._send(exc.status, exc.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # noqa: BLE001 - answer 500 like WAHA instead of dropping the connection
            traceback.print_exc(file=sys.stderr)
            self._send(500, {"statusCode": 500, "exception": {"message": "simulator internal error"}})

    def _authorized(self) -> bool:
        key = self.sim.options.api_key
        if not key:
            return True
        return self.headers.get("X-Api-Key") == key or self.query.get("x-api-key") == key

    def _json(self) -> Any:
        if not self.raw_body.strip():
            return {}
        try:
            return json.loads(self.raw_body)
        except ValueError:
            raise ApiError(
                400, {"message": "Unexpected token in JSON", "error": "Bad Request", "statusCode": 400}
            ) from None

    def _send(self, status: int, body: Any) -> None:
        content_type = "application/json; charset=utf-8"
        if body is EMPTY or (body is None and status == 201):
            payload = b""
        elif isinstance(body, tuple):  # (content type, bytes): a stored media file
            content_type, payload = body
        elif isinstance(body, bytes):
            payload = body
            content_type = "image/png"
        else:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- server -----------------------------------------------------------------------------------------

    @route("GET", "/ping")
    def ping(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"message": "pong"}

    @route("GET", "/health")
    def health(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"status": "ok"}

    @route("GET", "/api/server/version")
    def version(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.server_version()

    # --- sessions ---------------------------------------------------------------------------------------

    @route("GET", "/api/sessions")
    def list_sessions(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.list_sessions(self.query.get("all", "").lower() in ("true", "1"))

    @route("POST", "/api/sessions")
    def create_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.create_session(self._json())

    @route("GET", "/api/sessions/{session}")
    def get_session(self, params: dict[str, str]) -> tuple[int, Any]:
        with self.sim.lock:
            return 200, self.sim.info(self.sim.get(params["session"]))

    @route("PUT", "/api/sessions/{session}")
    def update_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.update_session(params["session"], self._json())

    @route("DELETE", "/api/sessions/{session}")
    def delete_session(self, params: dict[str, str]) -> tuple[int, Any]:
        self.sim.delete_session(params["session"])
        return 200, EMPTY

    @route("POST", "/api/sessions/{session}/start")
    def start_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.start_session(params["session"])

    @route("POST", "/api/sessions/{session}/stop")
    def stop_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.stop_session(params["session"])

    @route("POST", "/api/sessions/{session}/restart")
    def restart_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.restart_session(params["session"])

    @route("POST", "/api/sessions/{session}/logout")
    def logout_session(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.logout_session(params["session"])

    @route("GET", "/api/sessions/{session}/me")
    def me(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.me(params["session"])

    @route("GET", "/api/{session}/auth/qr")
    def qr(self, params: dict[str, str]) -> tuple[int, Any]:
        fmt = self.query.get("format", "image")
        want_json = "application/json" in (self.headers.get("Accept") or "")
        _, body = self.sim.qr(params["session"], fmt, want_json)
        return 200, body

    # --- messages and numbers ---------------------------------------------------------------------------

    @route("POST", "/api/sendText")
    def send_text(self, params: dict[str, str]) -> tuple[int, Any]:
        body, _ = self.sim.send_text(self._json(), self.route_path)
        return 201, EMPTY if body is None else body

    @route("GET", "/api/{session}/new-message-id")
    def new_message_id(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.new_message_id(params["session"])

    @route("POST", "/api/sendSeen")
    def send_seen(self, params: dict[str, str]) -> tuple[int, Any]:
        self.sim.chat_action(self._json())
        return 201, EMPTY

    @route("POST", "/api/startTyping")
    def start_typing(self, params: dict[str, str]) -> tuple[int, Any]:
        self.sim.chat_action(self._json())
        return 201, EMPTY

    @route("POST", "/api/stopTyping")
    def stop_typing(self, params: dict[str, str]) -> tuple[int, Any]:
        self.sim.chat_action(self._json())
        return 201, EMPTY

    @route("GET", "/api/contacts/check-exists")
    def check_exists(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.check_exists(self.query.get("phone"), self.query.get("session"))

    @route("GET", "/api/{session}/lids/pn/{phone}")
    def pn_to_lid(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.pn_to_lid(params["session"], params["phone"])

    @route("GET", "/api/{session}/lids/{lid}")
    def lid_to_pn(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.lid_to_pn(params["session"], params["lid"])

    @route("GET", "/api/files/{session}/{name}")
    def media_file(self, params: dict[str, str]) -> tuple[int, Any]:
        """An inbound message's media (its ``media.url``); the API key is checked like every route."""
        return 200, self.sim.media_file(params["session"], params["name"])

    # --- simulator control (not part of WAHA) -----------------------------------------------------------

    @route("POST", "/simulator/inbound")
    def control_inbound(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.inbound(self._json())

    @route("POST", "/simulator/reply-from-phone")
    def control_reply_from_phone(self, params: dict[str, str]) -> tuple[int, Any]:
        return 201, self.sim.reply_from_phone(self._json())

    @route("GET", "/simulator/outbox")
    def control_outbox(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.outbox_items()

    @route("GET", "/simulator/webhooks")
    def control_webhooks(self, params: dict[str, str]) -> tuple[int, Any]:
        deliveries = self.sim.dispatcher.deliveries()
        if self.query.get("event"):
            deliveries = [d for d in deliveries if d["event"] == self.query["event"]]
        return 200, deliveries

    @route("GET", "/simulator/events")
    def control_events(self, params: dict[str, str]) -> tuple[int, Any]:
        events = self.sim.event_items()
        if self.query.get("event"):
            events = [e for e in events if e["event"] == self.query["event"]]
        return 200, events

    @route("GET", "/simulator/faults")
    def control_get_faults(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, dict(self.sim.faults)

    @route("POST", "/simulator/faults")
    def control_faults(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.set_faults(self._json())

    @route("GET", "/simulator/config")
    def control_get_config(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.current_config()

    @route("POST", "/simulator/config")
    def control_config(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.configure(self._json())

    @route("POST", "/simulator/contacts")
    def control_contacts(self, params: dict[str, str]) -> tuple[int, Any]:
        body = self._json()
        self.sim.validate(body, ("phone",))
        chat_id = body.get("chatId")
        self.sim.add_contact(body["phone"], chat_id if isinstance(chat_id, str) else None)
        return 200, {
            "phone": body["phone"],
            "chatId": self.sim.resolve_number(re.sub(r"\D", "", body["phone"])),
        }

    @route("POST", "/simulator/sessions/{session}/scan")
    def control_scan(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.sim.scan(params["session"])

    @route("POST", "/simulator/sessions/{session}/status")
    def control_status(self, params: dict[str, str]) -> tuple[int, Any]:
        body = self._json()
        self.sim.validate(body, ("status",))
        return 200, self.sim.force_status(params["session"], body["status"])

    @route("GET", "/simulator/idle")
    def control_idle(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, {"idle": self.sim.idle()}

    @route("POST", "/simulator/reset")
    def control_reset(self, params: dict[str, str]) -> tuple[int, Any]:
        self.sim.reset()
        return 200, {"reset": True}
