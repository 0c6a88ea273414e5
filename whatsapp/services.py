"""WhatsApp services: processing of stored webhook events and WAHA session control.

Inbound data flows one way: webhook → `webhook_event_process` → conversations services (which hand a
debtor's message to the chatbot's task) / billing dispatch services (acks, session pauses). Every handler is
idempotent: WAHA delivers at least once, django-q2 runs tasks at least once, and operators can replay events
from the admin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.dispatch import services as dispatch_services
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_chat_id, mask_text
from cobranca.tasks import enqueue_on_commit
from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import Message
from whatsapp import client as waha_api
from whatsapp.client import WahaError
from whatsapp.models import WahaSession, WebhookEvent

State = WebhookEvent.State

# Statuses in which nothing can be sent: campaigns pause instead of failing one dispatch at a time.
PAUSE_STATUSES = frozenset(
    {WahaSession.Status.FAILED, WahaSession.Status.STOPPED, WahaSession.Status.SCAN_QR_CODE}
)
_STATUS_LABELS = dict(WahaSession.Status.choices)

# Chats we never answer: groups, broadcast lists/status, channels.
_IGNORED_SERVERS = ("@g.us", "@broadcast", "@newsletter")


# --- webhook processing -------------------------------------------------------------------------------------


class _Outcome:
    def __init__(self, state: str, note: str = "") -> None:
        self.state = state
        self.note = note


def webhook_event_process(*, event_id: int, force: bool = False) -> str:
    """Process one stored WebhookEvent; returns its final state. Safe to run any number of times.

    The claim is a conditional UPDATE on (state, attempts): of two workers holding the same task (django-q
    redelivery) only the one whose UPDATE matches continues. `force` reprocesses an event in any state, for
    replays; the handlers themselves are idempotent (unique `Message.waha_id`, forward-only acks, upserts).
    """
    row = (
        WebhookEvent.objects.filter(pk=event_id)
        .only("pk", "event", "session_name", "payload", "state", "attempts")
        .first()
    )
    if row is None:
        return "missing"
    if not force and row.state not in (State.PENDING, State.FAILED):
        return row.state
    claimed = WebhookEvent.objects.filter(pk=row.pk, state=row.state, attempts=row.attempts).update(
        attempts=row.attempts + 1
    )
    if not claimed:
        return "claimed_elsewhere"

    handler = _HANDLERS.get(row.event)
    try:
        outcome = handler(row) if handler else _Outcome(State.IGNORED, "evento não tratado")
    except Exception as exc:
        # Stored as failed for the admin's "reprocessar" action; transient WAHA errors are re-raised so that
        # django-q retries the task (max_attempts) without an operator.
        WebhookEvent.objects.filter(pk=row.pk).update(
            state=State.FAILED,
            error=mask_text(f"{type(exc).__name__}: {exc}")[:2000],
            processed_at=timezone.now(),
        )
        logger.bind(event_id=row.pk, event=row.event).exception("webhook.process_failed")
        if isinstance(exc, WahaError) and not getattr(exc, "permanent", True):
            raise
        return State.FAILED
    WebhookEvent.objects.filter(pk=row.pk).update(
        state=outcome.state, error=outcome.note[:2000], processed_at=timezone.now()
    )
    return outcome.state


def webhook_events_replay(
    *,
    since: dt.datetime | None = None,
    states: Iterable[str] = (State.FAILED,),
    pks: Iterable[int] | None = None,
) -> int:
    """Put events back to pending and enqueue their processing again; returns how many.

    Used by the admin action and by operators after an outage or a bug fix. Replaying a processed event is
    harmless (handlers are idempotent) but does nothing new, hence the default of failed events only.
    """
    qs = WebhookEvent.objects.filter(state__in=list(states))
    if since is not None:
        qs = qs.filter(received_at__gte=since)
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    ids = list(qs.order_by("received_at", "pk").values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        WebhookEvent.objects.filter(pk__in=ids).update(state=State.PENDING, error="")
        for pk in ids:
            enqueue_on_commit("whatsapp.tasks.process_webhook_event", pk)
    return len(ids)


def _payload(row: WebhookEvent) -> dict:
    payload = row.payload.get("payload") if isinstance(row.payload, dict) else None
    return payload if isinstance(payload, dict) else {}


def _is_person_chat(chat_id: str) -> bool:
    return (
        bool(chat_id)
        and chat_id.endswith(("@c.us", "@lid", "@s.whatsapp.net"))
        and not chat_id.endswith(_IGNORED_SERVERS)
    )


def _normalize_chat(chat_id: str) -> str:
    # `@s.whatsapp.net` only appears inside raw engine data; WAHA's public form is `@c.us` (docs/waha.md).
    if chat_id.endswith("@s.whatsapp.net"):
        return chat_id.split("@", 1)[0].split(":", 1)[0] + "@c.us"
    return chat_id


def _chat_of_own_message(payload: dict) -> str:
    """The debtor's chat of a message we sent: `to`, else the middle of the serialized id true_<chat>_<id>."""
    to = payload.get("to")
    if isinstance(to, str) and "@" in to:
        return _normalize_chat(to)
    mid = payload.get("id")
    if isinstance(mid, str) and mid.startswith("true_"):
        parts = mid.split("_")
        if len(parts) >= 3:
            return _normalize_chat(parts[1])
    return ""


def _sent_at(payload: dict) -> dt.datetime:
    ts = payload.get("timestamp")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool) and ts > 0:
        seconds = ts / 1000 if ts > 10**11 else ts  # documented in seconds; tolerate ms
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return timezone.now()


def _message_id(payload: dict) -> str:
    mid = payload.get("id")
    if isinstance(mid, dict):  # WEBJS raw shape {"_serialized": ...}
        mid = mid.get("_serialized")
    return mid[:200] if isinstance(mid, str) else ""


def _handle_message(row: WebhookEvent) -> _Outcome:
    payload = _payload(row)
    if payload.get("fromMe"):
        if row.event == "message.any" and payload.get("source") == "app":
            return _handle_own_message_from_phone(row, payload)
        # source "api": the sender (bot, campaign, operator reply) already recorded it with the id that
        # sendText returned. No source (engines other than GOWS): treated the same, we cannot tell who typed.
        return _Outcome(State.IGNORED, "mensagem própria")
    return _handle_inbound(row, payload)


def _handle_inbound(row: WebhookEvent, payload: dict) -> _Outcome:
    chat_id = payload.get("from") if isinstance(payload.get("from"), str) else ""
    chat_id = _normalize_chat(chat_id)
    if not _is_person_chat(chat_id) or payload.get("participant"):
        return _Outcome(State.IGNORED, "grupo, status ou canal")
    waha_id = _message_id(payload)
    if not waha_id:
        return _Outcome(State.IGNORED, "mensagem sem id")
    # Fast path for the usual duplicate (`message` + `message.any` of the same inbound message, #1384); the
    # unique constraint on Message.waha_id stays the real guard against two workers racing here.
    if Message.objects.filter(waha_id=waha_id).exists():
        return _Outcome(State.DUPLICATE, "mensagem já registrada")

    session_name = row.session_name or settings.WAHA_SESSION_NAME
    lid = ""
    phone_chat_id = ""
    if chat_id.endswith("@lid"):
        lid = chat_id
        # Network call before any transaction (conventions: no network inside atomic). Skipped when a client
        # already carries this lid.
        if conversation_selectors.client_for_chat(chat_id=chat_id, lid=lid) is None:
            phone_chat_id = _resolve_lid(lid, session_name=session_name)
    body = payload.get("body") if isinstance(payload.get("body"), str) else ""
    media = _media(payload)
    if not body and payload.get("hasMedia") and media is None:
        body = "[mídia]"  # WAHA did not download it (media null or with an error): nothing to fetch
    message, created = conversation_services.message_receive(
        chat_id=chat_id,
        body=body,
        waha_id=waha_id,
        sent_at=_sent_at(payload),
        session_name=session_name,
        lid=lid,
        phone_chat_id=phone_chat_id,
        reply_to=_quoted_id(payload),
        media=media,
    )
    if not created:
        return _Outcome(State.DUPLICATE, "mensagem já registrada")
    # message_receive has handed the message to the chatbot's task when the bot may answer.
    logger.bind(message_id=message.pk, conversation_id=message.conversation_id).info(
        "whatsapp.inbound chat={}", mask_chat_id(chat_id)
    )
    return _Outcome(State.PROCESSED)


def _media(payload: dict) -> dict | None:
    """WAHA's WAMedia of a message that has a file to fetch (``url``, ``mimetype``, ``filename``), else None.
    The download happens later, in a worker (conversations.services.attachment_download)."""
    media = payload.get("media")
    if not payload.get("hasMedia") or not isinstance(media, dict) or media.get("error"):
        return None
    url = media.get("url")
    if not isinstance(url, str) or not url:
        return None
    return {key: media.get(key) for key in ("url", "mimetype", "filename")}


def _quoted_id(payload: dict) -> str:
    """The id of the message the debtor quoted (WAHA's `replyTo.id`), "" when he quoted none."""
    reply_to = payload.get("replyTo")
    quoted = reply_to.get("id") if isinstance(reply_to, dict) else None
    return quoted[:200] if isinstance(quoted, str) else ""


def _resolve_lid(lid: str, *, session_name: str) -> str:
    try:
        pn = waha_api.get_client().lid_to_phone(lid, session=session_name)
    except WahaError as exc:
        if getattr(exc, "permanent", False):
            return ""
        raise  # transient: the task is retried and the message is not stored without its client
    return _normalize_chat(pn) if pn else ""


def _handle_own_message_from_phone(row: WebhookEvent, payload: dict) -> _Outcome:
    chat_id = _chat_of_own_message(payload)
    if not _is_person_chat(chat_id):
        return _Outcome(State.IGNORED, "grupo, status ou canal")
    waha_id = _message_id(payload)
    if not waha_id:
        return _Outcome(State.IGNORED, "mensagem sem id")
    body = payload.get("body") if isinstance(payload.get("body"), str) else ""
    _message, created = conversation_services.operator_message_from_phone(
        chat_id=chat_id,
        body=body or ("[mídia]" if payload.get("hasMedia") else ""),
        waha_id=waha_id,
        sent_at=_sent_at(payload),
        session_name=row.session_name or settings.WAHA_SESSION_NAME,
    )
    return _Outcome(State.PROCESSED if created else State.DUPLICATE)


def _handle_ack(row: WebhookEvent) -> _Outcome:
    payload = _payload(row)
    waha_id = _message_id(payload)
    ack = payload.get("ack")
    if not waha_id or not isinstance(ack, int) or isinstance(ack, bool):
        return _Outcome(State.IGNORED, "ack sem id ou valor")
    moved_message = conversation_services.message_ack_record(waha_id=waha_id, ack=ack)
    moved_dispatch = dispatch_services.dispatch_record_ack(waha_message_id=waha_id, ack=ack)
    if moved_message or moved_dispatch:
        return _Outcome(State.PROCESSED)
    # Nothing moved: an old/out-of-order ack, or one that arrived before the sender stored the id (each app
    # catches up its own rows from the stored events via whatsapp.selectors.webhook_acks_latest).
    return _Outcome(State.PROCESSED, "nenhuma mudança")


def _parse_ms(value: Any) -> dt.datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 10**11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _handle_session_status(row: WebhookEvent) -> _Outcome:
    payload = _payload(row)
    envelope = row.payload if isinstance(row.payload, dict) else {}
    name = payload.get("name") or envelope.get("session") or row.session_name
    status = payload.get("status")
    if not isinstance(name, str) or not name or status not in WahaSession.Status.values:
        return _Outcome(State.IGNORED, "status desconhecido")
    at = None
    for item in reversed(payload.get("statuses") or []):
        if isinstance(item, dict) and item.get("status") == status:
            at = _parse_ms(item.get("timestamp"))
            break
    at = at or _parse_ms(envelope.get("timestamp"))
    me = envelope.get("me") if isinstance(envelope.get("me"), dict) else None
    _session, applied = session_status_apply(name=name[:100], status=status, me=me, at=at)
    return _Outcome(State.PROCESSED if applied else State.IGNORED, "" if applied else "status mais antigo")


def session_status_apply(
    *, name: str, status: str, me: dict | None = None, at: dt.datetime | None = None
) -> tuple[WahaSession, bool]:
    """Upsert the session row and pause/resume its campaigns. Returns (session, applied).

    An event older than the last recorded change is not applied (WAHA retries can deliver STARTING after
    WORKING). Repeating the same status is applied again: WAHA re-issues WORKING when capping info changes,
    and the campaign services are idempotent."""
    at = at or timezone.now()
    with transaction.atomic():
        session, created = WahaSession.objects.select_for_update().get_or_create(
            name=name, defaults={"status": status, "status_changed_at": at}
        )
        if not created and session.status_changed_at and at < session.status_changed_at:
            return session, False
        fields: list[str] = []
        if not created and session.status != status:
            session.status = status
            session.status_changed_at = at
            fields += ["status", "status_changed_at"]
        if me:
            me_id = str(me.get("id") or "")[:64]
            push = str(me.get("pushName") or "")[:200]
            if me_id and (me_id, push) != (session.me_id, session.me_push_name):
                session.me_id, session.me_push_name = me_id, push
                fields += ["me_id", "me_push_name"]
        if fields:
            session.save(update_fields=[*fields, "updated_at"])
    _campaigns_follow_session(name=name, status=status)
    return session, True


def _campaigns_follow_session(*, name: str, status: str) -> None:
    if status in PAUSE_STATUSES:
        count = dispatch_services.campaigns_pause_for_session(
            session_name=name, reason=f"Sessão do WhatsApp {name} {_STATUS_LABELS.get(status, status)}."
        )
        if count:
            logger.bind(session=name).warning("whatsapp.campaigns_paused status={} count={}", status, count)
    elif status == WahaSession.Status.WORKING:
        count = dispatch_services.campaigns_resume_for_session(session_name=name)
        if count:
            logger.bind(session=name).info("whatsapp.campaigns_resumed count={}", count)


_HANDLERS: dict[str, Callable[[WebhookEvent], _Outcome]] = {
    "message": _handle_message,
    "message.any": _handle_message,
    "message.ack": _handle_ack,
    "session.status": _handle_session_status,
}


# --- session control (operators' page, admin, API) ----------------------------------------------------------


def _waha_failure(exc: Exception, action: str) -> ApplicationError:
    reason = getattr(exc, "reason", "error")
    status = getattr(exc, "status_code", None)
    logger.bind(action=action).warning("whatsapp.session_call_failed reason={} status={}", reason, status)
    return ApplicationError(
        f"Não foi possível {action}: o WAHA não respondeu como esperado.",
        {"reason": reason, "waha_status": status},
        status_code=502,
    )


def session_start(*, name: str) -> dict:
    """Create or update the session in WAHA with our webhook URL and HMAC key, and start it (idempotent)."""
    try:
        info = waha_api.get_client().upsert_session(
            name, webhook_url=settings.WAHA_WEBHOOK_URL, hmac_key=settings.WAHA_WEBHOOK_HMAC_KEY
        )
    except WahaError as exc:
        raise _waha_failure(exc, "iniciar a sessão") from exc
    # The row is not written here: WAHA may already have emitted STARTING → SCAN_QR_CODE → WORKING with
    # timestamps earlier than our clock; the session.status webhooks keep the row and campaigns in step.
    return info if isinstance(info, dict) else {}


def session_stop(*, name: str) -> dict:
    """Stop the session in WAHA (keeps its login) and record it stopped, which pauses its campaigns."""
    try:
        info = waha_api.get_client().stop_session(name)
    except WahaError as exc:
        raise _waha_failure(exc, "parar a sessão") from exc
    # Recorded at once (no event can legitimately follow a stop until the next start), so campaigns pause even
    # if the STOPPED webhook is lost.
    me = info.get("me") if isinstance(info, dict) and isinstance(info.get("me"), dict) else None
    session_status_apply(name=name, status=WahaSession.Status.STOPPED, me=me)
    return info if isinstance(info, dict) else {}


def session_qr(*, name: str, raw: bool = False) -> bytes | str:
    try:
        return waha_api.get_client().qr_raw(name) if raw else waha_api.get_client().qr_png(name)
    except WahaError as exc:
        if getattr(exc, "status_code", None) == 422:
            raise ApplicationError(
                "Não há QR code para esta sessão agora (ela não está aguardando leitura).",
                {"reason": "no_qr"},
                status_code=409,
            ) from exc
        raise _waha_failure(exc, "obter o QR code") from exc


def sessions_overview(*, refresh: bool = True) -> list[dict]:
    """Our WahaSession rows merged with WAHA's live view (when reachable), for the API and the page.

    Read-only: the live status is shown next to ours but not written, so a GET has no side effects; webhooks
    and start/stop keep the rows current."""
    rows = {s.name: s for s in WahaSession.objects.order_by("name")}
    live: dict[str, dict] = {}
    reachable: bool | None = None
    if refresh:
        try:
            for info in waha_api.get_client().list_sessions(all=True):
                if isinstance(info, dict) and isinstance(info.get("name"), str):
                    live[info["name"]] = info
            reachable = True
        except WahaError:
            reachable = False
    names = sorted(set(rows) | set(live) | {settings.WAHA_SESSION_NAME})
    result = []
    for name in names:
        row = rows.get(name)
        info = live.get(name) or {}
        me = info.get("me") if isinstance(info.get("me"), dict) else {}
        status = row.status if row else (info.get("status") or WahaSession.Status.STOPPED)
        live_status = info.get("status") if info else None
        result.append(
            {
                "name": name,
                "status": status,
                "status_label": _STATUS_LABELS.get(status, status),
                "live_status": live_status,
                "live_status_label": _STATUS_LABELS.get(live_status, live_status) if live_status else None,
                "waha_reachable": reachable,
                "me_id": (row.me_id if row and row.me_id else me.get("id", "")) or "",
                "me_push_name": (row.me_push_name if row and row.me_push_name else me.get("pushName", ""))
                or "",
                "status_changed_at": row.status_changed_at.isoformat()
                if row and row.status_changed_at
                else None,
                "needs_qr": (live_status or status) == WahaSession.Status.SCAN_QR_CODE,
            }
        )
    return result
