"""The driver's loop: one lane of one WAHA session, paced, while its budget and lease last."""

from __future__ import annotations

import datetime as dt
import time

from django.core.cache import cache
from django.db.models import Min
from loguru import logger

from billing.dispatch import services as svc
from billing.dispatch.pacing import JITTER_GUARD_SECONDS, pacing_refund, pacing_reserve
from billing.models import Campaign, Dispatch
from cobranca import clock

from .sending import NOTHING, RETRY, STOP, send_batch, send_one
from .state import (
    CS,
    DS,
    NAP_MAX_SECONDS,
    TRANSIENT_STREAK,
    UNPACED_BATCH,
    DriveStats,
    _Context,
    _Lease,
    _load_context,
    _sleep,
    driver_budget,
    lease_key,
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
