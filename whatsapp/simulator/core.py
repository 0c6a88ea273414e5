"""State and behaviour of the WAHA simulator, independent of HTTP.

It models what the project relies on from WAHA 2026.7.1 (see docs/waha-simulator.md and the spec in
docs/specs/waha/): sessions and their status machine, sendText with engine-specific answers, number
checks with the Brazilian 9th-digit quirk, LID mapping, and the webhooks WAHA emits, plus switchable faults.
Handlers in ``server.py`` translate HTTP into calls here; domain errors are raised as :class:`ApiError`
carrying the exact status and body real WAHA answers with.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import io
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import segno
from ulid import ULID

from whatsapp.simulator.scheduler import Scheduler
from whatsapp.simulator.webhooks import WebhookDispatcher, WebhookTarget

VERSION = "2026.7.1"
ENGINES = ("NOWEB", "GOWS", "WEBJS", "WEBJS-empty")
STATUSES = (
    "STOPPED",
    "STARTING",
    "SCAN_QR_CODE",
    "PASSKEY_REQUIRED",
    "PASSKEY_CONFIRMATION_REQUIRED",
    "WORKING",
    "FAILED",
)
RUNNING = frozenset({"STARTING", "SCAN_QR_CODE", "WORKING"})
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
# File extension WAHA gives a downloaded media file, by mimetype (the name in media.url).
MEDIA_EXTENSIONS = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "audio/ogg": "oga",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
}
ACK_MODES = ("normal", "none", "server_only", "error")

# Numbers the simulated WhatsApp knows specially; any other plausible number "exists" as typed.
# Value None = not on WhatsApp. A 12-digit Brazilian key means "registered before the 9th digit": asking
# for the 13-digit form answers this 12-digit chatId: the case that silently loses messages (#238, #2120).
DEFAULT_CONTACTS: dict[str, str | None] = {
    "552188887777": "552188887777@c.us",
    "551188887777": "551188887777@c.us",
    "5511911110000": None,
    "551133334444": None,
}

NOT_WORKING_ERROR = "Session status is not as expected. Try again later or restart the session"
TIMELOCK_MESSAGE = "2 UNKNOWN: server returned error 463"


class ApiError(Exception):
    """An HTTP error answer: status plus the JSON body real WAHA sends for it."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def not_found(message: str) -> ApiError:
    return ApiError(404, {"message": message, "error": "Not Found", "statusCode": 404})


def bad_request(messages: list[str]) -> ApiError:
    return ApiError(400, {"message": messages, "error": "Bad Request", "statusCode": 400})


def unprocessable(message: str) -> ApiError:
    return ApiError(422, {"message": message, "error": "Unprocessable Entity", "statusCode": 422})


def now_ms() -> int:
    return int(time.time() * 1000)


def new_message_id() -> str:
    """A WhatsApp-looking message id (uppercase hex, the ``3EB0…`` prefix web clients use)."""
    return "3EB0" + secrets.token_hex(8).upper()


def digits_of(value: str) -> str:
    return re.sub(r"\D", "", str(value).split("@", 1)[0])


def to_cus(value: str) -> str:
    """Chat id from digits or a jid: ``5511…`` or ``5511…@s.whatsapp.net`` → ``5511…@c.us``; others as is."""
    if "@" in value and not value.endswith("@s.whatsapp.net"):
        return value
    return f"{digits_of(value)}@c.us"


def br_alternative(digits: str) -> str | None:
    """The other form of a Brazilian mobile number: with the 9th digit added or removed."""
    if not digits.startswith("55"):
        return None
    if len(digits) == 13 and digits[4] == "9":
        return digits[:4] + digits[5:]
    if len(digits) == 12 and digits[4] in "6789":
        return digits[:4] + "9" + digits[4:]
    return None


def lid_for(phone_digits: str) -> str:
    """A stable fake ``…@lid`` for a phone, so the same debtor keeps the same LID across a test."""
    number = int(hashlib.sha256(phone_digits.encode()).hexdigest(), 16) % 10**14
    return f"{10**14 + number}@lid"


@dataclass
class SimulatorOptions:
    """Everything configurable at start-up; several can be changed later through ``/simulator/config``."""

    api_key: str = "cobranca-dev-waha-key"
    engine: str = "GOWS"
    # Seconds in SCAN_QR_CODE before the simulated phone scans the QR by itself; None = only on request.
    auto_scan_seconds: float | None = 3.0
    starting_seconds: float = 0.3
    # Seconds left in SCAN_QR_CODE before FAILED (WAHA gives up after its QR attempts); None = never.
    qr_timeout_seconds: float | None = None
    ack_delay_seconds: float = 0.3
    # Replaces every webhook retry delay when set (tests); None = each webhook's policy (WAHA: 2 s constant).
    webhook_retry_delay_seconds: float | None = None
    webhook_timeout_seconds: float = 10.0
    webhook_url: str | None = None
    hmac_key: str | None = None
    webhook_events: list[str] = field(default_factory=lambda: ["*"])
    me_phone: str = "5511900000000"
    push_name: str = "Cobrança Inteligente"
    unknown_numbers_exist: bool = True
    # Session created at start: None = none; "working" = authenticated and WORKING at once; "scan" = started
    # and waiting in SCAN_QR_CODE (auto-scanned after auto_scan_seconds when set).
    default_session: str | None = "default"
    default_session_mode: str = "working"
    log_size: int = 10000

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")


DEFAULT_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "timelock_cold_contacts": False,
    "acks": "normal",
    "duplicate_webhooks": False,
    "out_of_order": False,
}


@dataclass
class SimSession:
    name: str
    config: dict[str, Any]
    phone: str
    push_name: str = ""
    status: str = "STOPPED"
    authenticated: bool = False
    generation: int = 0
    qr_value: str = ""
    statuses: list[dict[str, Any]] = field(default_factory=list)
    activity_ms: int | None = None

    @property
    def lid(self) -> str:
        return lid_for(self.phone)

    def me(self) -> dict[str, Any] | None:
        if not self.authenticated:
            return None
        return {
            "id": f"{self.phone}@c.us",
            "pushName": self.push_name,
            "lid": self.lid,
            "jid": f"{self.phone}:12@s.whatsapp.net",
        }


class Simulator:
    """The simulated WAHA server state. Thread-safe: every public method takes ``self.lock``."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.lock = threading.RLock()
        self.scheduler = Scheduler()
        self.dispatcher = WebhookDispatcher(
            self.scheduler,
            user_agent=f"WAHA/{VERSION}",
            retry_delay_override=self.options.webhook_retry_delay_seconds,
            request_timeout=self.options.webhook_timeout_seconds,
            log_size=self.options.log_size,
        )
        self.sessions: dict[str, SimSession] = {}
        self.faults: dict[str, Any] = dict(DEFAULT_FAULTS)
        self.contacts: dict[str, str | None] = dict(DEFAULT_CONTACTS)
        self.lids: dict[str, str] = {}  # lid → pn chat id
        # Media of inbound messages, served at /api/files/{session}/{name} like WAHA's file storage:
        # name → (mimetype, bytes). The public base of media.url is set by the HTTP server on start.
        self.files: dict[str, tuple[str, bytes]] = {}
        self.public_url = "http://localhost:3000"
        self.inbound_chats: dict[str, set[str]] = collections.defaultdict(set)
        self.outbox: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.options.log_size)
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.options.log_size)
        self._phones_used = 0
        self.bootstrap()

    # --- lifecycle --------------------------------------------------------------------------------------

    def bootstrap(self) -> None:
        """Create the default session as the options ask (at start and after a reset)."""
        name = self.options.default_session
        if not name:
            return
        with self.lock:
            session = self._new_session(name, {})
            if self.options.default_session_mode == "working":
                session.authenticated = True
                self._set_status(session, "STARTING")
                self._set_status(session, "WORKING")
            else:
                self._start(session)

    def close(self) -> None:
        self.dispatcher.close()
        self.scheduler.close()

    def reset(self) -> None:
        """Back to the state right after start: sessions, logs, faults, contacts and webhook queue."""
        with self.lock:
            for session in self.sessions.values():
                session.generation += 1
            self.sessions.clear()
            self.faults = dict(DEFAULT_FAULTS)
            self.contacts = dict(DEFAULT_CONTACTS)
            self.lids.clear()
            self.files.clear()
            self.inbound_chats.clear()
            self.outbox.clear()
            self.events.clear()
            self._phones_used = 0
            self.dispatcher.clear()
        self.bootstrap()

    # --- environment / envelope -------------------------------------------------------------------------

    @property
    def engine_name(self) -> str:
        return self.options.engine.split("-", 1)[0]

    def environment(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "engine": self.engine_name,
            "tier": "CORE",
            "browser": None,
            "platform": "linux/x64",
            "worker": {"id": "waha"},
        }

    def server_version(self) -> dict[str, Any]:
        """WAHA answers /api/server/version with the same object webhooks carry as ``environment``."""
        return self.environment()

    def _targets(self, session: SimSession) -> list[WebhookTarget]:
        targets = [
            WebhookTarget.from_config(hook)
            for hook in (session.config.get("webhooks") or [])
            if isinstance(hook, dict) and hook.get("url")
        ]
        if self.options.webhook_url:
            targets.append(
                WebhookTarget(
                    url=self.options.webhook_url,
                    events=tuple(self.options.webhook_events or ["*"]),
                    hmac_key=self.options.hmac_key or None,
                )
            )
        return targets

    def emit(self, session: SimSession, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Build WAHA's envelope for one event, log it and queue it to every subscribed webhook."""
        envelope = {
            "id": "evt_" + str(ULID()).lower(),
            "timestamp": now_ms(),
            "event": event,
            "session": session.name,
            "metadata": dict(session.config.get("metadata") or {}),
            "me": session.me(),
            "payload": payload,
            "engine": self.engine_name,
            "environment": self.environment(),
        }
        # Compact, non-ASCII kept, like JSON.stringify: receivers must verify the HMAC on these exact bytes.
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.events.append(envelope)
        copies = 2 if self.faults["duplicate_webhooks"] else 1
        for target in self._targets(session):
            if target.wants(event):
                self.dispatcher.submit(target, envelope, body, copies=copies)
        return envelope

    # --- sessions ---------------------------------------------------------------------------------------

    def _new_session(self, name: str, config: dict[str, Any]) -> SimSession:
        phone = str(int(self.options.me_phone) + self._phones_used)
        self._phones_used += 1
        session = SimSession(name=name, config=config, phone=phone, push_name=self.options.push_name)
        self.sessions[name] = session
        return session

    def get(self, name: str) -> SimSession:
        session = self.sessions.get(name)
        if session is None:
            raise not_found("Session not found")
        return session

    def working(self, name: str, expected: tuple[str, ...] = ("WORKING",)) -> SimSession:
        """The session if it is in an expected status, else WAHA's 422 (unknown session or wrong status)."""
        session = self.sessions.get(name)
        if session is None:
            raise ApiError(422, {"error": f'Session "{name}" does not exist', "session": name})
        if session.status not in expected:
            raise ApiError(
                422,
                {
                    "error": NOT_WORKING_ERROR,
                    "session": name,
                    "status": session.status,
                    "expected": list(expected),
                },
            )
        return session

    def info(self, session: SimSession) -> dict[str, Any]:
        """``SessionInfo`` as GET /api/sessions answers it."""
        return {
            "name": session.name,
            "status": session.status,
            "config": session.config,
            "me": session.me(),
            "assignedWorker": "waha",
            "presence": None,
            "timestamps": {"activity": session.activity_ms},
            "engine": {"engine": self.engine_name},
        }

    @staticmethod
    def dto(session: SimSession) -> dict[str, Any]:
        """``SessionDTO`` as the create/start/stop/... endpoints answer it."""
        return {"name": session.name, "status": session.status, "config": session.config}

    def list_sessions(self, include_stopped: bool) -> list[dict[str, Any]]:
        with self.lock:
            return [self.info(s) for s in self.sessions.values() if include_stopped or s.status != "STOPPED"]

    def create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name") or f"session_{str(ULID()).lower()}"
        config = body.get("config") or {}
        if not isinstance(name, str) or not isinstance(config, dict):
            raise bad_request(["name must be a string", "config must be an object"])
        self._validate_config(config)
        with self.lock:
            if name in self.sessions:
                raise unprocessable(f"Session '{name}' already exists. Use PUT to update it.")
            session = self._new_session(name, config)
            # WAHA's controller evaluates a missing "start" as false (docs say true): mirror the code.
            if body.get("start") is True:
                self._start(session)
            return self.dto(session)

    @staticmethod
    def _validate_config(config: dict[str, Any]) -> None:
        """400 for webhooks WAHA would reject (``url``, ``events`` required; http(s) only)."""
        hooks = config.get("webhooks") or []
        if not isinstance(hooks, list):
            raise bad_request(["config.webhooks must be an array"])
        messages: list[str] = []
        for index, hook in enumerate(hooks):
            if not isinstance(hook, dict):
                messages.append(f"config.webhooks.{index} must be an object")
                continue
            if not isinstance(hook.get("url"), str) or not hook["url"].startswith(("http://", "https://")):
                messages.append(f"config.webhooks.{index}.url must be a URL address")
            if not isinstance(hook.get("events"), list):
                messages.append(f"config.webhooks.{index}.events must be an array")
        if messages:
            raise bad_request(messages)

    def update_session(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise bad_request(["config must be an object"])
        self._validate_config(config)
        with self.lock:
            session = self.get(name)
            session.config = config
            if session.status in RUNNING:
                self._stop(session)
                self._start(session)
            return self.dto(session)

    def delete_session(self, name: str) -> None:
        with self.lock:
            session = self.sessions.get(name)
            if session is None:
                return
            self._stop(session)
            session.authenticated = False
            del self.sessions[name]

    def start_session(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            self._start(session)
            return self.dto(session)

    def stop_session(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            self._stop(session)
            return self.dto(session)

    def restart_session(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            self._stop(session)
            self._start(session)
            return self.dto(session)

    def logout_session(self, name: str) -> dict[str, Any]:
        with self.lock:
            session = self.get(name)
            was_running = session.status in RUNNING
            self._stop(session)
            session.authenticated = False
            if was_running:
                self._start(session)
            return self.dto(session)

    def me(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.get(name).me()

    def scan(self, name: str) -> dict[str, Any]:
        """The simulated phone scans the QR: authenticate and go WORKING (starting the session if needed)."""
        with self.lock:
            session = self.get(name)
            session.authenticated = True
            if session.status == "SCAN_QR_CODE":
                session.generation += 1  # cancels the pending auto-scan / QR timeout
                self._set_status(session, "WORKING")
            elif session.status in ("STOPPED", "FAILED"):
                self._start(session)
            return self.info(session)

    def force_status(self, name: str, status: str) -> dict[str, Any]:
        """Outage simulation: jump to ``status`` now and emit session.status (WORKING also authenticates)."""
        if status not in STATUSES:
            raise bad_request([f"status must be one of the following values: {', '.join(STATUSES)}"])
        with self.lock:
            session = self.get(name)
            session.generation += 1
            if status == "WORKING":
                session.authenticated = True
            if status == "SCAN_QR_CODE":
                session.qr_value = self._new_qr_value()
            self._set_status(session, status)
            return self.info(session)

    def _set_status(self, session: SimSession, status: str) -> None:
        session.status = status
        session.statuses.append({"status": status, "timestamp": now_ms()})
        session.statuses = session.statuses[-3:]
        self.emit(
            session,
            "session.status",
            {"name": session.name, "status": status, "statuses": list(session.statuses), "data": None},
        )

    def _later(self, session: SimSession, delay: float, action: Callable[[SimSession], None]) -> None:
        """Run ``action`` after ``delay`` unless the session was stopped, restarted or deleted meanwhile."""
        generation = session.generation
        name = session.name

        def run() -> None:
            with self.lock:
                current = self.sessions.get(name)
                if current is session and current.generation == generation:
                    action(current)

        self.scheduler.schedule(delay, run)

    def _start(self, session: SimSession) -> None:
        if session.status in RUNNING:
            return  # start is idempotent
        session.generation += 1
        self._set_status(session, "STARTING")
        self._later(session, self.options.starting_seconds, self._after_starting)

    def _after_starting(self, session: SimSession) -> None:
        if session.authenticated:
            self._set_status(session, "WORKING")
            return
        session.qr_value = self._new_qr_value()
        self._set_status(session, "SCAN_QR_CODE")
        if self.options.auto_scan_seconds is not None:
            self._later(session, self.options.auto_scan_seconds, self._auto_scan)
        if self.options.qr_timeout_seconds is not None:
            self._later(session, self.options.qr_timeout_seconds, self._qr_expired)

    def _auto_scan(self, session: SimSession) -> None:
        if session.status == "SCAN_QR_CODE":
            session.authenticated = True
            session.generation += 1
            self._set_status(session, "WORKING")

    def _qr_expired(self, session: SimSession) -> None:
        if session.status == "SCAN_QR_CODE":
            session.generation += 1
            self._set_status(session, "FAILED")

    def _stop(self, session: SimSession) -> None:
        session.generation += 1
        if session.status != "STOPPED":
            self._set_status(session, "STOPPED")

    @staticmethod
    def _new_qr_value() -> str:
        """Looks like WhatsApp's pairing payload: ``2@<ref>,<noise key>,<identity key>,<adv secret>``."""
        parts = [base64.b64encode(secrets.token_bytes(n)).decode() for n in (48, 32, 32, 32)]
        return "2@" + ",".join(parts)

    def qr(self, name: str, fmt: str, want_json: bool) -> tuple[str, Any]:
        """("raw", {"value"}) / ("json", {"mimetype","data"}) / ("png", bytes); 422 unless SCAN_QR_CODE."""
        with self.lock:
            session = self.working(name, expected=("SCAN_QR_CODE",))
            value = session.qr_value
        if fmt == "raw":
            return "raw", {"value": value}
        buffer = io.BytesIO()
        segno.make(value, error="l").save(buffer, kind="png", scale=4, border=2)
        png = buffer.getvalue()
        if want_json:
            return "json", {"mimetype": "image/png", "data": base64.b64encode(png).decode()}
        return "png", png

    # --- messages ---------------------------------------------------------------------------------------

    @staticmethod
    def validate(body: Any, required: tuple[str, ...]) -> dict[str, Any]:
        """Nest/class-validator style 400 for missing or non-string required fields."""
        if not isinstance(body, dict):
            raise bad_request([f"{name} must be a string" for name in required])
        messages: list[str] = []
        for name in required:
            value = body.get(name)
            if not isinstance(value, str):
                messages.append(f"{name} must be a string")
            elif not value:
                messages.append(f"{name} should not be empty")
        if messages:
            raise bad_request(messages)
        return body

    def _message_payload(
        self,
        session: SimSession,
        *,
        serialized: str,
        message_id: str,
        chat_id: str,
        from_me: bool,
        source: str,
        text: str,
        ack: int,
        reply_to: str | None = None,
        media: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A WAMessage as WAHA puts it in ``message``/``message.any`` payloads; ``media`` is WAMedia
        (``url``, ``mimetype``, ``filename``, ``error``) for a message that carries a file."""
        me_id = f"{session.phone}@c.us"
        timestamp = int(time.time())
        payload: dict[str, Any] = {
            "id": serialized,
            "timestamp": timestamp,
            "from": me_id if from_me else chat_id,
            "fromMe": from_me,
            "source": source,
            "to": chat_id if from_me else me_id,
            "body": text,
            "hasMedia": media is not None,
            "media": media,
            "ack": ack,
            "ackName": ACK_NAMES[ack],
            "replyTo": None,
            "vCards": [],
            "_data": {
                "Info": {
                    "ID": message_id,
                    "Chat": chat_id.replace("@c.us", "@s.whatsapp.net"),
                    "IsFromMe": from_me,
                    "Timestamp": dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(),
                },
                "Message": {"conversation": text},
            },
        }
        if reply_to:
            payload["replyTo"] = {"id": reply_to.rsplit("_", 1)[-1], "hasMedia": False}
        if media is not None:
            # The raw engine message names the file's kind the way WhatsApp does (GOWS: imageMessage...).
            kind = str(media.get("mimetype") or "").split("/", 1)[0]
            raw_key = {"image": "imageMessage", "audio": "audioMessage"}.get(kind, "documentMessage")
            payload["_data"]["Message"] = {raw_key: {"caption": text, "mimetype": media.get("mimetype")}}
        return payload

    def _engine_send_body(
        self, session: SimSession, chat_id: str, message_id: str, serialized: str, text: str
    ) -> dict[str, Any] | None:
        """The engine-specific sendText answer (#760); None = WEBJS's empty body (#1083)."""
        engine = self.options.engine
        timestamp = int(time.time())
        jid = chat_id.replace("@c.us", "@s.whatsapp.net")
        if engine == "NOWEB":
            return {
                "key": {"remoteJid": jid, "fromMe": True, "id": message_id},
                "message": {"extendedTextMessage": {"text": text}},
                "messageTimestamp": str(timestamp),
                "status": "PENDING",
            }
        if engine == "GOWS":
            return {
                "id": serialized,
                "_data": {
                    "Info": {
                        "ID": message_id,
                        "Chat": jid,
                        "Sender": f"{session.phone}@s.whatsapp.net",
                        "IsFromMe": True,
                        "Timestamp": dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(),
                    },
                    "Message": {"conversation": text},
                },
            }
        if engine == "WEBJS":
            return {
                "id": {"fromMe": True, "remote": chat_id, "id": message_id, "_serialized": serialized},
                "ack": 0,
                "hasMedia": False,
                "body": text,
                "type": "chat",
                "timestamp": timestamp,
                "from": f"{session.phone}@c.us",
                "to": chat_id,
                "fromMe": True,
            }
        return None

    def send_text(self, body: Any, request_path: str = "/api/sendText") -> tuple[dict[str, Any] | None, str]:
        """Accept a sendText; return (engine body or None, serialized id). Raises 400/422/500 like WAHA."""
        self.validate(body, ("chatId", "text", "session"))
        with self.lock:
            session = self.working(body["session"])
            chat_id = body["chatId"]
            if self.faults["error_rate"] and random.random() < float(self.faults["error_rate"]):
                raise self._server_error("Error: Connection Closed", body, request_path)
            if self.faults["timelock_cold_contacts"] and chat_id not in self.inbound_chats[session.name]:
                raise self._server_error(TIMELOCK_MESSAGE, body, request_path, code=2)
            message_id = str(body.get("id") or new_message_id())
            serialized = f"true_{chat_id}_{message_id}"
            session.activity_ms = now_ms()
            self.outbox.append(
                {
                    "id": serialized,
                    "message_id": message_id,
                    "chatId": chat_id,
                    "text": body["text"],
                    "session": session.name,
                    "timestamp": now_ms(),
                    "reply_to": body.get("reply_to"),
                    "linkPreview": body.get("linkPreview", True),
                }
            )
            self.emit(
                session,
                "message.any",
                self._message_payload(
                    session,
                    serialized=serialized,
                    message_id=message_id,
                    chat_id=chat_id,
                    from_me=True,
                    source="api",
                    text=body["text"],
                    ack=1,
                    reply_to=body.get("reply_to"),
                ),
            )
            self._schedule_acks(session, serialized, chat_id)
            return self._engine_send_body(session, chat_id, message_id, serialized, body["text"]), serialized

    def _server_error(self, message: str, body: Any, path: str, code: int | None = None) -> ApiError:
        """WAHA's AllExceptionsFilter 500; it echoes the request body (why clients must never log it)."""
        exception: dict[str, Any] = {"message": message, "name": "Error"}
        if code is not None:
            exception["code"] = code
        return ApiError(
            500,
            {
                "statusCode": 500,
                "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
                "exception": exception,
                "request": {"path": path, "method": "POST", "body": body, "query": {}},
                "version": self.environment(),
            },
        )

    def _schedule_acks(self, session: SimSession, serialized: str, chat_id: str) -> None:
        mode = self.faults["acks"]
        acks = {"normal": [1, 2, 3], "server_only": [1], "error": [-1], "none": []}[mode]
        if self.faults["out_of_order"] and len(acks) > 1:
            original = list(acks)
            while acks == original:
                random.shuffle(acks)
        me_id = f"{session.phone}@c.us"
        delay = self.options.ack_delay_seconds
        for index, ack in enumerate(acks, start=1):
            payload = {
                "id": serialized,
                "from": me_id,
                "to": chat_id,
                "fromMe": True,
                "ack": ack,
                "ackName": ACK_NAMES[ack],
                "_data": {"Type": ACK_NAMES[ack].lower(), "MessageIDs": [serialized.rsplit("_", 1)[-1]]},
            }

            def fire(s: SimSession, payload: dict[str, Any] = payload) -> None:
                if s.status == "WORKING":
                    self.emit(s, "message.ack", payload)

            self._later_same_session(session, delay * index, fire)

    def _later_same_session(
        self, session: SimSession, delay: float, action: Callable[[SimSession], None]
    ) -> None:
        """Like ``_later`` but survives restarts of the same session object (acks arrive after reconnects)."""
        name = session.name

        def run() -> None:
            with self.lock:
                if self.sessions.get(name) is session:
                    action(session)

        self.scheduler.schedule(delay, run)

    def new_message_id(self, name: str) -> dict[str, str]:
        with self.lock:
            self.working(name)
        return {"id": new_message_id()}

    def chat_action(self, body: Any) -> None:
        """sendSeen / startTyping / stopTyping: validated, session checked, nothing else to simulate."""
        self.validate(body, ("chatId", "session"))
        with self.lock:
            self.working(body["session"])

    # --- numbers ----------------------------------------------------------------------------------------

    def resolve_number(self, digits: str) -> str | None:
        with self.lock:
            if digits in self.contacts:
                return self.contacts[digits]
            alternative = br_alternative(digits)
            if alternative and alternative in self.contacts:
                return self.contacts[alternative]
            if self.options.unknown_numbers_exist and 10 <= len(digits) <= 15:
                return f"{digits}@c.us"
            return None

    def check_exists(self, phone: str | None, session_name: str | None) -> dict[str, Any]:
        if not phone:
            raise bad_request(["phone must be a string", "phone should not be empty"])
        with self.lock:
            self.working(session_name or "default")
        chat_id = self.resolve_number(digits_of(phone))
        if chat_id is None:
            return {"numberExists": False}
        return {"numberExists": True, "chatId": chat_id}

    def add_contact(self, phone: str, chat_id: str | None) -> None:
        with self.lock:
            self.contacts[digits_of(phone)] = to_cus(chat_id) if chat_id else None

    def lid_to_pn(self, name: str, lid: str) -> dict[str, Any]:
        lid = lid if "@" in lid else f"{lid}@lid"
        with self.lock:
            self.working(name)
            return {"lid": lid, "pn": self.lids.get(lid)}

    def pn_to_lid(self, name: str, phone: str) -> dict[str, Any]:
        pn = to_cus(phone)
        with self.lock:
            self.working(name)
            lid = next((lid for lid, known in self.lids.items() if known == pn), None)
            return {"lid": lid, "pn": pn}

    # --- simulated other side ---------------------------------------------------------------------------

    def _store_media(self, session_name: str, message_id: str, media: Any) -> dict[str, Any] | None:
        """Keep an inbound file (``{"mimetype", "filename", "data": base64}``) and return its WAMedia, with
        the URL WAHA gives it (``{base}/api/files/{session}/{id}.{ext}``, served with the API key check)."""
        if media is None:
            return None
        if not isinstance(media, dict) or not isinstance(media.get("data"), str):
            raise bad_request(["media.data must be a base64 string"])
        try:
            content = base64.b64decode(media["data"], validate=True)
        except ValueError:
            raise bad_request(["media.data must be a base64 string"]) from None
        mimetype = str(media.get("mimetype") or "application/octet-stream")
        extension = MEDIA_EXTENSIONS.get(mimetype.split(";", 1)[0].strip(), "bin")
        name = f"{message_id}.{extension}"
        self.files[f"{session_name}/{name}"] = (mimetype, content)
        announced: dict[str, Any] = {
            "url": f"{self.public_url}/api/files/{session_name}/{name}",
            "mimetype": mimetype,
        }
        # WAMedia types filename as a string and error as an object: left out when there is none.
        if isinstance(media.get("filename"), str) and media["filename"]:
            announced["filename"] = media["filename"]
        return announced

    def media_file(self, session_name: str, name: str) -> tuple[str, bytes]:
        """An inbound file by its URL's path; 404 like WAHA's static file route when unknown."""
        with self.lock:
            found = self.files.get(f"{session_name}/{name}")
        if found is None:
            raise ApiError(
                404, {"message": f"Cannot GET /api/files/{session_name}/{name}", "statusCode": 404}
            )
        return found

    def inbound(self, body: Any) -> dict[str, Any]:
        """A debtor writes to us: emits ``message`` and ``message.any`` (fromMe false) from that number.
        With ``media`` the message carries a file (``text`` is then its caption and may be empty)."""
        if isinstance(body, dict) and body.get("media") is not None and body.get("text") is None:
            body = {**body, "text": ""}
        self.validate(body, ("from",))
        if not isinstance(body.get("text"), str) or (not body["text"] and body.get("media") is None):
            raise bad_request(["text should not be empty"])
        name = body.get("session") or "default"
        with self.lock:
            session = self.working(name)
            raw = body["from"]
            if raw.endswith("@lid"):
                lid: str | None = raw
                pn: str | None = self.lids.get(raw)
                use_lid = True
            else:
                pn = to_cus(raw)
                lid = lid_for(digits_of(pn))
                use_lid = bool(body.get("lid"))
                if use_lid:
                    self.lids[lid] = pn
            chat_id = str(lid if use_lid else pn)
            self.inbound_chats[name].update(x for x in (chat_id, pn) if x)
            message_id = new_message_id()
            serialized = f"false_{chat_id}_{message_id}"
            session.activity_ms = now_ms()
            payload = self._message_payload(
                session,
                serialized=serialized,
                message_id=message_id,
                chat_id=chat_id,
                from_me=False,
                source="app",
                text=body["text"],
                ack=1,
                reply_to=body.get("reply_to"),
                media=self._store_media(name, message_id, body.get("media")),
            )
            self.emit(session, "message", payload)
            self.emit(session, "message.any", payload)
            return {"id": serialized, "from": chat_id, "pn": pn, "lid": lid if use_lid else None}

    def reply_from_phone(self, body: Any) -> dict[str, Any]:
        """The creditor answers from the phone app: ``message.any`` with fromMe true and source "app"."""
        self.validate(body, ("to", "text"))
        name = body.get("session") or "default"
        with self.lock:
            session = self.working(name)
            chat_id = to_cus(body["to"])
            message_id = new_message_id()
            serialized = f"true_{chat_id}_{message_id}"
            session.activity_ms = now_ms()
            self.emit(
                session,
                "message.any",
                self._message_payload(
                    session,
                    serialized=serialized,
                    message_id=message_id,
                    chat_id=chat_id,
                    from_me=True,
                    source="app",
                    text=body["text"],
                    ack=1,
                ),
            )
            return {"id": serialized, "chatId": chat_id}

    # --- control ----------------------------------------------------------------------------------------

    def set_faults(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(["body must be an object"])
        errors: list[str] = []
        updates: dict[str, Any] = {}
        for key, value in body.items():
            if key in ("session_status", "session"):
                continue
            if key not in DEFAULT_FAULTS:
                errors.append(f"unknown fault {key!r}")
            elif key == "acks" and value not in ACK_MODES:
                errors.append(f"acks must be one of {', '.join(ACK_MODES)}")
            elif key == "error_rate" and not (isinstance(value, int | float) and 0 <= value <= 1):
                errors.append("error_rate must be a number between 0 and 1")
            elif key == "latency_ms" and not (isinstance(value, int | float) and value >= 0):
                errors.append("latency_ms must be a non-negative number")
            else:
                updates[key] = value
        if errors:
            raise bad_request(errors)
        with self.lock:
            self.faults.update(updates)
            if body.get("session_status"):
                self.force_status(str(body.get("session") or "default"), str(body["session_status"]))
            return dict(self.faults)

    CONFIGURABLE = (
        "engine",
        "auto_scan_seconds",
        "starting_seconds",
        "qr_timeout_seconds",
        "ack_delay_seconds",
        "webhook_retry_delay_seconds",
        "webhook_url",
        "hmac_key",
        "webhook_events",
        "unknown_numbers_exist",
    )

    def configure(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(["body must be an object"])
        unknown = [key for key in body if key not in self.CONFIGURABLE]
        if unknown:
            raise bad_request([f"{key} cannot be configured" for key in unknown])
        url = body.get("webhook_url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise bad_request(["webhook_url must be an http(s) URL"])
        if "engine" in body and body["engine"] not in ENGINES:
            raise bad_request([f"engine must be one of {', '.join(ENGINES)}"])
        with self.lock:
            for key, value in body.items():
                setattr(self.options, key, value)
            self.dispatcher.retry_delay_override = self.options.webhook_retry_delay_seconds
            return self.current_config()

    def current_config(self) -> dict[str, Any]:
        wanted = set(self.CONFIGURABLE)
        return {f.name: getattr(self.options, f.name) for f in fields(self.options) if f.name in wanted}

    def outbox_items(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.outbox)

    def event_items(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events)

    def idle(self) -> bool:
        """No transition, ack or webhook delivery pending."""
        return self.scheduler.idle() and self.dispatcher.pending() == 0
