"""The API Pix client: OAuth2 client credentials, mutual TLS, retries, the handful of calls a creditor needs.

See the package docstring for the rules (leaf module, privacy). One ``requests.Session`` per client keeps the
TLS connections to the PSP alive; the client is safe to share between threads (the token is renewed under a
lock).
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from loguru import logger

from .errors import PixApiError, classify_response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# The token is renewed this long before the PSP says it expires (at most a tenth of its life), so a call never
# leaves with a token that dies on the way.
TOKEN_MARGIN_SECONDS = 30.0
PAGE_SIZE = 100
# A PSP that keeps answering "there is another page" must not keep us paging forever.
MAX_PAGES = 10_000


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _rfc3339(value: datetime, name: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _seg(value: str) -> str:
    """One URL path segment, percent-encoded (a Pix key may be an e-mail or +55 phone)."""
    return quote(str(value), safe="")


class PixApiClient:
    """A client of one PSP's API Pix (BCB spec v2), as configured by the ``PIX_*`` settings.

    ``base_url`` is the API root including its version path (``https://psp.example/api/v2``); ``oauth_url``
    the token endpoint. A PSP on any host but the loopback must be reached with mutual TLS over https: without
    ``cert_file`` and ``key_file`` the constructor refuses (the simulator on 127.0.0.1 needs neither).
    ``retries`` is how many times a transient failure (timeout, connection, 5xx, 408, 429) is tried again.
    """

    # Seconds before retry n (n = 0, 1...): base * 2**n, capped. A class attribute so tests can shorten it.
    backoff_base = 0.3
    backoff_max = 5.0

    def __init__(
        self,
        base_url: str,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        cert_file: str | None = None,
        key_file: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
    ) -> None:
        self.base_url = _check_url("PIX_API_BASE_URL", base_url)
        self.oauth_url = _check_url("PIX_OAUTH_URL", oauth_url)
        if not client_id or not client_secret:
            raise ValueError("PIX_CLIENT_ID and PIX_CLIENT_SECRET are required")
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.mtls = self._check_tls(cert_file or None, key_file or None)
        self.http = requests.Session()
        self.http.headers.update({"Accept": "application/json"})
        if self.mtls:
            self.http.cert = (cert_file, key_file)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()

    def _check_tls(self, cert_file: str | None, key_file: str | None) -> bool:
        if bool(cert_file) != bool(key_file):
            raise ValueError("PIX_CERT_FILE and PIX_KEY_FILE must be given together (mutual TLS)")
        if cert_file and key_file:
            for name, path in (("PIX_CERT_FILE", cert_file), ("PIX_KEY_FILE", key_file)):
                if not os.path.isfile(path) or not os.access(path, os.R_OK):
                    raise ValueError(f"{name} is not a readable file: {path!r}")
            return True
        remote = [url for url in (self.base_url, self.oauth_url) if not is_loopback(url)]
        if remote:
            raise ValueError(
                f"a PSP outside the loopback ({urlsplit(remote[0]).hostname}) needs mutual TLS: set "
                "PIX_CERT_FILE and PIX_KEY_FILE to the certificate and key the PSP issued"
            )
        return False

    def __repr__(self) -> str:
        return f"PixApiClient(base_url={self.base_url!r}, client_id={self.client_id!r}, mtls={self.mtls!r})"

    def close(self) -> None:
        self.http.close()

    # --- OAuth2 -----------------------------------------------------------------------------------------

    def _access_token(self, *, refresh: bool = False, stale: str | None = None) -> str:
        """The cached token, or a new one when it is (about to be) expired or ``stale`` was refused."""
        with self._token_lock:
            usable = self._token and time.monotonic() < self._token_expires_at
            if usable and not (refresh and self._token == stale):
                return self._token  # type: ignore[return-value]
            self._token, self._token_expires_at = self._fetch_token()
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        response = self._send(
            "POST",
            self.oauth_url,
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self._client_secret),
        )
        if response.status_code >= 400:
            error = classify_response(response, "/oauth/token")
            if response.status_code in (400, 401, 403):
                # RFC 6749 answers bad client credentials with 400/401 invalid_client.
                error = PixApiError(
                    "unauthorized",
                    "the PSP refused the client credentials (PIX_CLIENT_ID / PIX_CLIENT_SECRET)",
                    permanent=True,
                    status=response.status_code,
                    path="/oauth/token",
                )
            logger.warning("API Pix POST /oauth/token -> {} ({})", response.status_code, error.reason)
            raise error
        data = self._json_object(response, "/oauth/token")
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise PixApiError(
                "bad_response", "the token answer has no access_token", permanent=False, path="/oauth/token"
            )
        try:
            lifetime = float(data.get("expires_in") or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        lifetime = lifetime if lifetime > 0 else 60.0
        margin = min(TOKEN_MARGIN_SECONDS, lifetime / 10)
        return token, time.monotonic() + lifetime - margin

    # --- transport --------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, path: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange; transport failures become transient PixApiErrors. Never logs bodies."""
        try:
            return self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            logger.warning("API Pix {} {} -> timeout", method, path)
            raise PixApiError(
                "timeout", f"the PSP did not answer in {self.timeout:g} s", permanent=False, path=path
            ) from None
        except requests.exceptions.SSLError as exc:
            logger.warning("API Pix {} {} -> TLS error", method, path)
            raise PixApiError(
                "connection", f"TLS with the PSP failed ({type(exc).__name__})", permanent=False, path=path
            ) from None
        except (requests.ConnectionError, requests.RequestException) as exc:
            logger.warning("API Pix {} {} -> {}", method, path, type(exc).__name__)
            raise PixApiError(
                "connection", f"the PSP is unreachable ({type(exc).__name__})", permanent=False, path=path
            ) from None

    # long-function: one call's loop (token, send, refresh once on 401, classify, back off) reads best whole
    def _request(
        self, method: str, path: str, *, json_body: dict | None = None, params: dict | None = None
    ) -> requests.Response:
        """Call ``base_url + path`` with a bearer token; retry transient failures; raise PixApiError."""
        refreshed = False
        attempt = 0
        while True:
            try:
                token = self._access_token()
                response = self._send(
                    method,
                    self.base_url + path,
                    path,
                    json=json_body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
                if response.status_code == 401 and not refreshed:
                    # The PSP may end a token before its expires_in (revoked, restarted): renew it once.
                    refreshed = True
                    logger.info("API Pix {} {} -> 401, renewing the token", method, path)
                    self._access_token(refresh=True, stale=token)
                    continue
                if response.status_code < 400:
                    return response
                error = classify_response(response, path)
                logger.warning("API Pix {} {} -> {} ({})", method, path, response.status_code, error.reason)
            except PixApiError as exc:
                error = exc
            if error.permanent or attempt >= self.retries:
                raise error
            time.sleep(min(self.backoff_base * 2**attempt, self.backoff_max))
            attempt += 1

    @staticmethod
    def _json_object(response: requests.Response, path: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PixApiError(
                "bad_response",
                "the PSP answered without the JSON object the spec promises",
                permanent=False,
                status=response.status_code,
                path=path,
            )
        return data

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._json_object(self._request(method, path, **kwargs), path)

    # --- cobv: charges with a due date ------------------------------------------------------------------

    def put_cobv(self, txid: str, body: dict) -> dict:
        """Create the charge ``txid`` (26-35 of [a-zA-Z0-9]); returns the spec's CobVGerada."""
        return self._call("PUT", f"/cobv/{_seg(txid)}", json_body=body)

    def patch_cobv(self, txid: str, body: dict) -> dict:
        """Revise the charge (amount, due date, debtor, status REMOVIDA_PELO_USUARIO_RECEBEDOR...)."""
        return self._call("PATCH", f"/cobv/{_seg(txid)}", json_body=body)

    def get_cobv(self, txid: str) -> dict:
        """The charge as the PSP has it (CobVCompleta, with the Pix received for it); PixNotFound if none."""
        return self._call("GET", f"/cobv/{_seg(txid)}")

    # --- Pix received -----------------------------------------------------------------------------------

    def get_pix(self, e2eid: str) -> dict:
        """The Pix with this endToEndId as the PSP recorded it; PixNotFound if it never arrived."""
        return self._call("GET", f"/pix/{_seg(e2eid)}")

    def list_pix(self, inicio: datetime, fim: datetime) -> Iterator[dict]:
        """Every Pix received between ``inicio`` and ``fim`` (aware datetimes), page after page."""
        params = {"inicio": _rfc3339(inicio, "inicio"), "fim": _rfc3339(fim, "fim")}
        page = 0
        while page < MAX_PAGES:
            query = {**params, "paginacao.paginaAtual": page, "paginacao.itensPorPagina": PAGE_SIZE}
            data = self._call("GET", "/pix", params=query)
            items = data.get("pix") or []
            if not isinstance(items, list):
                raise PixApiError("bad_response", "pix is not a list", permanent=False, path="/pix")
            yield from (item for item in items if isinstance(item, dict))
            paging = (data.get("parametros") or {}).get("paginacao") or {}
            try:
                pages = int(paging.get("quantidadeDePaginas", 1))
                current = int(paging.get("paginaAtual", page))
            except (TypeError, ValueError):
                raise PixApiError(
                    "bad_response", "parametros.paginacao is malformed", permanent=False, path="/pix"
                ) from None
            if current + 1 >= pages or not items:
                return
            page = current + 1

    # --- webhook ----------------------------------------------------------------------------------------

    def put_webhook(self, chave: str, webhook_url: str) -> None:
        """Register ``webhook_url`` for Pix paid to ``chave``; the PSP POSTs to ``webhook_url + "/pix"``."""
        self._request("PUT", f"/webhook/{_seg(chave)}", json_body={"webhookUrl": webhook_url})
