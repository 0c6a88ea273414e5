"""The driver's state: its tunables, run statistics, the per-lane lease and the session's campaigns now."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.cache import cache

from billing.dispatch import services as svc
from billing.dispatch.window import window_for_campaign
from billing.models import Campaign, Dispatch
from cobranca import clock
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
