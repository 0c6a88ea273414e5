"""Claiming dispatches: one at a time (paced) or a batch in one transaction (unpaced), skip rules and caps."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q

from billing.dispatch import services as svc
from billing.models import Client, Dispatch
from billing.suppression import annotate_suppressed
from cobranca import clock

from .state import CS, DS, DriveStats

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
