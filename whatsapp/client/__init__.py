"""HTTP client for WAHA (WhatsApp HTTP API), the only place that talks to it.

This module is a leaf: it imports no other app of the project, so models, tasks and views can all depend on it
without import cycles. Errors are normalised into :class:`WahaError` with a ``permanent`` flag and a short
``reason`` so callers can decide between retrying later, pausing a campaign, or giving up on a contact.

Privacy rule: WAHA's 500 answers echo the whole request body (the message text). Nothing from a request body
or from a 500 body ever goes into an exception message or a log line here; only the path, status and reason.
"""

from __future__ import annotations

import base64
import functools
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from loguru import logger

from .responses import (
    REASONS,
    WahaAck,
    WahaError,
    _connection_never_made,
    _digits,
    _too_large,
    classify_response,
    parse_send_text_response,
)

__all__ = [
    "DEFAULT_EVENTS",
    "REASONS",
    "WEBHOOK_RETRIES",
    "WahaAck",
    "WahaClient",
    "WahaError",
    "classify_response",
    "get_client",
    "parse_send_text_response",
]

DEFAULT_EVENTS = ["message", "message.any", "message.ack", "session.status"]

# Webhook retry policy we ask WAHA for: the documented default made explicit, so a change of default upstream
# does not silently change how long an outage of our webhook endpoint can last without losing events.
WEBHOOK_RETRIES = {"policy": "constant", "delaySeconds": 2, "attempts": 15}


class WahaClient:
    """Synchronous WAHA API client sharing one keep-alive ``requests.Session``.

    Every argument defaults to the matching ``WAHA_*`` Django setting, so production code uses
    :func:`get_client` and tests point an instance at the simulator.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        session_name: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.base_url = (base_url or settings.WAHA_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.WAHA_API_KEY
        self.session_name = session_name or settings.WAHA_SESSION_NAME
        self.connect_timeout = float(
            connect_timeout if connect_timeout is not None else settings.WAHA_CONNECT_TIMEOUT
        )
        self.read_timeout = float(read_timeout if read_timeout is not None else settings.WAHA_READ_TIMEOUT)
        self.http = requests.Session()
        self.http.headers.update({"X-Api-Key": self.api_key, "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"WahaClient(base_url={self.base_url!r}, session_name={self.session_name!r})"

    def close(self) -> None:
        self.http.close()

    # --- transport --------------------------------------------------------------------------------------

    # long-function: one HTTP call's steps (send, retry, classify) read best in order
    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict | None = None,
        params: dict | None = None,
        accept: str | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Perform one call; raise a classified WahaError for anything but 2xx. Never logs bodies."""
        headers = {"Accept": accept} if accept else None
        try:
            response = self.http.request(
                method,
                self.base_url + path,
                json=json_body,
                params=params,
                headers=headers,
                timeout=(self.connect_timeout, self.read_timeout),
                stream=stream,
            )
        except requests.ConnectTimeout:
            # No connection was made: nothing was sent.
            logger.warning("WAHA {} {} -> connect timeout", method, path)
            raise WahaError(
                "timeout",
                f"WAHA did not accept a connection in time ({path})",
                permanent=False,
                path=path,
                maybe_delivered=False,
            ) from None
        except requests.Timeout:
            # The request went out and the answer did not come back in time.
            logger.warning("WAHA {} {} -> timeout", method, path)
            raise WahaError(
                "timeout",
                f"WAHA did not answer in time ({path})",
                permanent=False,
                path=path,
                maybe_delivered=True,
            ) from None
        except requests.ConnectionError as exc:
            refused = _connection_never_made(exc)
            logger.warning("WAHA {} {} -> {}", method, path, "unreachable" if refused else "connection lost")
            message = (
                f"WAHA is unreachable at {self.base_url} ({path})"
                if refused
                else f"the connection to WAHA was lost before its answer ({path})"
            )
            raise WahaError(
                "connection", message, permanent=False, path=path, maybe_delivered=not refused
            ) from None
        except requests.RequestException as exc:
            logger.warning("WAHA {} {} -> {}", method, path, type(exc).__name__)
            raise WahaError(
                "connection",
                f"WAHA request failed ({type(exc).__name__}, {path})",
                permanent=False,
                path=path,
                maybe_delivered=True,
            ) from None
        if response.status_code >= 400:
            error = classify_response(response, path)
            logger.warning("WAHA {} {} -> {} ({})", method, path, response.status_code, error.reason)
            raise error
        return response

    def _json(self, response: requests.Response, path: str) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise WahaError(
                "bad_response",
                f"WAHA answered with invalid JSON ({path})",
                permanent=False,
                status_code=response.status_code,
                path=path,
            ) from None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(self._request(method, path, **kwargs), path)

    def _dict(self, method: str, path: str, **kwargs: Any) -> dict:
        data = self._call(method, path, **kwargs)
        if not isinstance(data, dict):
            raise WahaError(
                "bad_response", f"WAHA answered with an unexpected body ({path})", permanent=False, path=path
            )
        return data

    def _session(self, session: str | None) -> str:
        return session or self.session_name

    @staticmethod
    def _seg(value: str) -> str:
        """URL-encode one path segment (``@`` becomes ``%40``, as WAHA's lids docs ask)."""
        return quote(value, safe="")

    # --- messages ---------------------------------------------------------------------------------------

    def send_text(
        self,
        chat_id: str,
        text: str,
        *,
        session: str | None = None,
        message_id: str | None = None,
        reply_to: str | None = None,
        link_preview: bool = False,
    ) -> str:
        """Send a text and return its serialized id ``true_<chatId>_<ID>`` (the id ``message.ack`` carries).

        Pass ``message_id`` (from :meth:`new_message_id`) to know the id before sending, so a timeout after
        WAHA accepted the message can still be matched to the later webhooks.
        """
        body: dict[str, Any] = {
            "session": self._session(session),
            "chatId": chat_id,
            "text": text,
            "linkPreview": link_preview,
        }
        if message_id:
            body["id"] = message_id
        if reply_to:
            body["reply_to"] = reply_to
        response = self._request("POST", "/api/sendText", json_body=body)
        return parse_send_text_response(response.content, chat_id, message_id)

    def new_message_id(self, *, session: str | None = None) -> str:
        path = f"/api/{self._seg(self._session(session))}/new-message-id"
        data = self._dict("GET", path)
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise WahaError(
                "bad_response", f"WAHA returned no message id ({path})", permanent=False, path=path
            )
        return data["id"]

    def send_seen(
        self, chat_id: str, *, message_ids: list[str] | None = None, session: str | None = None
    ) -> None:
        body: dict[str, Any] = {"session": self._session(session), "chatId": chat_id}
        if message_ids:
            body["messageIds"] = list(message_ids)
        self._request("POST", "/api/sendSeen", json_body=body)

    def start_typing(self, chat_id: str, *, session: str | None = None) -> None:
        self._request(
            "POST", "/api/startTyping", json_body={"session": self._session(session), "chatId": chat_id}
        )

    def stop_typing(self, chat_id: str, *, session: str | None = None) -> None:
        self._request(
            "POST", "/api/stopTyping", json_body={"session": self._session(session), "chatId": chat_id}
        )

    # --- numbers ----------------------------------------------------------------------------------------

    def check_exists(self, phone: str, *, session: str | None = None) -> str | None:
        """Return the chatId WhatsApp knows for ``phone`` (may drop the Brazilian 9th digit), or None.

        Send to the returned chatId, never to the number as typed: a 13-digit Brazilian number registered
        before the 9th digit existed gets 201 and ack 1 but is never delivered (#238, #2120).
        """
        digits = _digits(phone)
        data = self._dict(
            "GET", "/api/contacts/check-exists", params={"phone": digits, "session": self._session(session)}
        )
        if not data.get("numberExists"):
            return None
        chat_id = data.get("chatId")
        return str(chat_id) if chat_id else f"{digits}@c.us"

    def lid_to_phone(self, lid: str, *, session: str | None = None) -> str | None:
        """Resolve a hidden ``…@lid`` id to the phone chat id ``…@c.us``; None when WAHA does not know it."""
        lid = lid if "@" in lid else f"{lid}@lid"
        path = f"/api/{self._seg(self._session(session))}/lids/{self._seg(lid)}"
        try:
            data = self._dict("GET", path)
        except WahaError as exc:
            if exc.reason == "not_found":
                return None
            raise
        pn = data.get("pn")
        return str(pn) if pn else None

    def phone_to_lid(self, phone: str, *, session: str | None = None) -> str | None:
        path = f"/api/{self._seg(self._session(session))}/lids/pn/{self._seg(_digits(phone))}"
        try:
            data = self._dict("GET", path)
        except WahaError as exc:
            if exc.reason == "not_found":
                return None
            raise
        lid = data.get("lid")
        return str(lid) if lid else None

    # --- sessions ---------------------------------------------------------------------------------------

    def list_sessions(self, *, all: bool = True) -> list[dict]:
        data = self._call("GET", "/api/sessions", params={"all": "true"} if all else None)
        if not isinstance(data, list):
            raise WahaError(
                "bad_response",
                "WAHA answered /api/sessions with a non-list",
                permanent=False,
                path="/api/sessions",
            )
        return data

    def get_session(self, name: str | None = None) -> dict:
        return self._dict("GET", f"/api/sessions/{self._seg(self._session(name))}")

    def upsert_session(
        self,
        name: str | None = None,
        *,
        webhook_url: str | None = None,
        hmac_key: str | None = None,
        events: list[str] | None = None,
    ) -> dict:
        """Create the session, or replace its config if it exists, and make sure it is started.

        ``"start": true`` is always sent explicitly: WAHA's controller treats a missing ``start`` as false
        although the docs say it defaults to true. The webhook URL and HMAC key default to the settings.
        """
        name = self._session(name)
        url = webhook_url if webhook_url is not None else settings.WAHA_WEBHOOK_URL
        key = hmac_key if hmac_key is not None else settings.WAHA_WEBHOOK_HMAC_KEY
        config: dict[str, Any] = {}
        if url:
            webhook: dict[str, Any] = {"url": url, "events": list(events or DEFAULT_EVENTS)}
            if key:
                webhook["hmac"] = {"key": key}
            webhook["retries"] = dict(WEBHOOK_RETRIES)
            config["webhooks"] = [webhook]
        seg = self._seg(name)
        try:
            self.get_session(name)
            exists = True
        except WahaError as exc:
            if exc.reason != "not_found":
                raise
            exists = False
        if not exists:
            try:
                return self._dict(
                    "POST", "/api/sessions", json_body={"name": name, "start": True, "config": config}
                )
            except WahaError as exc:
                if exc.status_code != 422 or "already exists" not in exc.message:
                    raise
                # Created concurrently by someone else: fall through to the update.
        self._dict("PUT", f"/api/sessions/{seg}", json_body={"config": config})
        return self.start_session(name)

    def start_session(self, name: str | None = None) -> dict:
        return self._dict("POST", f"/api/sessions/{self._seg(self._session(name))}/start")

    def stop_session(self, name: str | None = None) -> dict:
        return self._dict("POST", f"/api/sessions/{self._seg(self._session(name))}/stop")

    def restart_session(self, name: str | None = None) -> dict:
        return self._dict("POST", f"/api/sessions/{self._seg(self._session(name))}/restart")

    def logout_session(self, name: str | None = None) -> dict:
        return self._dict("POST", f"/api/sessions/{self._seg(self._session(name))}/logout")

    def me(self, name: str | None = None) -> dict | None:
        """The connected account (``{"id": "…@c.us", "pushName": …}``) or None while not authenticated."""
        data = self._call("GET", f"/api/sessions/{self._seg(self._session(name))}/me")
        return data if isinstance(data, dict) else None

    def qr_png(self, name: str | None = None) -> bytes:
        """The pairing QR code as PNG bytes (WAHA answers 422 unless the session is in SCAN_QR_CODE)."""
        path = f"/api/{self._seg(self._session(name))}/auth/qr"
        response = self._request("GET", path, params={"format": "image"}, accept="image/png")
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            # Some versions answer base64 JSON whatever the Accept header says.
            data = self._dict("GET", path, params={"format": "image"}, accept="application/json")
            return base64.b64decode(data.get("data", ""))
        return response.content

    def qr_raw(self, name: str | None = None) -> str:
        path = f"/api/{self._seg(self._session(name))}/auth/qr"
        data = self._dict("GET", path, params={"format": "raw"}, accept="application/json")
        value = data.get("value")
        if not isinstance(value, str):
            raise WahaError("bad_response", f"WAHA returned no QR value ({path})", permanent=False, path=path)
        return value

    # --- media ------------------------------------------------------------------------------------------

    def download_media(self, url: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The file of an inbound message (its ``media.url``) as (bytes, declared Content-Type).

        Only the URL's path is used, and it must be WAHA's file route (``/api/files/…``): the file is fetched
        from this client's base URL with the API key, never from the host the webhook named (WAHA announces
        its own idea of its address, e.g. ``localhost:3000`` inside a container, and a forged URL must not
        make us call elsewhere). Refuses more than ``max_bytes`` from Content-Length, then while reading."""
        parts = urlsplit(url or "")
        path = parts.path
        if not path.startswith("/api/files/") or ".." in path.split("/"):
            raise WahaError(
                "bad_media_url", "the media URL is not a WAHA file URL", permanent=True, path="/api/files/"
            )
        response = self._request("GET", path, accept="*/*", stream=True)
        try:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(path, max_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(path, max_bytes)
                chunks.append(chunk)
        except requests.RequestException:
            raise WahaError(
                "connection", f"the media download broke off ({path})", permanent=False, path=path
            ) from None
        finally:
            response.close()
        return b"".join(chunks), response.headers.get("Content-Type", "")

    # --- server -----------------------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when WAHA answers ``/ping`` with pong; never raises (health checks call it)."""
        try:
            data = self._call("GET", "/ping")
        except WahaError:
            return False
        return isinstance(data, dict) and data.get("message") == "pong"

    def server_version(self) -> dict:
        return self._dict("GET", "/api/server/version")


_client_lock = threading.Lock()


@functools.cache
def _cached_client() -> WahaClient:
    return WahaClient()


def get_client() -> WahaClient:
    """The process-wide client (one keep-alive connection pool). ``get_client.cache_clear()`` drops it."""
    with _client_lock:
        return _cached_client()


def _clear_client_cache() -> None:
    with _client_lock:
        if _cached_client.cache_info().currsize:
            _cached_client().close()
        _cached_client.cache_clear()


get_client.cache_clear = _clear_client_cache  # type: ignore[attr-defined]
