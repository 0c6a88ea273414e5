"""The campaign driver: claims pending dispatches (one at a time when paced, in batches when not), paced per
WAHA session, and sends them.

One driver task serves one WAHA session ("lane" 0; unpaced campaigns get more lanes). It loops while it has a
budget (well below django-q2's timeout, so the broker never hands the task out again while it runs):

    refresh the session's running campaigns (start due ones; defer those outside their window or over a cap)
    reserve a pace slot (shared per session: database row or Redis)  →  sleep until the slot
    claim one dispatch (conditional UPDATE pending → sending; skip rules and the per-debtor cap decided
        in the same transaction)
    →  resolve the chat id once per client  →  render  →  sendText  →  commit `sent` at once

Unpaced campaigns (delay 0) go in batches instead (`send_batch`): reserve up to UNPACED_BATCH slots, claim
that many dispatches in one transaction (SELECT … FOR UPDATE SKIP LOCKED … LIMIT n, skip rules and per-debtor
cap for the batch, one conditional UPDATE → sending, committed), resolve the missing chat ids with
check-exists outside any transaction (stored with one UPDATE), then send one by one, each committed `sent`
right after its call, and record the batch's conversation messages in a few statements.

A worker killed mid-send therefore leaves at most one row (paced) or one batch (unpaced) in `sending`, which
recovery later marks `unknown` (never resent automatically). Several drivers (tasks re-delivered, two
qcluster processes, the tick) may run at once: a lease in the cache keeps it to one per lane, and even
without it the conditional claim and the shared pace keep every message single and paced.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from loguru import logger

from billing.dispatch import services as svc
from billing.dispatch.pacing import JITTER_GUARD_SECONDS, pacing_refund, pacing_reserve
from billing.dispatch.window import window_for_campaign
from billing.models import Campaign, Client, Dispatch
from billing.regua.sending import regua_render
from billing.services import clients_record_whatsapp_check
from billing.signals import messages_sent_announce
from billing.suppression import annotate_suppressed
from billing.templating import template_render
from cobranca import clock
from whatsapp import client as waha_api
from whatsapp.client import WahaError
from whatsapp.models import WahaSession

DS = Dispatch.Status
CS = Campaign.Status

LEASE_TTL_SECONDS = 10
LEASE_RENEW_SECONDS = 2.0
# How often the driver re-reads its campaigns (pause/cancel also take effect at once through the claim's
# WHERE).
CONTEXT_REFRESH_SECONDS = 1.0
# Unpaced sends reserve slots in small batches: one round trip to the pace state per batch, not per message.
UNPACED_BATCH = 20
# After this many transient errors in a row the driver backs off as a whole instead of burning every
# dispatch's retries against a WAHA that is down.
TRANSIENT_STREAK = 3
# A driver that runs out of budget while work is due within this many seconds re-enqueues itself; longer waits
# (window closed, retries far ahead) are left to the `dispatch-tick` schedule.
NAP_MAX_SECONDS = 60.0


def driver_budget() -> float:
    """Seconds one driver task may run: well under the django-q2 timeout (and so under `retry`)."""
    return float(settings.DISPATCH_DRIVER_BUDGET_SECONDS)


@dataclass
class DriveStats:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    deferred: int = 0
    stop: str = ""
    more: bool = False
    errors: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class _Lease:
    """At most one driver per (session, lane), kept in the shared cache with a short, renewed TTL.

    A killed driver's lease expires within LEASE_TTL_SECONDS, so the next tick (or a restart) takes over
    quickly.
    """

    def __init__(self, session_name: str, lane: int) -> None:
        self.key = lease_key(session_name, lane)
        self.token = uuid.uuid4().hex
        self.renewed = 0.0

    def acquire(self) -> bool:
        ok = cache.add(self.key, self.token, LEASE_TTL_SECONDS)
        self.renewed = time.monotonic()
        return bool(ok)

    def renew(self, *, extra: float = 0.0) -> None:
        if extra or time.monotonic() - self.renewed >= LEASE_RENEW_SECONDS:
            cache.set(self.key, self.token, int(LEASE_TTL_SECONDS + extra) + 1)
            self.renewed = time.monotonic()

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


def lease_key(session_name: str, lane: int) -> str:
    return f"dispatch-driver:{session_name}:{lane}"


def _sleep(seconds: float, lease: _Lease) -> None:
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        lease.renew()
        time.sleep(min(left, LEASE_RENEW_SECONDS))


# --- context: the session's campaigns right now -------------------------------------------------------------


@dataclass
class _Context:
    campaigns: dict[int, Campaign]
    open_ids: list[int]
    delay: float
    jitter: float
    session_cap: int
    sent_today: dict[int, int]
    valid_until: float

    def expired(self) -> bool:
        return time.monotonic() >= self.valid_until


def _session_cap(session_name: str) -> int:
    cap = WahaSession.objects.filter(name=session_name).values_list("daily_cap", flat=True).first()
    return int(cap or settings.DISPATCH_DAILY_CAP)


def _load_context(session_name: str) -> _Context:
    now = clock.now()
    svc.campaigns_promote_scheduled(session_name=session_name)
    campaigns = {
        c.pk: c
        for c in Campaign.objects.filter(session_name=session_name, status=CS.RUNNING).select_related(
            "template"
        )
    }
    open_ids: list[int] = []
    sent_today: dict[int, int] = {}
    refresh_at = time.monotonic() + CONTEXT_REFRESH_SECONDS
    for campaign in campaigns.values():
        window = window_for_campaign(campaign)
        if not window.is_open(now):
            svc.defer_pending(campaign_ids=[campaign.pk], until=window.next_opening(now))
            continue
        if campaign.daily_cap:
            sent_today[campaign.pk] = Dispatch.objects.filter(
                campaign_id=campaign.pk, status__in=svc.CONTACTED, claimed_at__gte=svc.local_day_start(now)
            ).count()
            if sent_today[campaign.pk] >= campaign.daily_cap:
                tomorrow = svc.next_day_start(now)
                svc.defer_pending(campaign_ids=[campaign.pk], until=window.next_opening(tomorrow))
                continue
        open_ids.append(campaign.pk)
    # Several campaigns on one session share its pace: the most cautious one sets it.
    pace_from = max((campaigns[pk] for pk in open_ids), key=lambda c: c.delay_seconds, default=None)
    return _Context(
        campaigns=campaigns,
        open_ids=open_ids,
        delay=float(pace_from.delay_seconds) if pace_from else 0.0,
        jitter=float(pace_from.jitter_seconds) if pace_from else 0.0,
        session_cap=_session_cap(session_name),
        sent_today=sent_today,
        valid_until=refresh_at,
    )


# --- claim --------------------------------------------------------------------------------------------------


def _debtor_cap_reached(dispatch: Dispatch, now, *, client_locked: bool) -> bool:
    """At most DISPATCH_PER_DEBTOR_DAILY_CAP campaign messages per debtor per day, across all campaigns.

    Decided inside the claim transaction with the client row locked (by the claim's SELECT … FOR UPDATE OF on
    PostgreSQL; SQLite's IMMEDIATE transaction locks everything), so two lanes claiming two charges of the
    same debtor decide one after the other and the second sees the first one's `sending`.
    """
    cap = settings.DISPATCH_PER_DEBTOR_DAILY_CAP
    if not client_locked and connection.features.has_select_for_update:
        list(Client.objects.select_for_update().filter(pk=dispatch.client_id).values_list("pk", flat=True))
    contacted = (
        Dispatch.objects.filter(
            client_id=dispatch.client_id, status__in=svc.CONTACTED, claimed_at__gte=svc.local_day_start(now)
        )
        .exclude(pk=dispatch.pk)
        .count()
    )
    return contacted >= cap


def dispatch_claim_next(*, campaign_ids: list[int], stats: DriveStats | None = None) -> Dispatch | None:
    """Claim the next sendable dispatch of these campaigns (pending → sending), or None when there is none.

    Dispatches that must be skipped (opt-out, paid charge…) are skipped with their reason on the way, and ones
    over the per-debtor cap wait for the next day; neither uses up the caller's pace slot.
    """
    stats = stats if stats is not None else DriveStats()
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(200):
        now = clock.now()
        with transaction.atomic():
            qs = (
                Dispatch.objects.filter(
                    campaign_id__in=campaign_ids, campaign__status=CS.RUNNING, status=DS.PENDING
                )
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .select_related("client", "charge")
                .order_by("pk")
            )
            qs = annotate_suppressed(qs, prefix="client__", name="client_listed")
            if skip_locked:
                # Two lanes on PostgreSQL take different rows instead of queueing on the same one.
                # Locking the client row too serialises the per-debtor cap decision without another query.
                qs = qs.select_for_update(skip_locked=True, of=("self", "client"))
            dispatch = qs.first()
            if dispatch is None:
                return None
            reason = svc.dispatch_skip_reason(dispatch)
            if reason:
                svc.dispatch_skip(dispatch_id=dispatch.pk, reason=reason, from_status=DS.PENDING)
                stats.skipped += 1
                continue
            if _debtor_cap_reached(dispatch, now, client_locked=skip_locked):
                Dispatch.objects.filter(pk=dispatch.pk, status=DS.PENDING).update(
                    next_attempt_at=svc.next_day_start(now), reason=svc.REASON_DEBTOR_CAP, updated_at=now
                )
                stats.deferred += 1
                continue
            claimed = Dispatch.objects.filter(pk=dispatch.pk, status=DS.PENDING).update(
                status=DS.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
            )
            if not claimed:
                continue
        dispatch.status, dispatch.claimed_at, dispatch.attempts = DS.SENDING, now, dispatch.attempts + 1
        return dispatch
    return None


def _due_pending(campaign_ids: list[int], now):
    qs = (
        Dispatch.objects.filter(campaign_id__in=campaign_ids, campaign__status=CS.RUNNING, status=DS.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("client", "charge")
        .order_by("pk")
    )
    # The suppression list is checked in the claim's own query: one EXISTS per row, no extra round trip.
    return annotate_suppressed(qs, prefix="client__", name="client_listed")


# long-function: one short transaction's steps read best in order
def dispatch_claim_batch(
    *, campaign_ids: list[int], limit: int, stats: DriveStats | None = None
) -> list[Dispatch]:
    """Claim up to `limit` sendable dispatches at once (unpaced campaigns): pending → sending, committed.

    One short transaction: SELECT … FOR UPDATE OF dispatch, client SKIP LOCKED … LIMIT n (PostgreSQL; SQLite's
    IMMEDIATE transaction serialises instead), the skip rules and the per-debtor cap decided for the whole
    batch (one COUNT … GROUP BY client, plus the batch's own claims), then one conditional UPDATE. The caller
    sends them one by one and commits each as `sent` right after its call, so a crash leaves at most this
    batch in `sending` (recovered as `unknown`, never resent).
    """
    stats = stats if stats is not None else DriveStats()
    skip_locked = connection.features.has_select_for_update_skip_locked
    cap = settings.DISPATCH_PER_DEBTOR_DAILY_CAP
    for _ in range(200):
        now = clock.now()
        with transaction.atomic():
            qs = _due_pending(campaign_ids, now)
            if skip_locked:
                qs = qs.select_for_update(skip_locked=True, of=("self", "client"))
            rows = list(qs[: max(1, limit)])
            if not rows:
                return []
            skips: dict[str, list[int]] = {}
            candidates = []
            for dispatch in rows:
                reason = svc.dispatch_skip_reason(dispatch)
                if reason:
                    skips.setdefault(reason, []).append(dispatch.pk)
                else:
                    candidates.append(dispatch)
            claim: list[Dispatch] = []
            deferred: list[int] = []
            if candidates:
                client_ids = {d.client_id for d in candidates}
                if not skip_locked and connection.features.has_select_for_update:
                    list(
                        Client.objects.select_for_update()
                        .filter(pk__in=client_ids)
                        .values_list("pk", flat=True)
                    )
                contacted = dict(
                    Dispatch.objects.filter(
                        client_id__in=client_ids,
                        status__in=svc.CONTACTED,
                        claimed_at__gte=svc.local_day_start(now),
                    )
                    .values_list("client_id")
                    .annotate(n=Count("pk"))
                )
                for dispatch in candidates:
                    n = contacted.get(dispatch.client_id, 0)
                    if n >= cap:
                        deferred.append(dispatch.pk)
                        continue
                    contacted[dispatch.client_id] = n + 1
                    claim.append(dispatch)
            for reason, ids in skips.items():
                Dispatch.objects.filter(pk__in=ids, status=DS.PENDING).update(
                    status=DS.SKIPPED, reason=reason[:255], next_attempt_at=None, updated_at=now
                )
                stats.skipped += len(ids)
            if deferred:
                Dispatch.objects.filter(pk__in=deferred, status=DS.PENDING).update(
                    next_attempt_at=svc.next_day_start(now), reason=svc.REASON_DEBTOR_CAP, updated_at=now
                )
                stats.deferred += len(deferred)
            if claim:
                ids = [d.pk for d in claim]
                updated = Dispatch.objects.filter(pk__in=ids, status=DS.PENDING).update(
                    status=DS.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
                )
                if updated != len(claim):  # cannot happen with the rows locked; be exact anyway
                    got = set(
                        Dispatch.objects.filter(pk__in=ids, status=DS.SENDING, claimed_at=now).values_list(
                            "pk", flat=True
                        )
                    )
                    claim = [d for d in claim if d.pk in got]
        for dispatch in claim:
            dispatch.status, dispatch.claimed_at, dispatch.attempts = DS.SENDING, now, dispatch.attempts + 1
        if claim:
            return claim
    return []


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
    svc.dispatches_catch_up_acks(waha_message_ids=[record["waha_id"] for record in records])
    messages_sent_announce(
        sender=dispatch_drive, messages=records, author="campaign", session_name=session_name
    )


# --- the loop -----------------------------------------------------------------------------------------------


def _other_lanes_alive(session_name: str, lane: int, lanes: int) -> bool:
    keys = [lease_key(session_name, other) for other in range(max(lanes, 2)) if other != lane]
    return any(value is not None for value in cache.get_many(keys).values())


def _next_wake(session_name: str, lane: int):
    """When this session may have work again: a retry/deferral coming due, a scheduled start, or a dead
    worker's `sending` row becoming old enough to recover. None when nothing is waiting."""
    now = clock.now()
    candidates = []
    due = Dispatch.objects.filter(
        campaign__session_name=session_name, campaign__status=CS.RUNNING, status=DS.PENDING
    ).aggregate(at=Min("next_attempt_at"))["at"]
    if (
        due is None
        and Dispatch.objects.filter(
            campaign__session_name=session_name, campaign__status=CS.RUNNING, status=DS.PENDING
        ).exists()
    ):
        due = now
    if due is not None:
        candidates.append(due)
    start = Campaign.objects.filter(session_name=session_name, status=CS.SCHEDULED).aggregate(
        at=Min("starts_at")
    )
    if start["at"] is not None:
        candidates.append(start["at"])
    oldest_sending = Dispatch.objects.filter(
        campaign__session_name=session_name, campaign__status=CS.RUNNING, status=DS.SENDING
    ).aggregate(at=Min("claimed_at"))["at"]
    if oldest_sending is not None and not _other_lanes_alive(session_name, lane, svc.driver_lanes(0)):
        # No live driver owns it: it will become `unknown` once stale, and then the campaign can complete.
        candidates.append(oldest_sending + dt.timedelta(seconds=svc.stale_after_seconds() + 0.5))
    return min(candidates) if candidates else None


def dispatch_drive(*, session_name: str, lane: int = 0, budget: float | None = None) -> DriveStats:
    """Run the driver for one session lane for up to `budget` seconds (see the module docstring).

    Returns counters and `more=True` when work is due soon and the caller should enqueue the driver again.
    Safe to run concurrently and twice: a second driver for the same lane returns at once (`stop="busy"`).
    """
    budget = driver_budget() if budget is None else budget
    lease = _Lease(session_name, lane)
    stats = DriveStats()
    if not lease.acquire():
        stats.stop = "busy"
        return stats
    try:
        _drive(session_name=session_name, lane=lane, budget=budget, lease=lease, stats=stats)
    finally:
        lease.release()
    if stats.sent or stats.failed or stats.unknown:
        logger.bind(session=session_name, lane=lane).info("dispatch.drive {}", stats.as_dict())
    return stats


# long-function: the lane's loop and its pacing closure share state; split, the pacing is hard to follow
def _drive(*, session_name: str, lane: int, budget: float, lease: _Lease, stats: DriveStats) -> None:
    deadline = time.monotonic() + budget
    svc.dispatch_recover_stale(session_name=session_name)
    ctx: _Context | None = None
    streak = 0
    naps = 0
    last_send = {"at": None}

    def gate() -> None:
        """Keep the *actual* gap between this lane's sends at or above delay - jitter (+ guard).

        Slots are spaced correctly, but a driver that wakes late for one slot (a loaded machine) would squeeze
        the next gap; measuring from the real previous request closes that hole.
        """
        if ctx is None or ctx.delay <= 0:
            return
        jitter = min(ctx.jitter, ctx.delay)
        min_gap = ctx.delay - jitter + min(JITTER_GUARD_SECONDS, jitter * 0.25)
        if last_send["at"] is not None:
            wait = last_send["at"] + min_gap - time.monotonic()
            if wait > 0:
                _sleep(wait, lease)
        last_send["at"] = time.monotonic()

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stats.stop = "budget"
            stats.more = True
            return
        lease.renew()
        if ctx is None or ctx.expired():
            ctx = _load_context(session_name)
        if streak == 0:
            naps = 0
        if streak >= TRANSIENT_STREAK:
            # Each nap in a row doubles (backoff_seconds), until a send succeeds and resets the streak.
            naps += 1
            nap = min(svc.backoff_seconds(naps), remaining)
            _sleep(nap, lease)
            ctx = None
            streak = TRANSIENT_STREAK - 1  # one probe send after the nap; another error naps longer
            continue
        claimed_any = False
        if ctx.open_ids:
            unpaced = ctx.delay <= 0
            reservation = pacing_reserve(
                session_name=session_name,
                delay=ctx.delay,
                jitter=ctx.jitter,
                daily_cap=ctx.session_cap,
                count=UNPACED_BATCH if unpaced else 1,
                horizon=max(0.0, remaining - 1.0),
            )
            reserved_at = time.monotonic()
            if reservation.cap_reached:
                tomorrow = svc.next_day_start()
                stats.deferred += svc.defer_pending(campaign_ids=ctx.open_ids, until=tomorrow)
                stats.stop = "session_daily_cap"
                return
            if not reservation.slots:
                stats.stop = "pace"
                stats.more = True
                return
            used = 0
            outcome = NOTHING
            if unpaced:
                claimed, used, outcome, streak = send_batch(
                    ctx=ctx,
                    session_name=session_name,
                    stats=stats,
                    limit=len(reservation.slots),
                    streak=streak,
                )
                claimed_any = claimed > 0
                lease.renew()
            for slot in reservation.slots if not unpaced else ():
                wait = (slot - reservation.now).total_seconds() - (time.monotonic() - reserved_at)
                if wait > 0:
                    _sleep(wait, lease)
                outcome = send_one(ctx=ctx, session_name=session_name, stats=stats, gate=gate)
                if outcome == NOTHING:
                    break
                used += 1
                claimed_any = True
                streak = streak + 1 if outcome == RETRY else 0
                if outcome == STOP or streak >= TRANSIENT_STREAK or ctx.expired():
                    break
                lease.renew()
            pacing_refund(session_name=session_name, count=max(0, len(reservation.slots) - used))
            if outcome == STOP:
                stats.stop = "session_paused"
                return
        if claimed_any:
            continue
        # Nothing claimable now: finish what is finished, then wait for the next thing that comes due.
        svc.dispatch_recover_stale(session_name=session_name)
        svc.campaigns_complete_finished(session_name=session_name)
        wake = _next_wake(session_name, lane)
        if wake is None:
            stats.stop = "idle"
            return
        wait = (wake - clock.now()).total_seconds()
        remaining = deadline - time.monotonic()
        if wait > remaining:
            stats.stop = "waiting"
            stats.more = wait <= NAP_MAX_SECONDS
            return
        _sleep(max(wait, 0.05), lease)
        ctx = None
