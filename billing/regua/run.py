"""The daily run of the régua: today's plan (`billing.regua.planner.plan_compute`) written down and handed to
the dispatch engine — one `ReguaEntry` per reminder, one pending `Dispatch` per debtor in the régua's campaign
of the day. Called by the `regua-plan` schedule (`billing.tasks.regua_plan_task`) and `manage.py regua_run`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from loguru import logger

from billing.models import Campaign, Dispatch, PromiseToPay
from billing.regua import reasons
from billing.regua.bulk import insert_rows
from billing.regua.calendar import ReguaInfo
from billing.regua.models import Regua, ReguaEntry, StepKind
from billing.regua.planner import CONTACT_STATUSES, Candidate, plan_compute

DS = Dispatch.Status
ES = ReguaEntry.Status


def _campaign_for(regua: Regua, info: ReguaInfo, day: dt.date, now: dt.datetime) -> Campaign:
    """The régua's campaign of the day (one per régua and day: a unique constraint)."""
    existing = Campaign.objects.filter(regua=regua, regua_day=day).first()
    if existing is not None:
        return existing
    delay = regua.delay_seconds if regua.delay_seconds is not None else settings.DISPATCH_DELAY_SECONDS
    jitter = regua.jitter_seconds if regua.jitter_seconds is not None else settings.DISPATCH_JITTER_SECONDS
    jitter = min(float(jitter), float(delay))
    template_id = (
        info.steps[0].template_id if info.steps else regua.steps.values_list("template_id", flat=True)[0]
    )
    try:
        with transaction.atomic():
            return Campaign.objects.create(
                name=f"{regua.name} · {day:%d/%m/%Y}"[:200],
                template_id=template_id,
                session_name=regua.session_name,
                delay_seconds=delay,
                jitter_seconds=jitter,
                send_window=regua.send_window,
                status=Campaign.Status.RUNNING,
                started_at=now,
                compliance_confirmed=True,
                regua=regua,
                regua_day=day,
            )
    except IntegrityError:
        return Campaign.objects.get(regua=regua, regua_day=day)


# long-function: one idempotent run's steps (lock, plan, write, hand over) read best in order
def regua_plan_run(*, now: dt.datetime | None = None, regua_slugs: list[str] | None = None) -> dict:
    """Plan today's reminders of every active régua and hand them to the dispatch engine. Idempotent.

    Called by the daily schedule (`billing.tasks.regua_plan_task`) and `manage.py regua_run`. Two runs (or two
    workers) cannot plan a reminder twice: the active réguas are locked for the run (PostgreSQL; SQLite's
    IMMEDIATE transactions serialise anyway), existing entries are left alone, and the unique constraints on
    (charge, step, reference date) and (campaign, charge) stop whatever slips through.
    """
    from billing.dispatch.services import kick_drivers

    now = now or timezone.now()
    day = timezone.localtime(now).date()
    summary = {"day": day.isoformat(), "planned": 0, "skipped": 0, "deferred": 0, "messages": 0, "reguas": []}
    with transaction.atomic():
        qs = Regua.objects.filter(status=Regua.Status.ACTIVE)
        if regua_slugs:
            qs = qs.filter(slug__in=regua_slugs)
        reguas = list(qs.select_for_update().order_by("pk"))
        if not reguas:
            return summary
        plan = plan_compute(day=day, now=now, reguas=reguas)
        summary["reguas"] = [r.slug for r in reguas]
        by_id = {r.pk: r for r in reguas}

        existing = _existing_keys(plan.candidates)
        fresh = (
            [c for c in plan.candidates if c.entry_id or c.key not in existing]
            if existing
            else plan.candidates
        )
        planned = [c for c in fresh if c.status == ES.PLANNED]

        # Debtors already messaged by a régua today wait a day; a pending message (today's or a leftover from
        # an earlier day) takes the new reminders in, so the debtor still gets one message.
        pending = dict(
            Dispatch.objects.filter(
                campaign__regua__isnull=False,
                campaign__status__in=Campaign.ACTIVE_STATUSES,
                status=DS.PENDING,
            )
            .order_by("client_id", "pk")
            .values_list("client_id", "pk")
        )
        contacted = set(
            Dispatch.objects.filter(
                campaign__regua__isnull=False, campaign__regua_day=day, status__in=CONTACT_STATUSES
            ).values_list("client_id", flat=True)
        )
        tomorrow = day + dt.timedelta(days=1)
        leads: dict[int, Candidate] = {}
        for cand in planned:
            if cand.client_id in pending:
                continue
            if cand.client_id in contacted:
                cand.defer(reasons.ALREADY_MESSAGED, tomorrow)
                continue
            leads.setdefault(cand.client_id, cand)  # candidates are sorted: the first is the lead

        campaigns: dict[int, Campaign] = {}
        new_dispatches: list[tuple] = []
        for client_id, lead in leads.items():
            if lead.regua_id not in campaigns:
                campaigns[lead.regua_id] = _campaign_for(
                    by_id[lead.regua_id], plan.reguas[lead.regua_id], day, now
                )
            campaign = campaigns[lead.regua_id]
            if campaign.status == Campaign.Status.CANCELLED:
                continue  # an operator cancelled today's régua campaign: its reminders are skipped below
            new_dispatches.append((campaign.pk, lead.charge_id, client_id, DS.PENDING, lead.at))
        insert_rows(
            Dispatch, ("campaign_id", "charge_id", "client_id", "status", "next_attempt_at"), new_dispatches
        )
        if campaigns:
            pending.update(
                Dispatch.objects.filter(campaign_id__in=[c.pk for c in campaigns.values()], status=DS.PENDING)
                .values_list("client_id", "pk")
                .iterator(chunk_size=5000)
            )

        entries, updates = [], []
        for cand in fresh:
            dispatch_id = pending.get(cand.client_id) if cand.status == ES.PLANNED else None
            if cand.status == ES.PLANNED and dispatch_id is None:
                cancelled = campaigns.get(cand.regua_id)
                if cancelled is not None and cancelled.status == Campaign.Status.CANCELLED:
                    cand.skip(reasons.CAMPAIGN_CANCELLED)
                else:  # the debtor's message was taken by a sender meanwhile
                    cand.defer(reasons.ALREADY_MESSAGED, tomorrow)
            if cand.entry_id:
                updates.append(
                    ReguaEntry(
                        pk=cand.entry_id,
                        status=cand.status,
                        reason=cand.reason,
                        retry_on=cand.retry_on,
                        day=day,
                        dispatch_id=dispatch_id,
                    )
                )
            else:
                entries.append(
                    (
                        cand.regua_id,
                        cand.step.id,
                        cand.charge_id,
                        cand.client_id,
                        cand.ref_date,
                        cand.installment,
                        day,
                        cand.status,
                        cand.reason,
                        cand.retry_on,
                        dispatch_id,
                    )
                )
        # In the unique index order (reference date, step, charge): B-tree appends, not random inserts.
        entries.sort(key=lambda row: (row[4], row[1], row[2]))
        insert_rows(ReguaEntry, ENTRY_FIELDS, entries)
        if updates:
            ReguaEntry.objects.bulk_update(
                updates, ["status", "reason", "retry_on", "day", "dispatch_id"], batch_size=1000
            )
        # The régua now follows up on the promises it planned: the chatbot's own follow-up stands down.
        promise_charges = [
            c.charge_id for c in fresh if c.status == ES.PLANNED and c.step.kind == StepKind.PROMISE
        ]
        if promise_charges:
            PromiseToPay.objects.filter(
                charge_id__in=promise_charges,
                status__in=(PromiseToPay.Status.PENDING, PromiseToPay.Status.BROKEN),
                follow_up_sent_at__isnull=True,
            ).update(follow_up_sent_at=now)
        for campaign in campaigns.values():
            total = Dispatch.objects.filter(campaign_id=campaign.pk).count()
            Campaign.objects.filter(pk=campaign.pk).update(total=total)
            if campaign.status == Campaign.Status.COMPLETED and new_dispatches:
                Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.COMPLETED).update(
                    status=Campaign.Status.RUNNING, finished_at=None
                )
            kick_drivers(session_name=campaign.session_name, delay=float(campaign.delay_seconds))

    counts = Counter(cand.status for cand in fresh)
    summary.update(planned=counts[ES.PLANNED], skipped=counts[ES.SKIPPED], deferred=counts[ES.DEFERRED])
    summary["messages"] = len(new_dispatches)
    logger.info("regua.planned {}", summary)
    return summary


ENTRY_FIELDS = (
    "regua_id",
    "step_id",
    "charge_id",
    "client_id",
    "ref_date",
    "installment",
    "day",
    "status",
    "reason",
    "retry_on",
    "dispatch_id",
)


def _existing_keys(candidates: list[Candidate]) -> set[tuple]:
    """(charge, step, reference date) of the candidates that already have an entry (an earlier run)."""
    if not candidates:
        return set()
    ref_dates = {c.ref_date for c in candidates}
    step_ids = {c.step.id for c in candidates}
    rows = ReguaEntry.objects.filter(ref_date__in=list(ref_dates), step_id__in=list(step_ids)).values_list(
        "charge_id", "step_id", "ref_date"
    )
    found = set(rows.iterator(chunk_size=5000))
    return found & {c.key for c in candidates} if found else found
