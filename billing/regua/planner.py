"""The régua planner: which reminders go out on a day, and which are stopped and why.

`plan_compute(day=…)` is read-only (the preview command, the dashboard calendar, the per-charge view use it);
`billing.regua.run.regua_plan_run(now=…)` is what the daily schedule runs: it writes today's plan down (one
`ReguaEntry` per (charge, step, reference date)) and groups each debtor's planned entries into ONE pending
`Dispatch` of the régua's campaign of the day, which the existing driver sends at the régua's pace, inside
its window, under the caps, exactly once.

Set-based: one query for the charges whose due date puts a step on the day, one each for the pending promises,
active agreements, human conversations and the entries that already exist; inserts in bulk. No per-charge
query (bench/bench_regua.py measures 100,000 charges).

Open days: a step whose day falls on a closed day (no window that weekday, a national holiday, Carnival when
the régua says so) moves to the next open day. So the plan of an open day X takes the steps whose nominal day
is X or one of the closed days right before it. A "before due" step whose (shifted) day is on or after the
reference date is dropped, not sent late.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import Agreement, Charge, Client, Dispatch, Installment, PromiseToPay
from billing.regua import reasons
from billing.regua.calendar import (  # noqa: F401 - the calendar's names stay importable from the planner
    ReguaInfo,
    StepInfo,
    is_carnival,
    regua_info,
)
from billing.regua.models import Regua, ReguaEntry, StepKind
from billing.suppression import listed_q
from conversations.models import Conversation

DS = Dispatch.Status
ES = ReguaEntry.Status
# How far back a broken promise still gets its "promessa vencida" steps (P+k).
BROKEN_LOOKBACK_DAYS = 60
# A promise blocks the charge's other reminders until (and including) the day after the promised date.
PROMISE_BLOCK_DAYS_AFTER = 1
CONTACT_STATUSES = (DS.SENDING, DS.SENT, DS.DELIVERED, DS.READ, DS.UNKNOWN)


# --- the plan -----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Candidate:
    """One (charge, step, reference date) that falls on the plan's day, with the planner's verdict."""

    regua_id: int
    step: StepInfo
    charge_id: int
    charge_external_id: str
    client_id: int
    ref_date: dt.date
    installment: int | None = None
    entry_id: int | None = None  # an existing deferred entry looked at again
    status: str = ES.PLANNED
    reason: str = ""
    retry_on: dt.date | None = None
    at: dt.datetime | None = None

    @property
    def key(self) -> tuple:
        return (self.charge_id, self.step.id, self.ref_date)

    def skip(self, reason: str) -> None:
        self.status, self.reason, self.retry_on = ES.SKIPPED, reason, None

    def defer(self, reason: str, until: dt.date) -> None:
        self.status, self.reason, self.retry_on = ES.DEFERRED, reason, until


@dataclass
class Plan:
    day: dt.date
    now: dt.datetime
    reguas: dict[int, ReguaInfo]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def planned(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == ES.PLANNED]

    @property
    def stopped(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status != ES.PLANNED]


def _suppressed_client_ids(client_ids: set[int]) -> set[int]:
    """Clients whose number is on the suppression list (besides their own opt-out flag): one EXISTS per
    client in SQL (billing.suppression), the whole table scanned once when the set is too big for IN."""
    qs = Client.objects.order_by().filter(listed_q()).values_list("pk", flat=True)
    if len(client_ids) <= _IN_LIMIT:
        qs = qs.filter(pk__in=list(client_ids))
    return {pk for pk in qs.iterator(chunk_size=5000) if pk in client_ids}


def _charge_rows(
    plan: Plan, targets: dict[dt.date, list[StepInfo]], default_id: int | None, charge_ids: list[int] | None
):
    """Charges whose due date puts one of the réguas' due steps on the day, with the régua each follows."""
    if not targets:
        return []
    effective = Coalesce("regua_id", "import_batch__regua_id")
    follows = Q(eff__in=list(plan.reguas))
    if default_id is not None:
        follows |= Q(eff__isnull=True)
    qs = (
        Charge.objects.filter(due_date__in=list(targets))
        .annotate(eff=effective)
        .filter(follows)
        .values_list("pk", "external_id", "client_id", "due_date", "status", "eff")
        .order_by()
    )
    if charge_ids is not None:
        qs = qs.filter(pk__in=list(charge_ids))
    return _raw_rows(qs, date_column=3)


def _raw_rows(qs, *, date_column: int):
    """The queryset's rows straight from the cursor: Django's per-row converters cost more than the query on
    100,000 rows. The one date column comes back as text on SQLite: parsed once per distinct value."""
    sql, params = qs.query.sql_with_params()
    dates: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            chunk = cursor.fetchmany(5000)
            if not chunk:
                return
            for row in chunk:
                value = row[date_column]
                if not isinstance(value, dt.date):
                    if value not in dates:
                        dates[value] = dt.date.fromisoformat(str(value)[:10])
                    row = (*row[:date_column], dates[value], *row[date_column + 1 :])
                yield row


# long-function: the day's plan built in ordered stages over shared candidate sets
def plan_compute(
    *,
    day: dt.date,
    now: dt.datetime | None = None,
    reguas: list[Regua] | None = None,
    charge_ids: list[int] | None = None,
    include_deferred: bool = True,
) -> Plan:
    """Every reminder of the day for these réguas (default: the active ones), decided but not written.

    `charge_ids` narrows it to some charges (the per-charge view); `include_deferred` also looks again at
    the entries deferred to this day (a human conversation yesterday).
    """
    now = now or timezone.now()
    if reguas is None:
        reguas = list(Regua.objects.filter(status=Regua.Status.ACTIVE).order_by("pk"))
    infos = {r.pk: regua_info(r) for r in reguas}
    plan = Plan(day=day, now=now, reguas=infos)
    if not infos:
        return plan
    default_id = next((r.id for r in infos.values() if r.is_default), None)
    at = {rid: info.opening(day, now) for rid, info in infos.items()}

    # Due steps: charge due date = nominal day − offset, for every nominal day that lands on `day`.
    due_targets: dict[dt.date, list[StepInfo]] = defaultdict(list)
    promise_targets: dict[dt.date, list[StepInfo]] = defaultdict(list)
    installment_targets: dict[dt.date, list[StepInfo]] = defaultdict(list)
    for info in infos.values():
        nominal = info.nominal_days(day)
        for step in info.steps:
            for nday in nominal:
                ref = nday - dt.timedelta(days=step.offset)
                {
                    StepKind.DUE: due_targets,
                    StepKind.PROMISE: promise_targets,
                    StepKind.INSTALLMENT: installment_targets,
                }[StepKind(step.kind)][ref].append(step)

    candidates: list[Candidate] = []
    charge_status: dict[int, str] = {}
    charge_regua: dict[int, int] = {}

    rows = _charge_rows(plan, due_targets, default_id, charge_ids)
    for pk, external_id, client_id, due_date, status, eff in rows:
        regua_id = eff if eff is not None else default_id
        charge_status[pk] = status
        charge_regua[pk] = regua_id
        for step in due_targets.get(due_date, ()):
            if step.regua_id == regua_id:
                candidates.append(
                    Candidate(
                        regua_id, step, pk, external_id or str(pk), client_id, due_date, at=at[regua_id]
                    )
                )

    # Pending promises (few): the block for the charge's other steps, and the "promessa vencida" step. A
    # promise the lifecycle marked broken the day after its date keeps its follow-up steps (recent ones).
    promised: dict[int, dt.date] = {}
    promise_rows = PromiseToPay.objects.filter(
        Q(status=PromiseToPay.Status.PENDING)
        | Q(
            status=PromiseToPay.Status.BROKEN,
            promised_date__gte=day - dt.timedelta(days=BROKEN_LOOKBACK_DAYS),
        )
    ).annotate(eff=Coalesce("charge__regua_id", "charge__import_batch__regua_id"))
    if charge_ids is not None:
        promise_rows = promise_rows.filter(charge_id__in=charge_ids)
    for charge_id, promised_date, ext, client_id, status, eff in promise_rows.values_list(
        "charge_id", "promised_date", "charge__external_id", "charge__client_id", "charge__status", "eff"
    ).order_by("created_at", "pk"):
        promised[charge_id] = promised_date
        regua_id = eff if eff is not None else default_id
        if regua_id not in infos:
            continue
        charge_status[charge_id] = status
        for step in promise_targets.get(promised_date, ()):
            if step.regua_id == regua_id:
                candidates.append(
                    Candidate(
                        regua_id,
                        step,
                        charge_id,
                        ext or str(charge_id),
                        client_id,
                        promised_date,
                        at=at[regua_id],
                    )
                )

    # Active agreements (few): their installments get their own steps; the charge's due steps stop.
    in_agreement: set[int] = set()
    agreements = Agreement.objects.filter(status=Agreement.Status.ACTIVE).annotate(
        eff=Coalesce("charge__regua_id", "charge__import_batch__regua_id")
    )
    if charge_ids is not None:
        agreements = agreements.filter(charge_id__in=charge_ids)
    open_installments: dict[int, list[tuple[int, dt.date]]] = defaultdict(list)
    if installment_targets:
        for agreement_id, number, due in Installment.objects.filter(
            agreement__status=Agreement.Status.ACTIVE,
            status=Installment.Status.OPEN,
            due_date__in=list(installment_targets),
        ).values_list("agreement_id", "number", "due_date"):
            open_installments[agreement_id].append((number, due))
    for agreement_id, charge_id, ext, client_id, status, eff in agreements.values_list(
        "pk",
        "charge_id",
        "charge__external_id",
        "charge__client_id",
        "charge__status",
        "eff",
    ):
        in_agreement.add(charge_id)
        regua_id = eff if eff is not None else default_id
        if regua_id not in infos or not installment_targets:
            continue
        charge_status[charge_id] = status
        # Only installments still open: a paid one gets no reminder.
        for number, due in open_installments.get(agreement_id, ()):
            for step in installment_targets.get(due, ()):
                if step.regua_id == regua_id:
                    candidates.append(
                        Candidate(
                            regua_id,
                            step,
                            charge_id,
                            ext or str(charge_id),
                            client_id,
                            due,
                            number,
                            at=at[regua_id],
                        )
                    )

    if include_deferred:
        candidates.extend(_deferred_candidates(plan, at, charge_ids))

    plan.candidates = _decide(
        plan, candidates, promised=promised, in_agreement=in_agreement, charge_status=charge_status
    )
    return plan


def _deferred_candidates(plan: Plan, at: dict[int, dt.datetime], charge_ids) -> list[Candidate]:
    """Entries to look at again today: deferred ones whose retry day has come, and planned ones whose message
    was skipped at send time because of another charge of the same debtor (the bundle's lead was paid)."""
    steps = {s.id: s for info in plan.reguas.values() for s in info.steps}
    lead_stopped = Q(
        status=ES.PLANNED,
        day__lt=plan.day,
        dispatch__status=DS.SKIPPED,
        dispatch__reason__in=list(_charge_stop_reasons()),
    ) & ~Q(dispatch__charge_id=F("charge_id"))
    qs = ReguaEntry.objects.filter(
        Q(status=ES.DEFERRED, retry_on__lte=plan.day) | lead_stopped, regua_id__in=list(plan.reguas)
    )
    if charge_ids is not None:
        qs = qs.filter(charge_id__in=charge_ids)
    found = []
    for pk, regua_id, step_id, charge_id, ext, client_id, ref_date, installment in qs.values_list(
        "pk",
        "regua_id",
        "step_id",
        "charge_id",
        "charge__external_id",
        "client_id",
        "ref_date",
        "installment",
    ):
        step = steps.get(step_id)
        if step is None:  # the step was deactivated since
            continue
        found.append(
            Candidate(
                regua_id,
                step,
                charge_id,
                ext or str(charge_id),
                client_id,
                ref_date,
                installment,
                pk,
                at=at[regua_id],
            )
        )
    return found


def _charge_stop_reasons() -> set[str]:
    from billing.dispatch.services import REASON_CHARGE

    return set(REASON_CHARGE.values())


# long-function: the stop conditions applied in their documented order, one after another
def _decide(
    plan: Plan,
    candidates: list[Candidate],
    *,
    promised: dict[int, dt.date],
    in_agreement: set[int],
    charge_status: dict[int, str],
) -> list[Candidate]:
    """Apply the stop conditions to every candidate (one query per table, never per charge)."""
    if not candidates:
        return []
    # Several sources may produce the same reminder (a deferred entry and today's scan): keep one, the entry.
    unique: dict[tuple, Candidate] = {}
    for cand in candidates:
        if cand.key not in unique or cand.entry_id:
            unique[cand.key] = cand
    candidates = list(unique.values())

    client_ids = {c.client_id for c in candidates}
    charge_ids = {c.charge_id for c in candidates}
    clients = _client_flags(client_ids)
    _missing_statuses(charge_status, charge_ids)
    statuses = charge_status
    suppressed = _suppressed_client_ids(client_ids)
    human = _clients_with_human_conversation(client_ids)
    tomorrow = plan.day + dt.timedelta(days=1)

    for cand in candidates:
        flags = clients.get(cand.client_id)
        status = statuses.get(cand.charge_id, Charge.Status.OPEN)
        step = cand.step
        forgotten_at, opted_out_at, wrong_number, not_on_whatsapp = flags or (None, None, False, False)
        if forgotten_at:
            cand.skip(reasons.FORGOTTEN)
        elif opted_out_at:
            cand.skip(reasons.OPTED_OUT)
        elif cand.client_id in suppressed:
            cand.skip(reasons.SUPPRESSED)
        elif wrong_number:
            cand.skip(reasons.WRONG_NUMBER)
        elif not_on_whatsapp:
            cand.skip(reasons.NOT_ON_WHATSAPP)
        elif status in reasons.CHARGE_STATUS_REASON:
            cand.skip(reasons.CHARGE_STATUS_REASON[status])
        elif step.kind == StepKind.DUE and cand.charge_id in in_agreement:
            cand.skip(reasons.AGREEMENT)
        elif step.kind == StepKind.INSTALLMENT and cand.charge_id not in in_agreement:
            cand.skip(reasons.STATUS_NOT_IN_STEP)
        elif (
            step.kind != StepKind.PROMISE
            and cand.charge_id in promised
            and plan.day <= promised[cand.charge_id] + dt.timedelta(days=PROMISE_BLOCK_DAYS_AFTER)
        ):
            cand.skip(reasons.PROMISE)
        elif step.kind == StepKind.PROMISE and promised.get(cand.charge_id) != cand.ref_date:
            cand.skip(reasons.STATUS_NOT_IN_STEP)  # the promise was kept, cancelled or replaced
        elif step.kind == StepKind.DUE and step.statuses and status not in step.statuses:
            cand.skip(reasons.STATUS_NOT_IN_STEP)
        elif step.before_due and plan.day >= cand.ref_date:
            cand.skip(reasons.BEFORE_DUE_PASSED)
        elif cand.client_id in human:
            cand.defer(reasons.HUMAN_CONVERSATION, tomorrow)

    # One reminder per charge per day: the most relevant step wins, the others are superseded.
    best: dict[int, Candidate] = {}
    for cand in candidates:
        if cand.status != ES.PLANNED:
            continue
        current = best.get(cand.charge_id)
        if current is None or cand.step.priority() > current.step.priority():
            if current is not None:
                current.skip(reasons.SUPERSEDED)
            best[cand.charge_id] = cand
        else:
            cand.skip(reasons.SUPERSEDED)
    # A deferred reminder of a charge that has a newer one today is superseded too.
    for cand in candidates:
        if cand.status == ES.DEFERRED and cand.charge_id in best:
            cand.skip(reasons.SUPERSEDED)
    candidates.sort(
        key=lambda c: (c.client_id, -int(c.step.kind == StepKind.PROMISE), -c.step.offset, c.charge_id)
    )
    return candidates


# Above this many ids a full scan of the table is cheaper (and safe from SQLite's bound-variable limit) than
# one IN list.
_IN_LIMIT = 5000


def _client_flags(client_ids: set[int]) -> dict[int, tuple]:
    """pk → (forgotten_at, opted_out_at, wrong_number, not_on_whatsapp) of the flagged clients only (few):
    a client missing from the answer has no flag."""
    flagged = Client.objects.filter(
        Q(forgotten_at__isnull=False)
        | Q(opted_out_at__isnull=False)
        | Q(wrong_number=True)
        | Q(not_on_whatsapp=True)
    ).values_list("pk", "forgotten_at", "opted_out_at", "wrong_number", "not_on_whatsapp")
    if len(client_ids) <= _IN_LIMIT:
        flagged = flagged.filter(pk__in=list(client_ids))
    return {row[0]: row[1:] for row in flagged.order_by().iterator(chunk_size=5000) if row[0] in client_ids}


def _missing_statuses(charge_status: dict[int, str], charge_ids: set[int]) -> None:
    missing = charge_ids - charge_status.keys()
    if missing:
        for start in range(0, len(missing), _IN_LIMIT):
            chunk = list(missing)[start : start + _IN_LIMIT]
            charge_status.update(Charge.objects.filter(pk__in=chunk).values_list("pk", "status"))


def _clients_with_human_conversation(client_ids: set[int]) -> set[int]:
    """Debtors an operator is talking to right now: the régua waits a day instead of talking over them."""
    return (
        set(
            Conversation.objects.filter(state=Conversation.State.HUMAN, client_id__isnull=False).values_list(
                "client_id", flat=True
            )
        )
        & client_ids
    )
