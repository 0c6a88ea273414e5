"""WAHA webhook intake: verify the request, store the raw body once, enqueue its processing.

Kept apart from the view so the benchmark-critical path is plain functions with no DRF, no serializers and
exactly one INSERT (plus django-q's enqueue INSERT, see `_enqueue_processing`). Everything slow happens later
in `whatsapp.services.webhook_event_process`, run by the `whatsapp.tasks.process_webhook_event` task.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, router, transaction
from loguru import logger

from cobranca.json_numbers import JsonRejected, strict_loads
from cobranca.tasks import enqueue_on_commit
from whatsapp.models import WebhookEvent

# Events we act on. Anything else (presence.update, message.reaction, group.*, ...) is answered 200 and
# dropped without a row: storing traffic nobody reads would only grow the table and slow the hot path.
HANDLED_EVENTS = frozenset({"message", "message.any", "message.ack", "session.status"})

PROCESS_TASK = "whatsapp.tasks.process_webhook_event"


class WebhookRejected(Exception):
    """The request is refused; `status` is the HTTP status to answer, `reason` a short machine-readable
    code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class IntakeResult:
    status: str  # "accepted" | "duplicate" | "ignored"
    event_pk: int | None = None


def signature_expected(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def verify_signature(body: bytes, signature: str | None, key: str) -> bool:
    """Hex HMAC-SHA512 of the raw body, as WAHA signs it (`X-Webhook-Hmac`). Constant-time comparison."""
    if not signature:
        return False
    return hmac.compare_digest(signature_expected(body, key).encode(), signature.strip().lower().encode())


def _to_ms(value) -> int | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    # The envelope timestamp is documented in ms, but accept seconds too rather than refuse a sane sender.
    return ms * 1000 if ms < 10**11 else ms


def check_freshness(
    *, header_ts: str | None, envelope_ts, max_age_seconds: int, now_ms: int | None = None
) -> None:
    """Refuse stale (or far-future) deliveries so a captured request cannot be replayed days later.

    The header is what WAHA documents, but it is not covered by the HMAC; the envelope `timestamp` is (it is
    in the signed body), so both are checked when present. A WAHA retry of an old event keeps its original
    timestamp, so a long outage can make WAHA's retries stale: raise WAHA_WEBHOOK_MAX_AGE_SECONDS if retries
    last longer."""
    if not max_age_seconds:
        return
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    limit = max_age_seconds * 1000
    for raw in (header_ts, envelope_ts):
        if raw in (None, ""):
            continue
        ts = _to_ms(raw)
        if ts is None:
            raise WebhookRejected(400, "bad_timestamp")
        if abs(now_ms - ts) > limit:
            raise WebhookRejected(401, "stale_timestamp")


# Deeper than any WAHA envelope (about 6 levels) by far, and shallow enough for every recursive consumer
# (json.dumps when the row is saved, the ORM, the admin) to stay far from Python's recursion limit.
MAX_JSON_DEPTH = 64
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """NUL removed (PostgreSQL text and jsonb refuse it) and lone surrogates replaced by U+FFFD (they cannot
    be encoded as UTF-8). json.loads joins valid surrogate pairs, so any surrogate left in a str is lone."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text)


def sanitize_json(data: object, *, clean: bool = True, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Clean every string (keys too) of a parsed JSON document in place, and refuse it when nested deeper
    than `max_depth`. Iterative: a hostile document cannot exhaust the stack here."""
    if isinstance(data, str):
        return clean_text(data) if clean else data
    stack: list[tuple[object, int]] = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise WebhookRejected(400, "too_deep")
        if isinstance(node, dict):
            if clean and any(clean_text(key) != key for key in node):
                items = [(clean_text(key), value) for key, value in node.items()]
                node.clear()
                node.update(items)
            entries = node.items()
        else:
            entries = enumerate(node)
        for key, value in entries:
            if isinstance(value, str):
                if clean:
                    node[key] = clean_text(value)
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
    return data


def parse_envelope(body: bytes) -> dict:
    """The envelope, parsed once and sanitised once: every later reader (the row, processing, the admin)
    sees text any database can store. The raw bytes are kept apart (WebhookEvent.raw_body)."""
    try:
        data = strict_loads(body)  # NaN/Infinity and 1e400 (inf): no database stores them as JSON
    except JsonRejected as exc:
        raise WebhookRejected(400, exc.reason) from None
    except RecursionError:
        raise WebhookRejected(400, "too_deep") from None
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "malformed_json") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "not_an_object")
    # Fast path for the usual body: NUL and lone surrogates can only come from a \u escape or (json.loads
    # decodes bytes with surrogatepass) a raw 0xED lead byte; depth needs at least MAX_JSON_DEPTH brackets.
    clean = b"\\u" in body or b"\xed" in body
    if clean or body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH:
        sanitize_json(data, clean=clean)
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise WebhookRejected(400, "missing_event")
    return data


def envelope_event_id(envelope: dict, *, body: bytes) -> str:
    """WAHA's envelope `id` (evt_<ulid>) is the idempotency key. Without one, a hash of the signed body: a
    retry or a replay of the same body is then a duplicate. X-Webhook-Request-Id is not used: it is not
    covered by the HMAC and WAHA draws a new one per delivery, so keying on it stored one body once per
    delivery (issue #10, item 9)."""
    event_id = envelope.get("id")
    if isinstance(event_id, str) and event_id:
        return event_id[:100]
    return "sha_" + hashlib.sha256(body).hexdigest()[:64]


def _broker_shares_the_transaction() -> bool:
    """True when django-q's queue is a table in the same database as WebhookEvent (the ORM broker, not
    sync)."""
    from django_q.conf import Conf

    return bool(
        Conf.ORM
        and not Conf.SYNC
        and not Conf.BROKER_CLASS
        and not Conf.IRON_MQ
        and not isinstance(Conf.SQS, dict)
        and Conf.ORM == router.db_for_write(WebhookEvent)
    )


def _enqueue_processing(event_pk: int) -> None:
    """Enqueue the processing task so that it exists if and only if the event row commits.

    With the ORM broker the task row is inserted in the same transaction as the event: it becomes visible to
    the cluster exactly at commit (what on_commit guarantees), it vanishes on rollback, and one commit (one
    WAL flush, ~4 ms on this disk) is saved per request, which is what the intake's throughput is bound by. It
    also closes the window in which a crash between the two commits would leave an event without its task.
    With Redis (or sync mode, where async_task would run the task inside this transaction) enqueue on commit.
    """
    if _broker_shares_the_transaction():
        from django_q.tasks import async_task

        async_task(PROCESS_TASK, event_pk)
    else:
        enqueue_on_commit(PROCESS_TASK, event_pk)


def webhook_store(*, envelope: dict, event_id: str, raw_body: bytes | None = None) -> IntakeResult:
    """Insert the event and enqueue its processing on commit; a second delivery of the same id is a no-op.

    The unique constraint on `event_id` decides, not an exists() check: two concurrent deliveries of one event
    (WAHA retrying while we were slow, #53) both try the INSERT and exactly one wins.
    """
    event = envelope["event"]
    payload = envelope.get("payload")
    payload_id = ""
    if isinstance(payload, dict):
        pid = payload.get("id")
        if isinstance(pid, str):
            payload_id = pid[:200]
    session_name = envelope.get("session")
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                event_id=event_id,
                event=event[:60],
                session_name=session_name[:100] if isinstance(session_name, str) else "",
                payload_id=payload_id,
                payload=envelope,
                raw_body=raw_body,
            )
            _enqueue_processing(row.pk)
    except IntegrityError:
        # Only the unique event_id makes a delivery a duplicate; any other integrity error (a value the
        # database refuses) must surface, not be answered "duplicate" and lost.
        if not WebhookEvent.objects.filter(event_id=event_id).exists():
            raise
        return IntakeResult("duplicate")
    return IntakeResult("accepted", row.pk)


def webhook_receive(
    *,
    body: bytes,
    signature: str | None,
    header_timestamp: str | None,
    client_ip: str = "",
) -> IntakeResult:
    """Verify and store one delivery. Raises WebhookRejected with the HTTP status to answer."""
    key = settings.WAHA_WEBHOOK_HMAC_KEY
    if key:
        if not verify_signature(body, signature, key):
            logger.bind(security=True, ip=client_ip, signed=bool(signature)).warning(
                "security.webhook_bad_signature ip={} signed={}", client_ip, bool(signature)
            )
            raise WebhookRejected(401, "bad_signature")
    elif not settings.DEBUG:
        # Fail closed: in production an unset key must not turn the webhook into an open door (whatsapp.E001).
        logger.bind(security=True, ip=client_ip).error("security.webhook_no_key ip={}", client_ip)
        raise WebhookRejected(401, "no_key_configured")

    if key and not (header_timestamp or "").strip():
        # WAHA always sends it (= the envelope timestamp). Without it, a body that carries no timestamp of its
        # own would skip the age check entirely.
        raise WebhookRejected(400, "missing_timestamp")
    envelope = parse_envelope(body)
    check_freshness(
        header_ts=header_timestamp,
        envelope_ts=envelope.get("timestamp"),
        max_age_seconds=settings.WAHA_WEBHOOK_MAX_AGE_SECONDS,
    )
    if envelope["event"] not in HANDLED_EVENTS:
        return IntakeResult("ignored")
    return webhook_store(
        envelope=envelope,
        event_id=envelope_event_id(envelope, body=body),
        raw_body=body,
    )
