"""The simulator's sessions: CRUD, the status machine, QR codes."""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Callable
from typing import Any

import segno
from ulid import ULID

from whatsapp.simulator.base import (
    NOT_WORKING_ERROR,
    RUNNING,
    STATUSES,
    ApiError,
    SimSession,
    bad_request,
    not_found,
    now_ms,
    unprocessable,
)


class _SessionsMixin:
    """Mixed into :class:`whatsapp.simulator.core.Simulator`."""

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
