"""Régua reads for the dashboard page, the admin and the API: the 7-day calendar, a charge's reminders (past
and next), and the results per step (sent, read, replied, paid within 7 days)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    When,
)
from django.utils import timezone

from billing.models import Charge, Dispatch
from billing.phones import PhoneError, normalize_phone
from billing.regua import reasons
from billing.regua.models import Regua, ReguaEntry, ReguaStep
from billing.regua.planner import plan_compute, regua_info
from conversations.models import Message

DS = Dispatch.Status
ES = ReguaEntry.Status
SENT_STATUSES = (DS.SENT, DS.DELIVERED, DS.READ)
RESULT_DAYS = 7
# How many debtors per day and step the calendar names (the counts are always complete).
CALENDAR_NAMES = 30


def regua_list() -> QuerySet[Regua]:
    return Regua.objects.annotate(
        n_steps=Count("steps", filter=Q(steps__is_active=True), distinct=True),
    ).order_by("-is_default", "name")


def reguas_for_forecast() -> list[Regua]:
    """Réguas a forecast shows: active ones, and those still off (what turning them on would do)."""
    return list(Regua.objects.exclude(status=Regua.Status.PAUSED).order_by("pk"))


def regua_calendar(
    *, start: dt.date | None = None, days: int = 7, reguas: list[Regua] | None = None
) -> list[dict]:
    """The next `days` days: per day, messages (one per debtor) and reminders per step, who and why; and the
    stopped reminders per reason. Read-only (the planner's own decisions, not a copy of its rules)."""
    start = start or timezone.localdate()
    reguas = reguas if reguas is not None else reguas_for_forecast()
    out = []
    now = timezone.now()
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        plan = plan_compute(day=day, now=now if offset == 0 else None, reguas=reguas)
        planned = plan.planned
        steps: dict[tuple, dict] = {}
        for cand in planned:
            key = (cand.regua_id, cand.step.id)
            item = steps.setdefault(
                key,
                {
                    "regua": plan.reguas[cand.regua_id].name,
                    "step": cand.step.code,
                    "offset": cand.step.offset,
                    "label": cand.step.label,
                    "template": cand.step.template_name,
                    "count": 0,
                    "who": [],
                },
            )
            item["count"] += 1
            if len(item["who"]) < CALENDAR_NAMES:
                item["who"].append({"charge": cand.charge_external_id, "client_id": cand.client_id})
        for item in steps.values():
            item["more"] = item["count"] - len(item["who"])
        stopped = Counter(c.reason for c in plan.stopped)
        out.append(
            {
                "day": day,
                "open": any(info.is_open_day(day) for info in plan.reguas.values()),
                "messages": len({c.client_id for c in planned}),
                "reminders": len(planned),
                "steps": sorted(steps.values(), key=lambda s: (s["regua"], s["offset"])),
                "stopped": [
                    {"reason": code, "label": reasons.reason_label(code), "count": n}
                    for code, n in stopped.most_common()
                ],
            }
        )
    _fill_names(out)
    return out


def _fill_names(calendar: list[dict]) -> None:
    from billing.models import Client

    ids = {w["client_id"] for day in calendar for s in day["steps"] for w in s["who"]}
    names = dict(Client.objects.filter(pk__in=list(ids)).values_list("pk", "name"))
    for day in calendar:
        for step in day["steps"]:
            for who in step["who"]:
                who["name"] = names.get(who["client_id"], "")


# How many charges the "Próximos lembretes" search lists when several match (the count is always complete).
CHARGE_SEARCH_LIMIT = 20


def charge_search(
    *, text: str, limit: int = CHARGE_SEARCH_LIMIT, full_contact: bool = True
) -> tuple[list[Charge], int]:
    """Charges matching what an operator typed: the charge's id (external id, case-insensitive, or the
    database id), the debtor's name (any part of it) or phone (any format, or at least 4 of its digits).
    Returns (up to `limit` charges, open ones first and then by due date; how many matched). Two queries."""
    text = (text or "").strip()
    if not text:
        return [], 0
    cond = Q(external_id__iexact=text) | Q(client__name__icontains=text)
    digits = re.sub(r"\D", "", text)
    if digits == text and len(digits) <= 9:
        cond |= Q(pk=int(digits))
    if len(digits) >= 4:
        if full_contact:  # masked numbers: the whole number only, or the hidden digits could be probed
            cond |= Q(client__phone__contains=digits)
        try:
            cond |= Q(client__phone=normalize_phone(text))
        except PhoneError:
            pass
    matches = Charge.objects.filter(cond)
    exact = [c for c in matches.filter(external_id__iexact=text).select_related("client")[:1]]
    if exact:
        # An id typed in full means that charge, even if its text also appears in some debtor's name.
        return exact, 1
    found = list(
        matches.select_related("client", "regua", "import_batch__regua").order_by(
            Case(When(status=Charge.Status.OPEN, then=0), default=1), "due_date", "pk"
        )[: limit + 1]
    )
    total = len(found) if len(found) <= limit else matches.count()
    return found[:limit], total


def charge_regua(charge: Charge) -> Regua | None:
    """The régua a charge follows: its own, its import's, or the default one."""
    if charge.regua_id:
        return charge.regua
    if charge.import_batch_id and charge.import_batch.regua_id:
        return charge.import_batch.regua
    return Regua.objects.filter(is_default=True).first()


def charge_reminders(*, charge: Charge, horizon_days: int = 45) -> dict:
    """A charge's reminders: what happened (every entry, with its reason and its message's status) and what
    comes next (the steps ahead, each with the planner's verdict on current data)."""
    today = timezone.localdate()
    regua = charge_regua(charge)
    history = [
        {
            "day": e.day,
            "step": e.step.code,
            "label": e.step.label,
            "status": e.status,
            "status_display": e.get_status_display(),
            "reason": e.reason,
            "reason_display": reasons.reason_label(e.reason) if e.reason else "",
            "retry_on": e.retry_on,
            "dispatch_id": e.dispatch_id,
            "dispatch_status": e.dispatch.get_status_display() if e.dispatch_id else "",
            "dispatch_reason": e.dispatch.reason if e.dispatch_id else "",
        }
        for e in ReguaEntry.objects.filter(charge=charge)
        .select_related("step", "dispatch")
        .order_by("-day", "-pk")
    ]
    upcoming = []
    if regua is not None and regua.status != Regua.Status.PAUSED:
        info = regua_info(regua)
        refs = _reference_dates(charge)
        days = set()
        for step in info.steps:
            for ref in refs.get(step.kind, ()):
                send_day = info.send_day(ref + dt.timedelta(days=step.offset))
                if today <= send_day <= today + dt.timedelta(days=horizon_days):
                    days.add(send_day)
        done = {(h["step"], h["day"]) for h in history}
        for day in sorted(days):
            plan = plan_compute(
                day=day, reguas=[regua], charge_ids=[charge.pk], include_deferred=day == today
            )
            for cand in plan.candidates:
                if (cand.step.code, day) in done:
                    continue
                upcoming.append(
                    {
                        "day": day,
                        "step": cand.step.code,
                        "label": cand.step.label,
                        "template": cand.step.template_name,
                        "planned": cand.status == ES.PLANNED,
                        "reason": cand.reason,
                        "reason_display": reasons.reason_label(cand.reason) if cand.reason else "",
                    }
                )
    return {"regua": regua, "history": history, "upcoming": upcoming}


def _reference_dates(charge: Charge) -> dict[str, list[dt.date]]:
    from billing.models import Agreement, Installment, PromiseToPay

    refs: dict[str, list[dt.date]] = defaultdict(list)
    refs["due"].append(charge.due_date)
    for promised in PromiseToPay.objects.filter(
        charge=charge, status=PromiseToPay.Status.PENDING
    ).values_list("promised_date", flat=True):
        refs["promise"].append(promised)
    refs["installment"].extend(
        Installment.objects.filter(
            agreement__charge=charge,
            agreement__status=Agreement.Status.ACTIVE,
            status=Installment.Status.OPEN,
        )
        .order_by("number")
        .values_list("due_date", flat=True)
    )
    return refs


# long-function: one grouped query with its EXISTS subqueries, best read whole
def regua_step_results(*, regua: Regua, since: dt.date | None = None) -> list[dict]:
    """Per step: reminders planned, and of their messages how many were sent, read, replied to and paid
    within RESULT_DAYS days of the send. One grouped query over the entries with EXISTS subqueries."""
    window = dt.timedelta(days=RESULT_DAYS)
    # By step ids: ReguaEntry has an index on step (not on régua: fewer indexes keep the daily insert fast).
    step_ids = list(ReguaStep.objects.filter(regua=regua).values_list("pk", flat=True))
    entries = ReguaEntry.objects.filter(step_id__in=step_ids, status=ES.PLANNED)
    if since is not None:
        entries = entries.filter(day__gte=since)
    sent_at = F("dispatch__sent_at")
    until = ExpressionWrapper(sent_at + window, output_field=DateTimeField())
    replied = Exists(
        Message.objects.filter(
            conversation__client_id=OuterRef("client_id"),
            direction=Message.Direction.IN,
            source=Message.Source.WHATSAPP,  # an API caller typing in his name is not the debtor replying
            sent_at__gte=OuterRef("dispatch__sent_at"),
            sent_at__lt=OuterRef("reply_until"),
        )
    )
    rows = (
        entries.annotate(reply_until=until, replied=replied)
        .values("step_id")
        .annotate(
            planned=Count("pk"),
            sent=Count("pk", filter=Q(dispatch__status__in=SENT_STATUSES)),
            read=Count("pk", filter=Q(dispatch__status=DS.READ)),
            replied_n=Count("pk", filter=Q(replied=True, dispatch__status__in=SENT_STATUSES)),
            paid=Count(
                "pk",
                filter=Q(
                    dispatch__status__in=SENT_STATUSES,
                    charge__paid_at__gte=sent_at,
                    charge__paid_at__lt=until,
                ),
            ),
        )
        .order_by()
    )
    by_step = {row["step_id"]: row for row in rows}
    skipped = dict(
        ReguaEntry.objects.filter(step_id__in=step_ids)
        .exclude(status=ES.PLANNED)
        .values_list("step_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    out = []
    for step in (
        ReguaStep.objects.filter(regua=regua).select_related("template").order_by("kind", "offset_days")
    ):
        row = by_step.get(step.pk, {})
        out.append(
            {
                "step_id": step.pk,
                "step": step.code,
                "label": step.label,
                "template": step.template.name,
                "is_active": step.is_active,
                "planned": row.get("planned", 0),
                "sent": row.get("sent", 0),
                "read": row.get("read", 0),
                "replied": row.get("replied_n", 0),
                "paid_within_7_days": row.get("paid", 0),
                "stopped": skipped.get(step.pk, 0),
            }
        )
    return out
