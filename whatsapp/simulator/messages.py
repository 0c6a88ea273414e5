"""The simulator's messages: sendText per engine, acks, number checks, LIDs, the simulated phone."""

from __future__ import annotations

import base64
import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from whatsapp.simulator.base import (
    ACK_NAMES,
    MEDIA_EXTENSIONS,
    TIMELOCK_MESSAGE,
    ApiError,
    SimSession,
    bad_request,
    br_alternative,
    digits_of,
    lid_for,
    new_message_id,
    now_ms,
    to_cus,
)


class _MessagesMixin:
    """Mixed into :class:`whatsapp.simulator.core.Simulator`."""

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
