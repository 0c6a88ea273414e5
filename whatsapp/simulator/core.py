"""State and behaviour of the WAHA simulator, independent of HTTP.

It models what the project relies on from WAHA 2026.7.1 (see docs/waha-simulator.md and the spec in
docs/specs/waha/): sessions and their status machine, sendText with engine-specific answers, number
checks with the Brazilian 9th-digit quirk, LID mapping, and the webhooks WAHA emits, plus switchable faults.
Handlers in ``server.py`` translate HTTP into calls here; domain errors are raised as :class:`ApiError`
carrying the exact status and body real WAHA answers with.

:class:`Simulator` is assembled from its parts: ``sessions`` (CRUD, status machine, QR), ``messages``
(sendText, acks, numbers, LIDs, the simulated phone) and ``base`` (constants, errors, options, sessions).
"""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import fields
from typing import Any

from ulid import ULID

from whatsapp.simulator.base import (
    ACK_MODES,
    DEFAULT_CONTACTS,
    DEFAULT_FAULTS,
    ENGINES,
    VERSION,
    ApiError,
    SimSession,
    SimulatorOptions,
    bad_request,
    now_ms,
)
from whatsapp.simulator.messages import _MessagesMixin
from whatsapp.simulator.scheduler import Scheduler
from whatsapp.simulator.sessions import _SessionsMixin
from whatsapp.simulator.webhooks import WebhookDispatcher, WebhookTarget

__all__ = ["ENGINES", "VERSION", "ApiError", "SimSession", "Simulator", "SimulatorOptions"]


class Simulator(_SessionsMixin, _MessagesMixin):
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
