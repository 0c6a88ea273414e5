"""What a régua message says: rendered at send time from the reminders it carries (called by the driver).

One message per debtor per day: the Dispatch carries every `ReguaEntry` of that debtor planned into it. The
most relevant reminder (a promise follow-up, then the step furthest along) picks the template;
`{charges_list}` lists every charge with its own "vence em / vence hoje / venceu em" line, `{charges_total}`
sums them.
Charges that stopped taking reminders since the plan (paid, cancelled…) are left out of the list.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from billing.models import Charge, Dispatch
from billing.money import format_brl
from billing.regua.models import ReguaEntry, StepKind
from billing.templating import charge_line, template_render


def _line(entry: ReguaEntry, today: dt.date) -> tuple[str, object]:
    charge = entry.charge
    kind = entry.step.kind
    if kind == StepKind.INSTALLMENT:
        agreement = charge.agreements.filter(status="active").order_by("-created_at").first()
        row = agreement.schedule.filter(number=entry.installment).first() if agreement else None
        # What is still owed on this installment (the last one absorbs the rounding; part may be paid).
        amount = row.balance if row else (agreement.installment_amount if agreement else charge.amount)
        total = agreement.installments if agreement else entry.installment
        due = entry.ref_date
        when = "vence hoje" if due == today else ("vence em" if due > today else "venceu em")
        note = f"parcela {entry.installment}/{total} do acordo, {when} {due:%d/%m/%Y}"
        return charge_line(
            description=charge.description, amount=amount, due_date=due, today=today, note=note
        ), amount
    if kind == StepKind.PROMISE:
        promise = charge.promises.filter(promised_date=entry.ref_date).order_by("-created_at").first()
        amount = promise.amount if promise and promise.amount else charge.amount
        note = f"pagamento combinado para {entry.ref_date:%d/%m/%Y}"
        return charge_line(
            description=charge.description, amount=amount, due_date=entry.ref_date, today=today, note=note
        ), amount
    return (
        charge_line(
            description=charge.description, amount=charge.amount, due_date=charge.due_date, today=today
        ),
        charge.amount,
    )


def regua_has_live_charge(*, dispatch_id: int) -> bool:
    """Whether a régua message still carries a charge that takes reminders (its lead charge was closed)."""
    return (
        ReguaEntry.objects.filter(dispatch_id=dispatch_id, status=ReguaEntry.Status.PLANNED)
        .exclude(charge__status__in=Charge.NO_REMINDER_STATUSES)
        .exists()
    )


def regua_message_entries(dispatch: Dispatch, today: dt.date) -> list[ReguaEntry]:
    """The reminders this message still carries, most relevant first."""
    entries = list(
        ReguaEntry.objects.filter(dispatch_id=dispatch.pk, status=ReguaEntry.Status.PLANNED)
        .select_related("step__template", "charge")
        .order_by("pk")
    )
    live = [
        e
        for e in entries
        if e.charge.status not in Charge.NO_REMINDER_STATUSES
        and not (e.step.offset_days < 0 and e.step.kind != StepKind.PROMISE and today >= e.ref_date)
    ]
    # The lead charge passed the driver's checks, so the message always has something true to say.
    live = live or [e for e in entries if e.charge_id == dispatch.charge_id] or entries
    live.sort(key=lambda e: (e.step.kind == StepKind.PROMISE, e.step.offset_days, -e.charge_id), reverse=True)
    return live


def regua_render(*, dispatch: Dispatch, now: dt.datetime | None = None) -> str:
    """The body of a régua message. Raises like template_render when nothing can be rendered."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    entries = regua_message_entries(dispatch, today)
    if not entries:
        # Planned before this module knew the entries (should not happen): the campaign's template alone.
        return template_render(
            body=dispatch.campaign.template.body, charge=dispatch.charge, client=dispatch.client
        )
    lines, total, seen = [], 0, set()
    for entry in entries:
        if entry.charge_id in seen:
            continue
        seen.add(entry.charge_id)
        line, amount = _line(entry, today)
        lines.append(line)
        total += amount
    lead = entries[0]
    return template_render(
        body=lead.step.template.body,
        charge=lead.charge,
        client=dispatch.client,
        context={"charges_list": "\n".join(lines), "charges_total": format_brl(total)},
        now=now,
    )
