"""Per WAHA session pacing shared by every worker and process.

A sender reserves a *slot* before it claims a dispatch and sleeps until the slot. Slots are handed out in one
atomic step on shared state, so two workers (or two qcluster processes, or two machines) never get slots
closer than the pace allows:

    slot[i]          = max(now, next_send_at)
    next_send_at     = slot[i] + delay + uniform(-jitter', +jitter')

so consecutive slots are at least ``delay - jitter`` apart and average ``delay`` while there is a backlog.
``jitter'`` is the requested jitter shrunk by a small guard (≤ 50 ms): what is measured is when WAHA receives
the request, and the few milliseconds of rendering/HTTP noise between a slot and the request must not push two
sends below the promised minimum.

The same step counts the session's sends of the day (America/Sao_Paulo) against its daily cap.

Two backends with the same contract:
- ``db``: the `PacingState` row, locked with SELECT … FOR UPDATE (PostgreSQL) or by the IMMEDIATE transaction
  SQLite is configured with (one writer at a time).
- ``redis``: one hash per session updated by a Lua script (atomic on the server), using the Redis server clock
  so several machines agree on "now". Chosen when settings.REDIS_URL is set.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.models import PacingState

# Upper bound of the guard taken off the jitter, see the module docstring.
JITTER_GUARD_SECONDS = 0.05
_REDIS_KEY = "cobranca:pacing:{}"
_REDIS_TTL_SECONDS = 3 * 24 * 3600

_RESERVE_LUA = """
local key = KEYS[1]
local count = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local day = ARGV[3]
local horizon = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('HGET', key, 'next') or '0')
local sent = tonumber(redis.call('HGET', key, 'sent') or '0')
if redis.call('HGET', key, 'day') ~= day then sent = 0 end
if sent >= cap then return {now, -1} end
local first = math.max(now, nxt)
if horizon >= 0 and first - now > horizon then return {now, -2, first} end
local result = {now, 0}
for i = 1, count do
  if sent >= cap then break end
  local slot = math.max(now, nxt)
  table.insert(result, slot)
  nxt = slot + tonumber(ARGV[4 + i])
  sent = sent + 1
end
result[2] = #result - 2
redis.call('HSET', key, 'next', nxt, 'sent', sent, 'day', day, 'last', result[#result])
redis.call('EXPIRE', key, __TTL__)
return result
""".replace("__TTL__", str(_REDIS_TTL_SECONDS))

_REFUND_LUA = """
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent') or '0')
if redis.call('HGET', KEYS[1], 'day') == ARGV[2] and sent > 0 then
  redis.call('HSET', KEYS[1], 'sent', math.max(0, sent - tonumber(ARGV[1])))
end
return 1
"""


@dataclass(frozen=True)
class Reservation:
    """Outcome of a reservation.

    - ``slots``: the reserved send times (aware datetimes), earliest first; empty when nothing was reserved.
    - ``cap_reached``: the session's daily cap is used up (nothing reserved).
    - ``next_free_at``: when the next slot would be, if nothing was reserved because it lies beyond the
      horizon.
    - ``now``: the clock the backend used, to turn slots into sleep durations.
    """

    slots: list[dt.datetime] = field(default_factory=list)
    cap_reached: bool = False
    next_free_at: dt.datetime | None = None
    now: dt.datetime | None = None


def slot_gap(*, delay: float, jitter: float, rng: random.Random | None = None) -> float:
    """Seconds between one slot and the next: delay ± (jitter minus the guard), never negative."""
    if delay <= 0:
        return 0.0
    jitter = max(0.0, min(jitter, delay))
    guarded = max(0.0, jitter - min(JITTER_GUARD_SECONDS, jitter * 0.25))
    offset = (rng or random).uniform(-guarded, guarded) if guarded else 0.0
    return max(0.0, delay + offset)


def backend_name() -> str:
    return settings.DISPATCH_PACING_BACKEND


def _today() -> dt.date:
    return timezone.localdate()


def pacing_reserve(
    *,
    session_name: str,
    delay: float,
    jitter: float,
    daily_cap: int,
    count: int = 1,
    horizon: float | None = None,
    rng: random.Random | None = None,
) -> Reservation:
    """Reserve up to `count` consecutive send slots for `session_name`.

    Nothing is reserved when the daily cap is used up, or when the first free slot is more than `horizon`
    seconds away (the caller would rather give its worker back than sleep that long).
    """
    gaps = [slot_gap(delay=delay, jitter=jitter, rng=rng) for _ in range(max(1, count))]
    if backend_name() == "redis":
        return _reserve_redis(session_name, gaps, daily_cap, horizon)
    return _reserve_db(session_name, gaps, daily_cap, horizon)


def pacing_refund(*, session_name: str, count: int = 1) -> None:
    """Give back `count` reserved slots to the daily counter (a slot that sent nothing must not eat the cap).

    The time is not given back: a later next slot only ever makes the pace slower, never faster.
    """
    if count <= 0:
        return
    if backend_name() == "redis":
        _redis_refund(keys=[_REDIS_KEY.format(session_name)], args=[count, _today().isoformat()])
        return
    with transaction.atomic():
        state = PacingState.objects.select_for_update().filter(session_name=session_name).first()
        if state and state.day == _today() and state.sent_today:
            state.sent_today = max(0, state.sent_today - count)
            state.save(update_fields=["sent_today"])


def pacing_sent_today(*, session_name: str) -> int:
    if backend_name() == "redis":
        data = _redis().hgetall(_REDIS_KEY.format(session_name))
        if data.get(b"day", b"").decode() != _today().isoformat():
            return 0
        return int(float(data.get(b"sent", 0)))
    state = PacingState.objects.filter(session_name=session_name).first()
    return state.sent_today if state and state.day == _today() else 0


def pacing_reset(*, session_name: str) -> None:
    """Forget a session's pace and counter (tests, benchmarks, an operator starting over)."""
    if backend_name() == "redis":
        _redis().delete(_REDIS_KEY.format(session_name))
    PacingState.objects.filter(session_name=session_name).delete()


# --- database backend ---------------------------------------------------------------------------------------


def _reserve_db(session_name: str, gaps: list[float], daily_cap: int, horizon: float | None) -> Reservation:
    # The row must exist before it can be locked; get_or_create copes with two workers creating it at once.
    PacingState.objects.get_or_create(session_name=session_name)
    with transaction.atomic():
        state = PacingState.objects.select_for_update().get(session_name=session_name)
        now = timezone.now()
        today = timezone.localdate(now)
        if state.day != today:
            state.day, state.sent_today = today, 0
        if state.sent_today >= daily_cap:
            return Reservation(cap_reached=True, now=now)
        first = max(now, state.next_send_at or now)
        if horizon is not None and (first - now).total_seconds() > horizon:
            return Reservation(next_free_at=first, now=now)
        slots = []
        next_at = state.next_send_at or now
        for gap in gaps:
            if state.sent_today >= daily_cap:
                break
            slot = max(now, next_at)
            slots.append(slot)
            next_at = slot + dt.timedelta(seconds=gap)
            state.sent_today += 1
        state.next_send_at = next_at
        state.last_sent_at = slots[-1]
        state.save(update_fields=["next_send_at", "day", "sent_today", "last_sent_at"])
    return Reservation(slots=slots, now=now)


# --- Redis backend ------------------------------------------------------------------------------------------


@functools.cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def _redis_reserve_script():
    return _redis().register_script(_RESERVE_LUA)


def _redis_refund(*, keys: list[str], args: list) -> None:
    _redis().register_script(_REFUND_LUA)(keys=keys, args=args)


def _from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def _reserve_redis(
    session_name: str, gaps: list[float], daily_cap: int, horizon: float | None
) -> Reservation:
    args = [len(gaps), daily_cap, _today().isoformat(), -1 if horizon is None else int(horizon * 1000)]
    args += [round(gap * 1000) for gap in gaps]
    result = [int(v) for v in _redis_reserve_script()(keys=[_REDIS_KEY.format(session_name)], args=args)]
    now = _from_ms(result[0])
    if result[1] == -1:
        return Reservation(cap_reached=True, now=now)
    if result[1] == -2:
        return Reservation(next_free_at=_from_ms(result[2]), now=now)
    return Reservation(slots=[_from_ms(ms) for ms in result[2:]], now=now)
