"""What the simulator's parts share: WAHA's constants, the API error, ids, numbers, options, sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

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
