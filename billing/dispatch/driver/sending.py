"""Sending claimed dispatches: render, resolve chat ids, call WAHA, commit each outcome, classify errors."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from loguru import logger

from billing.dispatch import services as svc
from billing.models import Campaign, Dispatch
from billing.regua.sending import regua_render
from billing.services import clients_record_whatsapp_check
from billing.signals import messages_sent_announce
from billing.templating import template_render
from cobranca import clock
from whatsapp import client as waha_api
from whatsapp.client import WahaError

from .claim import dispatch_claim_batch, dispatch_claim_next
from .state import DS, TRANSIENT_STREAK, DriveStats, _Context

# --- send one -----------------------------------------------------------------------------------------------

SENT, SKIPPED, FAILED, RETRY, UNKNOWN, STOP, NOTHING = (
    "sent",
    "skipped",
    "failed",
    "retry",
    "unknown",
    "stop",
    "none",
)


def _render(campaign: Campaign, dispatch: Dispatch) -> str:
    if campaign.regua_id:
        # A régua message: the step's template and every charge of the debtor it carries that day.
        return regua_render(dispatch=dispatch)

    return template_render(body=campaign.template.body, charge=dispatch.charge, client=dispatch.client)


# long-function: one decision table over WAHA error reasons, best seen whole
def _handle_error(
    *, dispatch: Dispatch, exc, phase: str, session_name: str, body: str, stats: DriveStats
) -> str:
    reason = exc.reason
    stats.errors[reason] = stats.errors.get(reason, 0) + 1
    log = logger.bind(dispatch_id=dispatch.pk, campaign_id=dispatch.campaign_id, session=session_name)
    if reason in ("session_not_working", "reachout_timelock", "unauthorized", "session_not_found"):
        # The session cannot send to anyone: this message is not at fault, so it keeps its attempt, and the
        # session's campaigns pause instead of failing their dispatches one by one.
        svc.dispatch_release(dispatch_id=dispatch.pk, count_attempt=False)
        if reason == "session_not_working":
            svc.campaigns_pause_for_session(session_name=session_name, reason=svc.PAUSE_SESSION_DOWN)
        elif reason == "reachout_timelock":
            svc.campaigns_pause_for_session(session_name=session_name, timelock=True)
        else:
            svc.campaigns_pause_for_session(
                session_name=session_name, reason=svc.PAUSE_SESSION_CONFIG.format(reason)
            )
        log.warning("dispatch.session_paused reason={}", reason)
        return STOP
    maybe_delivered = getattr(exc, "maybe_delivered", reason in ("bad_response", "timeout"))
    if not maybe_delivered and reason in ("connection", "timeout"):
        # WAHA was not reached at all: like a session outage, this says nothing about the message, so it keeps
        # its attempt (an outage must not burn every dispatch's retries); the lane's streak backs off the
        # probing.
        svc.dispatch_release(
            dispatch_id=dispatch.pk,
            next_attempt_at=clock.now() + dt.timedelta(seconds=svc.backoff_seconds(1)),
            reason=svc.REASON_RETRY.format(reason),
            count_attempt=False,
        )
        stats.retried += 1
        log.warning("dispatch.waha_unreachable reason={}", reason)
        return RETRY
    ambiguous = (
        phase == "send" and maybe_delivered and (reason != "timeout" or not settings.DISPATCH_RETRY_TIMEOUTS)
    )
    if ambiguous:
        # WAHA may have accepted the message before the answer was lost: resending could duplicate it.
        svc.dispatch_mark_unknown(
            dispatch_id=dispatch.pk, reason=svc.REASON_UNKNOWN_AMBIGUOUS.format(reason), body=body
        )
        stats.unknown += 1
        log.warning("dispatch.unknown reason={}", reason)
        return UNKNOWN
    if exc.permanent:
        svc.dispatch_mark_failed(
            dispatch_id=dispatch.pk, reason=svc.REASON_PERMANENT.format(reason), body=body
        )
        stats.failed += 1
        log.warning("dispatch.failed reason={}", reason)
        return FAILED
    outcome = svc.dispatch_retry_or_fail(
        dispatch_id=dispatch.pk, attempts=dispatch.attempts, error_reason=reason
    )
    if outcome == DS.FAILED:
        stats.failed += 1
    else:
        stats.retried += 1
    log.info("dispatch.transient_error reason={} attempts={} outcome={}", reason, dispatch.attempts, outcome)
    return RETRY


def send_one(*, ctx: _Context, session_name: str, stats: DriveStats, gate=None) -> str:
    """Claim and send one dispatch; dispatches skipped on the way do not end the call."""
    waha = waha_api.get_client()
    while True:
        dispatch = dispatch_claim_next(campaign_ids=ctx.open_ids, stats=stats)
        if dispatch is None:
            return NOTHING
        records: list[dict] = []
        outcome = _send_claimed(
            ctx=ctx,
            dispatch=dispatch,
            waha=waha,
            session_name=session_name,
            stats=stats,
            records=records,
            gate=gate,
        )
        _after_sends(records=records, session_name=session_name)
        if outcome != SKIPPED:
            return outcome


def _campaign_cap_room(ctx: _Context) -> int | None:
    """How many more messages the open campaigns with their own daily cap may send (None: no such cap)."""
    rooms = [
        (ctx.campaigns[pk].daily_cap or 0) - ctx.sent_today[pk] for pk in ctx.open_ids if pk in ctx.sent_today
    ]
    return max(1, min(rooms)) if rooms else None


def _resolve_chat_ids(*, batch: list[Dispatch], waha, session_name: str, stats: DriveStats):
    """Check-exists for the batch's clients without a chat id, outside any transaction, stored in bulk.

    Returns (dispatches still to send, {dispatch id: WahaError}). The first WAHA error stops the step: that
    dispatch gets the usual error handling in the send loop; later unresolved ones resolve one by one there.
    """
    found: dict[int, str] = {}
    absent: set[int] = set()
    errors: dict[int, WahaError] = {}
    for dispatch in batch:
        client = dispatch.client
        if client.chat_id or client.pk in found or client.pk in absent:
            continue
        try:
            chat_id = waha.check_exists(client.phone, session=session_name)
        except WahaError as exc:
            errors[dispatch.pk] = exc
            break
        if chat_id is None:
            absent.add(client.pk)
        else:
            found[client.pk] = chat_id
    clients_record_whatsapp_check(chat_ids={**found, **dict.fromkeys(absent)})
    if absent:
        now = clock.now()
        skipped = [d.pk for d in batch if d.client_id in absent]
        Dispatch.objects.filter(pk__in=skipped, status=DS.SENDING).update(
            status=DS.SKIPPED, reason=svc.REASON_NOT_ON_WHATSAPP, next_attempt_at=None, updated_at=now
        )
        stats.skipped += len(skipped)
    rest = []
    for dispatch in batch:
        if dispatch.client_id in absent:
            continue
        if dispatch.client_id in found:
            dispatch.client.chat_id = found[dispatch.client_id]
        rest.append(dispatch)
    return rest, errors


def send_batch(
    *, ctx: _Context, session_name: str, stats: DriveStats, limit: int, streak: int
) -> tuple[int, int, str, int]:
    """Unpaced campaigns: claim a batch, resolve its chat ids in bulk, send one by one (each committed `sent`
    right after its call), then record the conversation messages in bulk.

    Returns (dispatches claimed, sends attempted, last outcome, transient-error streak). A session-level
    error, a run of transient errors or a batch running long hands the not-yet-attempted rest back to pending
    untouched.
    """
    waha = waha_api.get_client()
    room = _campaign_cap_room(ctx)
    batch = dispatch_claim_batch(
        campaign_ids=ctx.open_ids, limit=min(limit, room) if room else limit, stats=stats
    )
    if not batch:
        return 0, 0, NOTHING, streak
    started = time.monotonic()
    # A live sender must never hold a row long enough for recovery to call it unknown.
    time_guard = svc.stale_after_seconds() / 2
    todo, check_errors = _resolve_chat_ids(batch=batch, waha=waha, session_name=session_name, stats=stats)
    records: list[dict] = []
    outcome = SKIPPED if not todo else NOTHING
    attempted = 0
    try:
        for index, dispatch in enumerate(todo):
            if index and (
                streak >= TRANSIENT_STREAK or time.monotonic() - started > time_guard or ctx.valid_until == 0
            ):
                svc.dispatch_release_many(dispatch_ids=[d.pk for d in todo[index:]])
                break
            if dispatch.pk in check_errors:
                outcome = _handle_error(
                    dispatch=dispatch,
                    exc=check_errors[dispatch.pk],
                    phase="check",
                    session_name=session_name,
                    body="",
                    stats=stats,
                )
            else:
                outcome = _send_claimed(
                    ctx=ctx,
                    dispatch=dispatch,
                    waha=waha,
                    session_name=session_name,
                    stats=stats,
                    records=records,
                )
            streak = streak + 1 if outcome == RETRY else 0
            attempted += outcome != SKIPPED
            if outcome == STOP:
                svc.dispatch_release_many(dispatch_ids=[d.pk for d in todo[index + 1 :]])
                break
    finally:
        _after_sends(records=records, session_name=session_name)
    return len(batch), attempted, outcome, streak


# long-function: one send's steps (resolve, gate, call, record) read best in order
def _send_claimed(
    *,
    ctx: _Context,
    dispatch: Dispatch,
    waha,
    session_name: str,
    stats: DriveStats,
    records: list[dict],
    gate=None,
) -> str:
    """Send one claimed dispatch (chat id resolved here when the batch's bulk step did not), adding what the
    conversation must record to `records`. `gate` (paced sends) runs right before the network call."""
    campaign = ctx.campaigns.get(dispatch.campaign_id) or Campaign.objects.select_related("template").get(
        pk=dispatch.campaign_id
    )
    client = dispatch.client
    chat_id = client.chat_id
    if not chat_id:
        try:
            chat_id = waha.check_exists(client.phone, session=session_name)
        except WahaError as exc:
            return _handle_error(
                dispatch=dispatch, exc=exc, phase="check", session_name=session_name, body="", stats=stats
            )
        clients_record_whatsapp_check(chat_ids={client.pk: chat_id})
        if chat_id is None:
            svc.dispatch_skip(dispatch_id=dispatch.pk, reason=svc.REASON_NOT_ON_WHATSAPP)
            stats.skipped += 1
            return SKIPPED
        client.chat_id = chat_id
    try:
        body = _render(campaign, dispatch)
    except Exception as exc:  # noqa: BLE001 - any template failure fails this one message, not the driver
        svc.dispatch_mark_failed(dispatch_id=dispatch.pk, reason=svc.REASON_TEMPLATE.format(exc)[:255])
        stats.failed += 1
        return FAILED
    try:
        if gate is not None:
            gate()
        waha_id = waha.send_text(chat_id, body, session=session_name)
    except WahaError as exc:
        return _handle_error(
            dispatch=dispatch, exc=exc, phase="send", session_name=session_name, body=body, stats=stats
        )
    sent_at = clock.now()
    if not svc.dispatch_mark_sent(dispatch_id=dispatch.pk, waha_message_id=waha_id, body=body):
        Dispatch.objects.filter(pk=dispatch.pk, status=DS.UNKNOWN, waha_message_id__isnull=True).update(
            waha_message_id=waha_id, body=body
        )
    stats.sent += 1
    if dispatch.campaign_id in ctx.sent_today:
        ctx.sent_today[dispatch.campaign_id] += 1
        if ctx.sent_today[dispatch.campaign_id] >= (campaign.daily_cap or 0):
            ctx.valid_until = 0  # over the campaign's cap: the next refresh defers the rest to tomorrow
    records.append(
        {
            "chat_id": chat_id,
            "client": client,
            "body": body,
            "waha_id": waha_id,
            "dispatch_id": dispatch.pk,
            "sent_at": sent_at,
        }
    )
    return SENT


def _after_sends(*, records: list[dict], session_name: str) -> None:
    """What follows a run of sends: the acks WAHA reported before the ids were stored are applied to the
    dispatches (billing's own catch-up, whatever happens to the conversations), then `messages_sent` lets
    the conversations record the messages (a receiver's failure is logged and never undoes a send)."""
    if not records:
        return
    from .loop import dispatch_drive  # the signal's sender; imported here, as loop imports this module

    svc.dispatches_catch_up_acks(waha_message_ids=[record["waha_id"] for record in records])
    messages_sent_announce(
        sender=dispatch_drive, messages=records, author="campaign", session_name=session_name
    )
