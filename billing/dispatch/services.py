"""Dispatch writes: per-dispatch outcomes, acks, recovery, resend, send-single; and, re-exported from
`campaigns.py`, the campaign lifecycle and the session-wide pauses.

Callers: the campaign API and dashboard (create/start/pause/resume/cancel/resend), the driver (`driver.py`,
the outcome functions), the WAHA webhook (`dispatch_record_ack`, `campaigns_pause_for_session`,
`campaigns_resume_for_session`) and the tick task (`dispatch_recover_stale`).

State changes of a Dispatch are conditional UPDATEs on its current status, so two workers, a late webhook and
an operator can race on the same row and the row still only moves along the allowed edges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from loguru import logger

from billing.dispatch.campaigns import (  # noqa: F401 - the lifecycle's names stay importable from here
    AUTO_PAUSE_PREFIX,
    PAUSE_SESSION_CONFIG,
    PAUSE_SESSION_DOWN,
    REASON_CAMPAIGN_CANCELLED,
    TIMELOCK_PAUSE_PREFIX,
    campaign_cancel,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_start,
    campaigns_complete_finished,
    campaigns_pause_for_session,
    campaigns_promote_scheduled,
    campaigns_resume_for_session,
    driver_lanes,
    kick_drivers,
)
from billing.models import Campaign, Charge, Client, Dispatch, MessageTemplate
from billing.phones import normalize_phone
from billing.regua.sending import regua_has_live_charge
from billing.services import clients_record_whatsapp_check
from billing.signals import messages_sent_announce
from billing.suppression import (  # noqa: F401 - re-exported: the driver and tests name them from here
    REASON_FORGOTTEN,
    REASON_LISTED,
    REASON_NOT_ON_WHATSAPP,
    REASON_OPTED_OUT,
    REASON_WRONG_NUMBER,
    client_suppression_reason,
    is_suppressed,
)
from billing.templating import template_render
from cobranca import clock
from cobranca.exceptions import ApplicationError
from whatsapp import client as waha_api
from whatsapp.client import WahaAck, WahaError
from whatsapp.selectors import webhook_acks_latest

DS = Dispatch.Status
CS = Campaign.Status


# --- reasons shown to operators (pt-BR) ---------------------------------------------------------------------

REASON_CHARGE = {
    Charge.Status.PAID: "cobrança paga",
    Charge.Status.CANCELLED: "cobrança cancelada",
    Charge.Status.DISPUTED: "cobrança contestada",
    Charge.Status.PAYMENT_CLAIMED: "pagamento informado pelo devedor",
}
REASON_DEBTOR_CAP = "limite diário do devedor: aguardando o próximo dia"
REASON_UNKNOWN_STALE = "envio interrompido (processo parou durante o envio): confira antes de reenviar"
REASON_UNKNOWN_AMBIGUOUS = "envio incerto ({}): o WhatsApp pode ter recebido; confira antes de reenviar"
REASON_RETRY = "erro temporário ({}): nova tentativa agendada"
REASON_RETRIES_EXHAUSTED = "falhou após {} tentativas ({})"
REASON_PERMANENT = "o WhatsApp recusou a mensagem ({})"
REASON_TEMPLATE = "erro ao montar a mensagem: {}"
REASON_ACK_ERROR = "o WhatsApp informou erro na entrega"

# Dispatch statuses that count as "a campaign message went (or may have gone) to the debtor".
CONTACTED = (DS.SENDING, DS.SENT, DS.DELIVERED, DS.READ, DS.UNKNOWN)

# WAHA ack → dispatch status; PENDING says nothing new, ERROR is handled apart.
ACK_STATUS = {
    WahaAck.SERVER: DS.SENT,
    WahaAck.DEVICE: DS.DELIVERED,
    WahaAck.READ: DS.READ,
    WahaAck.PLAYED: DS.READ,
}
ACK_TIME_FIELD = {DS.DELIVERED: "delivered_at", DS.READ: "read_at"}


# --- settings with defaults (read at call time so tests can override them) ----------------------------------


def max_retries() -> int:
    return settings.DISPATCH_MAX_RETRIES


def retry_base_seconds() -> float:
    return float(settings.DISPATCH_RETRY_BASE_SECONDS)


def retry_max_seconds() -> float:
    return float(settings.DISPATCH_RETRY_MAX_SECONDS)


def stale_after_seconds() -> float:
    """How old a `sending` row must be before recovery calls it unknown.

    A live sender holds a row in `sending` for at most a check-exists call plus a sendText call, each bounded
    by the WAHA connect + read timeouts; twice that plus a margin can only be a dead process.
    """
    return float(settings.DISPATCH_STALE_SECONDS)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff after the `attempts`-th failed try: base, 2×base, 4×base… capped."""
    return min(retry_base_seconds() * (2 ** max(0, attempts - 1)), retry_max_seconds())


def local_day_start(at: dt.datetime | None = None) -> dt.datetime:
    local = timezone.localtime(at or clock.now())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def next_day_start(at: dt.datetime | None = None) -> dt.datetime:
    start = local_day_start(at)
    return timezone.make_aware(
        dt.datetime.combine(start.date() + dt.timedelta(days=1), dt.time(0, 0)), start.tzinfo
    )


# --- per-dispatch outcomes (called by the driver) -----------------------------------------------------------


def skip_reason_for(*, client: Client, charge: Charge, listed: bool | None = None) -> str:
    """Why this dispatch must not be sent, or "" when it may. Checked at send time: things change
    mid-campaign. `listed`: the client's number is on the suppression list, when the caller's query already
    says (see `billing.suppression.annotate_suppressed`); None looks it up."""
    reason = client_suppression_reason(client, listed=listed)
    if reason:
        return reason
    if not charge.accepts_reminders:
        return REASON_CHARGE.get(charge.status, f"cobrança {charge.get_status_display()}")
    return ""


def dispatch_skip_reason(dispatch: Dispatch) -> str:
    """`skip_reason_for` the dispatch's client and charge, except that a régua message carrying several
    charges of the debtor still goes while one of them takes reminders (the closed ones are left out of its
    text). The suppression list is read from the claim query's `client_listed` annotation when present."""
    listed = getattr(dispatch, "client_listed", None)
    reason = skip_reason_for(client=dispatch.client, charge=dispatch.charge, listed=listed)
    if reason and reason in REASON_CHARGE.values():
        if regua_has_live_charge(dispatch_id=dispatch.pk):
            return ""
    return reason


def dispatch_skip(*, dispatch_id: int, reason: str, from_status: str = DS.SENDING) -> bool:
    return (
        Dispatch.objects.filter(pk=dispatch_id, status=from_status).update(
            status=DS.SKIPPED, reason=reason[:255], next_attempt_at=None, updated_at=clock.now()
        )
        > 0
    )


def dispatch_mark_sent(*, dispatch_id: int, waha_message_id: str, body: str) -> bool:
    """Commit the outcome right after sendText returned: this is what makes a crash leave at most one row
    behind."""
    now = clock.now()
    return (
        Dispatch.objects.filter(pk=dispatch_id, status=DS.SENDING).update(
            status=DS.SENT,
            waha_message_id=waha_message_id,
            body=body,
            sent_at=now,
            reason="",
            next_attempt_at=None,
            updated_at=now,
        )
        > 0
    )


def dispatch_mark_failed(*, dispatch_id: int, reason: str, body: str = "") -> bool:
    values = {
        "status": DS.FAILED,
        "reason": reason[:255],
        "next_attempt_at": None,
        "updated_at": clock.now(),
    }
    if body:
        values["body"] = body
    return Dispatch.objects.filter(pk=dispatch_id, status=DS.SENDING).update(**values) > 0


def dispatch_mark_unknown(*, dispatch_id: int, reason: str, body: str = "") -> bool:
    values = {"status": DS.UNKNOWN, "reason": reason[:255], "updated_at": clock.now()}
    if body:
        values["body"] = body
    return Dispatch.objects.filter(pk=dispatch_id, status=DS.SENDING).update(**values) > 0


def dispatch_release(
    *,
    dispatch_id: int,
    next_attempt_at: dt.datetime | None = None,
    reason: str = "",
    count_attempt: bool = False,
) -> bool:
    """Back to pending. `count_attempt=False` gives the attempt back: the session failed, not this message."""
    values: dict = {
        "status": DS.PENDING,
        "next_attempt_at": next_attempt_at,
        "reason": reason[:255],
        "updated_at": clock.now(),
    }
    if not count_attempt:
        values["attempts"] = F("attempts") - 1
    return Dispatch.objects.filter(pk=dispatch_id, status=DS.SENDING, attempts__gt=0).update(**values) > 0


def dispatch_release_many(*, dispatch_ids: list[int]) -> int:
    """Claimed but never attempted (the rest of a batch after a session error, a backoff or the time guard):
    back to pending with their attempt given back. Nothing was sent for them."""
    if not dispatch_ids:
        return 0
    return Dispatch.objects.filter(pk__in=list(dispatch_ids), status=DS.SENDING, attempts__gt=0).update(
        status=DS.PENDING, next_attempt_at=None, attempts=F("attempts") - 1, updated_at=clock.now()
    )


def dispatch_retry_or_fail(*, dispatch_id: int, attempts: int, error_reason: str) -> str:
    """A transient error: retry later with exponential backoff, or fail once the retries are used up."""
    if attempts > max_retries():
        dispatch_mark_failed(
            dispatch_id=dispatch_id, reason=REASON_RETRIES_EXHAUSTED.format(attempts, error_reason)
        )
        return DS.FAILED
    at = clock.now() + dt.timedelta(seconds=backoff_seconds(attempts))
    dispatch_release(
        dispatch_id=dispatch_id,
        next_attempt_at=at,
        reason=REASON_RETRY.format(error_reason),
        count_attempt=True,
    )
    return DS.PENDING


def defer_pending(*, campaign_ids: Iterable[int], until: dt.datetime) -> int:
    """Outside the window / over a cap: pending dispatches wait until `until` (never dropped)."""
    return (
        Dispatch.objects.filter(campaign_id__in=list(campaign_ids), status=DS.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=until))
        .update(next_attempt_at=until, updated_at=clock.now())
    )


# --- operators and webhooks ---------------------------------------------------------------------------------


def dispatch_resend_unknown(*, dispatch: Dispatch, by=None) -> Dispatch:
    """An operator checked an `unknown` dispatch (the phone shows it was not received) and sends it again.

    Never automatic: only a person can know whether the debtor got the first one. Reopens a completed
    campaign.
    """
    now = clock.now()
    with transaction.atomic():
        updated = Dispatch.objects.filter(pk=dispatch.pk, status=DS.UNKNOWN).update(
            status=DS.PENDING, reason="", next_attempt_at=None, waha_message_id=None, updated_at=now
        )
        if not updated:
            dispatch.refresh_from_db()
            raise ApplicationError(
                "Só é possível reenviar um envio em situação desconhecida.",
                {"status": dispatch.status, "dispatch_id": dispatch.pk},
                status_code=409,
            )
        campaign = Campaign.objects.select_for_update().get(pk=dispatch.campaign_id)
        if campaign.status == CS.CANCELLED:
            raise ApplicationError("A campanha foi cancelada.", {"campaign_id": campaign.pk}, status_code=409)
        if campaign.status == CS.COMPLETED:
            campaign.status, campaign.finished_at = CS.RUNNING, None
            campaign.save(update_fields=["status", "finished_at"])
        if campaign.status == CS.RUNNING:
            kick_drivers(session_name=campaign.session_name, delay=float(campaign.delay_seconds))
    logger.bind(dispatch_id=dispatch.pk, campaign_id=campaign.pk).info(
        "dispatch.resend_unknown by={}", getattr(by, "pk", None)
    )
    dispatch.refresh_from_db()
    return dispatch


def dispatch_record_ack(*, waha_message_id: str, ack: int) -> bool:
    """Apply a WAHA `message.ack` to the campaign dispatch with that id; True when the row changed.

    Forward-only: sent < delivered < read, as one conditional UPDATE whose WHERE lists the statuses this ack
    may replace, so acks arriving twice, out of order or concurrently never move a dispatch back. -1 (ERROR)
    fails a dispatch only from sending/sent (a delivered message did not fail). An ack for an `unknown`
    dispatch proves it was sent.
    """
    if not waha_message_id:
        return False
    now = clock.now()
    qs = Dispatch.objects.filter(waha_message_id=waha_message_id)
    if ack == WahaAck.ERROR:
        return (
            qs.filter(status__in=[DS.SENDING, DS.SENT]).update(
                status=DS.FAILED, reason=REASON_ACK_ERROR, updated_at=now
            )
            > 0
        )
    target = ACK_STATUS.get(ack)
    if target is None:
        return False
    order = Dispatch.PROGRESS
    lower = [DS.SENDING, DS.UNKNOWN] + [status for status, rank in order.items() if rank < order[target]]
    values: dict = {"status": target, "updated_at": now}
    if target in ACK_TIME_FIELD:
        values[ACK_TIME_FIELD[target]] = now
    changed = qs.filter(status__in=lower).update(**values)
    if changed and target == DS.READ:
        # A read receipt implies delivery; keep delivered_at filled for the stats.
        qs.filter(delivered_at__isnull=True).update(delivered_at=now)
    if changed:
        qs.filter(sent_at__isnull=True).update(sent_at=now)
    return changed > 0


def dispatches_catch_up_acks(*, waha_message_ids: Iterable[str]) -> int:
    """Apply the acks WAHA reported for these ids before the sender stored them on their dispatches.

    Call right after `dispatch_mark_sent` stored the ids (a batch at a time): an ack that arrived earlier
    found no row to move and is only in the stored webhook events. One query for all of them, then
    `dispatch_record_ack` per id that has one. Returns how many dispatches moved."""
    moved = 0
    for waha_id, ack in webhook_acks_latest(waha_message_ids=waha_message_ids).items():
        moved += dispatch_record_ack(waha_message_id=waha_id, ack=ack)
    return moved


def dispatch_recover_stale(*, older_than: float | None = None, session_name: str | None = None) -> int:
    """`sending` rows older than the threshold belong to a dead worker: mark them unknown (never resent).

    Safe to run any time, from any process: it only touches rows no live sender can still hold.
    """
    threshold = stale_after_seconds() if older_than is None else older_than
    cutoff = clock.now() - dt.timedelta(seconds=threshold)
    qs = Dispatch.objects.filter(status=DS.SENDING, claimed_at__lt=cutoff)
    if session_name is not None:
        qs = qs.filter(campaign__session_name=session_name)
    ids = list(qs.values_list("pk", flat=True)[:1000])
    if not ids:
        return 0
    count = Dispatch.objects.filter(pk__in=ids, status=DS.SENDING, claimed_at__lt=cutoff).update(
        status=DS.UNKNOWN, reason=REASON_UNKNOWN_STALE, updated_at=clock.now()
    )
    if count:
        logger.warning("dispatch.recovered_stale count={} session={}", count, session_name)
        campaigns_complete_finished(session_name=session_name)
    return count


def dispatch_tick_run() -> dict:
    """What the `dispatch-tick` schedule does: recovery, scheduled starts, completion, and a driver per
    session."""
    recovered = dispatch_recover_stale()
    campaigns_promote_scheduled()
    completed = campaigns_complete_finished()
    sessions = {}
    for name, delay in Campaign.objects.filter(status=CS.RUNNING).values_list(
        "session_name", "delay_seconds"
    ):
        sessions[name] = min(float(delay), sessions.get(name, float(delay)))
    for name, delay in sessions.items():
        kick_drivers(session_name=name, delay=delay)
    return {"recovered": recovered, "completed": completed, "sessions": sorted(sessions)}


# --- one message now (send-single) --------------------------------------------------------------------------


def _single_recipient(*, client: Client | None, phone: str) -> tuple[Client | None, str]:
    """The client (found by phone when not given) and the phone to send to; refuses anyone suppressed."""
    if client is None:
        try:
            phone = normalize_phone(phone)
        except Exception as exc:  # noqa: BLE001 - PhoneError or anything the normalizer raises on bad input
            raise ApplicationError("Telefone inválido.", {"phone": str(exc)}) from None
        client = Client.objects.filter(phone=phone).first()
    if client is not None:
        reason = client_suppression_reason(client)
        if reason:
            raise ApplicationError(
                "Este cliente não pode receber mensagens.",
                {"reason": reason, "client_id": client.pk},
                status_code=409,
            )
        return client, client.phone
    if is_suppressed(phone):
        # No client row (e.g. it was forgotten): the suppression list still remembers the number.
        raise ApplicationError(
            "Este número não pode receber mensagens.", {"reason": REASON_LISTED}, status_code=409
        )
    return None, phone


def _single_body(*, template: MessageTemplate | None, text: str, client: Client | None) -> str:
    """`text` as given, or `template` rendered for the client's oldest charge that still takes reminders."""
    if template is None:
        body = (text or "").strip()
    else:
        charge = None
        if client is not None:
            charge = (
                client.charges.exclude(status__in=Charge.NO_REMINDER_STATUSES)
                .order_by("due_date", "pk")
                .first()
            )
        body = template_render(body=template.body, charge=charge, client=client)
    if not body:
        raise ApplicationError("Informe o texto ou o modelo da mensagem.", {"field": "text"})
    return body


def message_send_single(
    *,
    client: Client | None = None,
    phone: str = "",
    template: MessageTemplate | None = None,
    text: str = "",
    session_name: str | None = None,
    by=None,
) -> dict:
    """Send one message right now, outside any campaign pace or window, but never to a suppressed client.

    The text is either `text` as given or `template` rendered for the client's oldest charge that still takes
    reminders. Returns {"message_id", "chat_id"}; WAHA failures come back as ApplicationError (502/409/422).
    """
    client, phone = _single_recipient(client=client, phone=phone)
    body = _single_body(template=template, text=text, client=client)
    session = session_name or settings.WAHA_SESSION_NAME
    api = waha_api.get_client()
    try:
        chat_id = client.chat_id if client is not None else ""
        if not chat_id:
            chat_id = api.check_exists(phone, session=session)
            if client is not None:
                clients_record_whatsapp_check(chat_ids={client.pk: chat_id})
        if chat_id is None:
            # The client's phone is not echoed: a caller who named a client_id may not read it in full.
            where = {"client_id": client.pk} if client is not None else {"phone": phone}
            raise ApplicationError("Este número não tem WhatsApp.", where, status_code=422)
        waha_id = api.send_text(chat_id, body, session=session)
    except WahaError as exc:
        raise ApplicationError(
            "O WhatsApp não aceitou a mensagem.",
            {"reason": exc.reason, "waha_status": exc.status_code},
            status_code=409 if exc.reason in ("session_not_working", "reachout_timelock") else 502,
        ) from None
    # The message is out: recording it in the conversation (the signal's receiver) must not turn into a 500.
    messages_sent_announce(
        sender=message_send_single,
        messages=[
            {
                "chat_id": chat_id,
                "client": client,
                "body": body,
                "waha_id": waha_id,
                "operator": by if getattr(by, "pk", None) else None,
            }
        ],
        author="operator",
        session_name=session,
    )
    logger.bind(client_id=getattr(client, "pk", None)).info("send_single.sent")
    return {"message_id": waha_id, "chat_id": chat_id}
