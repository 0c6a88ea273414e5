"""HTTP front of the PSP simulator: API Pix under ``/v2``, OAuth2 at ``/oauth/token``, control at ``/_sim/``.

A stdlib ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, like the WAHA simulator: no Django, so the same
server runs in a test's thread and in the foreground from ``manage.py pix_simulator``.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import control
from .state import Options, Problem, PspState

API = "/v2"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = []
NO_CONTENT = object()


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        _ROUTES.append((method, regex, fn.__name__))
        return fn

    return decorator


class PixSimulatorServer(ThreadingHTTPServer):
    """The simulated PSP on an address: ``start_in_thread()`` for tests, ``serve_forever()`` otherwise."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], options: Options | None = None, *, verbose: bool = False):
        self.state = PspState(options)
        self.verbose = verbose
        self._thread: threading.Thread | None = None
        super().__init__(address, _Handler)
        try:
            self.tls = self._tls_context(self.state.options)
        except (OSError, ValueError):
            self.server_close()
            raise
        if self.tls is not None:
            self.socket = self.tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        if self.state.options.public_host is None:
            self.state.options.public_host = f"{self.server_address[0]}:{self.server_address[1]}"

    @staticmethod
    def _tls_context(options: Options) -> ssl.SSLContext | None:
        if not options.tls_cert:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        if options.tls_client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(options.tls_client_ca)
        return context

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the request's thread, so a client that never completes it (or has no
        # certificate) holds up nobody else.
        if self.tls is not None:
            try:
                request.settimeout(10)
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                if self.verbose:
                    sys.stderr.write(f"[pix-simulator] {client_address[0]} TLS refused: {exc}\n")
                return
        super().finish_request(request, client_address)

    @property
    def root_url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.tls is not None else 'http'}://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What PIX_API_BASE_URL should be."""
        return self.root_url + API

    @property
    def oauth_url(self) -> str:
        """What PIX_OAUTH_URL should be."""
        return self.root_url + "/oauth/token"

    def start_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="pix-simulator", daemon=True
        )
        self._thread.start()
        return self._thread

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PSP-simulator"
    sys_version = ""
    timeout = 60
    disable_nagle_algorithm = True  # see whatsapp/simulator/server.py: Nagle + delayed ACK caps keep-alive
    server: PixSimulatorServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"[pix-simulator] {self.address_string()} {format % args}\n")

    @property
    def state(self) -> PspState:
        return self.server.state

    # long-function: the request's steps (parse, authenticate, fault, route, answer) read best in order
    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        api = path.startswith(API + "/")
        try:
            self.body = self._parse_body(raw, form=path == "/oauth/token")
            if api:
                self._record(method, path)
                if not self._authorized():
                    with self.state.lock:
                        self.state.unauthorized += 1
                    raise Problem(
                        401, "AcessoNegado", "Não autorizado", "token ausente, inválido ou expirado"
                    )
                fault = self.state.take_fault()
                if fault and fault[0] == "5xx":
                    raise Problem(
                        503,
                        "ServicoIndisponivel",
                        "Serviço Indisponível",
                        "Serviço não está disponível no momento.",
                    )
                if fault:
                    time.sleep(fault[1])
            for route_method, regex, name in _ROUTES:
                match = regex.match(path)
                if match and route_method == method:
                    status, answer = getattr(self, name)(
                        {k: unquote(v) for k, v in match.groupdict().items()}
                    )
                    self._send(status, answer)
                    return
            raise Problem(404, "NaoEncontrado", "Não Encontrado", f"{method} {path} não existe")
        except Problem as exc:
            self._send(exc.status, exc.body, problem=True)
        except (ValueError, TypeError, KeyError) as exc:
            self._send(
                400,
                Problem(400, "RequisicaoInvalida", "Requisição inválida.", type(exc).__name__).body,
                problem=True,
            )

    def _parse_body(self, raw: bytes, *, form: bool) -> Any:
        """JSON, except the token request's form (RFC 6749); curl's default form type is ignored elsewhere."""
        if not raw:
            return None
        content_type = self.headers.get("Content-Type", "")
        if form and content_type.startswith("application/x-www-form-urlencoded"):
            return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
        try:
            return json.loads(raw)
        except ValueError:
            raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", "corpo não é JSON") from None

    def _record(self, method: str, path: str) -> None:
        with self.state.lock:
            self.state.requests.append(
                {"method": method, "path": path, "query": self.query, "body": self.body}
            )
            del self.state.requests[:-500]

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        return header.startswith("Bearer ") and self.state.token_valid(header[7:].strip())

    def _send(self, status: int, body: Any, *, problem: bool = False) -> None:
        if body is NO_CONTENT:
            data = b""
        else:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            if data:
                kind = "application/problem+json" if problem else "application/json"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout fault): nothing to answer to

    # --- OAuth2 -----------------------------------------------------------------------------------------

    @route("POST", "/oauth/token")
    def oauth_token(self, params: dict[str, str]) -> tuple[int, Any]:
        if self.state.take_oauth_fault():
            raise Problem(
                503, "ServicoIndisponivel", "Serviço Indisponível", "Serviço não está disponível no momento."
            )
        form = self.body if isinstance(self.body, dict) else {}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except ValueError:
                return 400, {"error": "invalid_request"}
        try:
            return 200, self.state.issue_token(unquote(client_id), unquote(secret))
        except Problem:
            return 401, {"error": "invalid_client"}

    # --- API Pix ----------------------------------------------------------------------------------------

    @route("PUT", API + "/cobv/{txid}")
    def put_cobv(self, params: dict[str, str]) -> tuple[int, Any]:
        return self.state.put_cobv(params["txid"], self.body)

    @route("PATCH", API + "/cobv/{txid}")
    def patch_cobv(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.patch_cobv(params["txid"], self.body)

    @route("GET", API + "/cobv/{txid}")
    def get_cobv(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.get_cobv(params["txid"])

    @route("GET", API + "/pix/{e2eid}")
    def get_pix(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.get_pix(params["e2eid"])

    @route("GET", API + "/pix")
    def list_pix(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.list_pix(self.query)

    @route("PUT", API + "/webhook/{chave}")
    def put_webhook(self, params: dict[str, str]) -> tuple[int, Any]:
        self.state.put_webhook(params["chave"], self.body)
        return 200, NO_CONTENT

    @route("GET", API + "/webhook/{chave}")
    def get_webhook(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.get_webhook(params["chave"])

    @route("DELETE", API + "/webhook/{chave}")
    def delete_webhook(self, params: dict[str, str]) -> tuple[int, Any]:
        self.state.delete_webhook(params["chave"])
        return 204, NO_CONTENT

    # --- operator control -------------------------------------------------------------------------------

    def _control_body(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise Problem(
                400, "RequisicaoInvalida", "Requisição inválida.", "o corpo deve ser um objeto JSON"
            )
        return self.body

    @route("POST", "/_sim/pay")
    def sim_pay(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, control.pay(self.state, self._control_body())

    @route("POST", "/_sim/notify-forged")
    def sim_notify_forged(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, control.notify_forged(self.state, self._control_body())

    @route("POST", "/_sim/faults")
    def sim_faults(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, self.state.set_faults(self._control_body())

    @route("GET", "/_sim/state")
    def sim_state(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, control.snapshot(self.state)

    @route("POST", "/_sim/reset")
    def sim_reset(self, params: dict[str, str]) -> tuple[int, Any]:
        self.state.reset()
        return 200, {"reset": True}
