"""What WAHA answers, made sense of: ack levels, the classified WahaError, message ids, error bodies.

Part of the client (see the package docstring for the privacy rule: nothing from a request body or a 500 body
goes into an exception message or a log line).
"""

from __future__ import annotations

import enum
import json
import re
from typing import Any

import requests

REASONS = frozenset(
    {
        "unauthorized",
        "session_not_working",
        "session_not_found",
        "reachout_timelock",
        "timeout",
        "connection",
        "validation",
        "not_found",
        "server_error",
        "bad_response",
        "too_large",  # a media file over the configured limit
        "bad_media_url",  # a media URL that is not WAHA's file route
    }
)


class WahaAck(enum.IntEnum):
    """The `ack` of a WAHA `message.ack` webhook: how far one of our messages got."""

    ERROR = -1
    PENDING = 0
    SERVER = 1  # WhatsApp's server has it (sent)
    DEVICE = 2  # the debtor's phone has it (delivered)
    READ = 3
    PLAYED = 4  # voice/video played: counts as read


def _connection_never_made(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request could reach WAHA (refused, DNS, connect
    timeout); False for a connection that broke afterwards (reset, closed without an answer)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError | ConnectTimeoutError | NameResolutionError):
            return True
        reason = getattr(cause, "reason", None)  # urllib3's MaxRetryError wraps the real error here
        cause = reason if isinstance(reason, BaseException) else (cause.__cause__ or cause.__context__)
        if cause is None and exc.args and isinstance(exc.args[0], BaseException) and exc.args[0] not in seen:
            cause = exc.args[0]
    return False


class WahaError(Exception):
    """A failed WAHA call, classified so callers know whether retrying can help.

    ``message`` is safe to log and to store: it never contains the text that was being sent.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        path: str = "",
        maybe_delivered: bool | None = None,
    ) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.path = path
        # Whether WAHA may have acted on the request although we got no usable answer (the answer was lost or
        # empty). A sender must not blindly retry such a call: the message may already be on its way. An HTTP
        # error status or a refused connection means WAHA did not act.
        self.maybe_delivered = (
            reason in ("bad_response", "timeout") if maybe_delivered is None else maybe_delivered
        )

    @property
    def transient(self) -> bool:
        return not self.permanent

    def __repr__(self) -> str:
        return (
            f"WahaError(reason={self.reason!r}, status_code={self.status_code!r}, "
            f"permanent={self.permanent!r}, path={self.path!r})"
        )


def _digits(phone: str) -> str:
    """Keep only the digits of a phone number or chat id ("+55 (11) 98765-4321" → "5511987654321")."""
    return re.sub(r"\D", "", phone.split("@", 1)[0])


def _to_cus(jid: str) -> str:
    """Convert an internal ``…@s.whatsapp.net`` jid (maybe with ``:device``) to the public ``…@c.us``."""
    if jid.endswith("@s.whatsapp.net"):
        user = jid.split("@", 1)[0].split(":", 1)[0]
        return f"{user}@c.us"
    return jid


def _serialize(chat_id: str, message_id: str, from_me: bool = True) -> str:
    if message_id.startswith(("true_", "false_")):
        return message_id
    return f"{'true' if from_me else 'false'}_{_to_cus(chat_id)}_{message_id}"


def parse_send_text_response(body: bytes | str | dict | None, chat_id: str, fallback_id: str | None) -> str:
    """Extract the serialized message id ``true_<chatId>_<ID>`` from WAHA's engine-specific sendText body.

    WAHA documents sendText as returning a WAMessage, but each engine returns its own raw object (#760), and
    WEBJS sometimes returns nothing (#1083). ``fallback_id`` is the id we pre-generated and passed, used when
    the body carries none.
    """
    data: Any = body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        data = None
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                data = None
    if isinstance(data, dict):
        key = data.get("key")
        if isinstance(key, dict) and isinstance(key.get("id"), str) and key["id"]:
            # NOWEB (Baileys): {"key": {"remoteJid": "…@s.whatsapp.net", "fromMe": true, "id": "3EB0…"}}
            remote = key.get("remoteJid") or chat_id
            return _serialize(str(remote), key["id"], bool(key.get("fromMe", True)))
        ident = data.get("id")
        if isinstance(ident, str) and ident:
            # GOWS: {"id": "true_<chatId>_<ID>", "_data": {...}}
            return _serialize(chat_id, ident)
        if isinstance(ident, dict):
            # WEBJS (whatsapp-web.js): {"id": {"fromMe": true, "remote": "…", "id": "…", "_serialized": "…"}}
            serialized = ident.get("_serialized")
            if isinstance(serialized, str) and serialized:
                return serialized
            if isinstance(ident.get("id"), str) and ident["id"]:
                return _serialize(
                    str(ident.get("remote") or chat_id), ident["id"], bool(ident.get("fromMe", True))
                )
    if fallback_id:
        return _serialize(chat_id, fallback_id)
    raise WahaError(
        "bad_response",
        "WAHA sendText answered without a message id and no pre-generated id was given",
        permanent=False,
        path="/api/sendText",
    )


def _error_text(response: requests.Response) -> str:
    """The ``error``/``message`` field of a WAHA 4xx body (never of a 500 body, which echoes the request)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = []
    for key in ("error", "message"):
        value = data.get(key)
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        if value:
            parts.append(str(value))
    return " | ".join(parts)


def _exception_text(response: requests.Response) -> str:
    """``exception.message`` of a 500 body: inspected for the 463 code only, never logged or raised."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:2000]
    if isinstance(data, dict):
        exc = data.get("exception")
        if isinstance(exc, dict):
            return f"{exc.get('message', '')} {exc.get('code', '')}"
        return str(data.get("message", ""))
    return ""


# long-function: one decision table over WAHA's answers, best seen whole
def classify_response(response: requests.Response, path: str) -> WahaError:
    """Turn a non-2xx WAHA answer into a WahaError; see the module docstring for what is kept out."""
    status = response.status_code
    if status == 401:
        return WahaError(
            "unauthorized",
            f"WAHA rejected the API key ({path})",
            permanent=True,
            status_code=status,
            path=path,
        )
    if status == 404:
        return WahaError(
            "not_found", f"WAHA: not found ({path})", permanent=True, status_code=status, path=path
        )
    if status == 422:
        detail = _error_text(response)
        session = ""
        current = ""
        try:
            data = response.json()
            if isinstance(data, dict):
                session = str(data.get("session") or "")
                current = str(data.get("status") or "")
        except ValueError:
            pass
        if "status is not as expected" in detail.lower():
            return WahaError(
                "session_not_working",
                f"WAHA session {session!r} is not WORKING (status {current or 'unknown'})",
                permanent=False,
                status_code=status,
                path=path,
            )
        if "does not exist" in detail.lower():
            return WahaError(
                "session_not_found",
                f"WAHA session {session!r} does not exist",
                permanent=True,
                status_code=status,
                path=path,
            )
        if "already exists" in detail.lower():
            return WahaError(
                "validation",
                f"WAHA session {session!r} already exists",
                permanent=True,
                status_code=status,
                path=path,
            )
        return WahaError(
            "validation",
            f"WAHA refused the request ({path}, 422)",
            permanent=True,
            status_code=status,
            path=path,
        )
    if status >= 500:
        if status == 500 and "463" in _exception_text(response):
            return WahaError(
                "reachout_timelock",
                "WhatsApp reach-out time-lock (error 463): new contacts are blocked for now",
                permanent=False,
                status_code=status,
                path=path,
            )
        return WahaError(
            "server_error",
            f"WAHA server error {status} ({path})",
            permanent=False,
            status_code=status,
            path=path,
        )
    if status in (408, 429):
        return WahaError(
            "server_error",
            f"WAHA asked to slow down ({status}, {path})",
            permanent=False,
            status_code=status,
            path=path,
        )
    return WahaError(
        "validation",
        f"WAHA rejected the request as invalid ({status}, {path})",
        permanent=True,
        status_code=status,
        path=path,
    )


def _too_large(path: str, max_bytes: int) -> WahaError:
    return WahaError(
        "too_large", f"the media file is larger than {max_bytes} bytes ({path})", permanent=True, path=path
    )
