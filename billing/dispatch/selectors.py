"""Campaign reads: the "validate first" dry run, progress (counts per status, rate, ETA) for the API, the
dashboard and the admin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from billing.dispatch.audience_checks import audience_warnings
from billing.dispatch.window import (
    campaign_window_wait,
    describe_opening,
    off_hours_warning,
    parse_window,
    window_for_campaign,
)
from billing.models import Campaign, Charge, Dispatch, ImportBatch, MessageTemplate
from billing.segments import campaign_audience
from billing.suppression import suppressed_clients_q
from billing.templating import TemplatePreview, empty_variables_q, template_preview
from cobranca import clock
from cobranca.exceptions import ApplicationError

DS = Dispatch.Status
CS = Campaign.Status

DELIVERED_OR_BETTER = (DS.SENT, DS.DELIVERED, DS.READ)
# The rate is measured over the last few minutes so a campaign that waited for its window does not look slow.
RATE_WINDOW_MINUTES = 5


@dataclass(frozen=True)
class CampaignValidation:
    """What `campaign_validate` found. `sample` is the audience charge the `preview` was rendered for."""

    total: int
    suppressed: int
    closed: int
    problems: list[str]
    warnings: list[str]
    sample: Charge | None
    preview: TemplatePreview

    @property
    def ok(self) -> bool:
        return not self.problems

    empty_variables: int = 0

    @property
    def numbers(self) -> dict[str, int]:
        return {
            "total": self.total,
            "suppressed": self.suppressed,
            "closed": self.closed,
            "empty_variables": self.empty_variables,
        }


def audience_sample(audience: QuerySet[Charge]) -> Charge | None:
    """The audience's example for previews: the first charge the campaign will write about (not closed, client
    not suppressed), else the first charge at all (an audience nobody will receive still shows its text)."""
    ordered = audience.select_related("client").order_by("pk")
    sendable = ordered.exclude(status__in=Charge.NO_REMINDER_STATUSES).exclude(
        suppressed_clients_q("client__")
    )
    return sendable.first() or ordered.first()


def empty_variables_problem(*, body: str, audience: QuerySet[Charge]) -> tuple[int, str]:
    """How many recipients (audience charges the driver sends to: not suppressed, open for reminders) would
    get a message with an empty variable, and the problem text; (0, "") when none would."""
    q, names = empty_variables_q(body)
    if q is None:
        return 0, ""
    count = (
        audience.filter(q)
        .exclude(suppressed_clients_q("client__"))
        .exclude(status__in=Charge.NO_REMINDER_STATUSES)
        .count()
    )
    if not count:
        return 0, ""
    shown = ", ".join("{" + name + "}" for name in names)
    example = names[0]
    return count, (
        f"{count} destinatário(s) receberiam a mensagem com variável vazia ({shown}). Complete os dados ou "
        f'dê um valor padrão no modelo, por exemplo {{{example}|"sua mensalidade"}}.'
    )


def campaign_validate(
    *,
    template: MessageTemplate,
    import_batch: ImportBatch | None = None,
    segment: dict | None = None,
    send_window: str = "",
) -> CampaignValidation:
    """The dry run before creating a campaign: how many charges it reaches, how many of those the driver
    will skip (suppressed clients: billing.suppression; charges that take no reminders), the template's
    errors and compliance warnings, the send window's syntax, and the message rendered for the first charge
    of the audience. Writes nothing. `problems` lists what `campaign_create`/`campaign_start` would refuse.
    """
    problems: list[str] = []
    if import_batch is None and not segment:
        problems.append("Escolha a audiência: um segmento ou uma importação.")
    if not template.is_active:
        problems.append("O modelo de mensagem está inativo.")
    audience = campaign_audience(import_batch_id=getattr(import_batch, "pk", None), segment=segment)
    numbers = audience.aggregate(
        total=Count("pk"),
        suppressed=Count("pk", filter=suppressed_clients_q("client__")),
        closed=Count("pk", filter=Q(status__in=Charge.NO_REMINDER_STATUSES)),
    )
    if not numbers["total"]:
        problems.append("A audiência não tem nenhuma cobrança.")
    sample = audience_sample(audience)
    preview = template_preview(body=template.body, charge=sample)
    problems.extend(preview.errors)
    empty = 0
    if not preview.errors:
        empty, problem = empty_variables_problem(body=template.body, audience=audience)
        if problem:
            problems.append(problem)
    warnings = list(preview.warnings)
    if not preview.errors:
        warnings.extend(audience_warnings(body=template.body, audience=audience))
    try:
        window = parse_window(send_window or settings.SEND_WINDOW)
    except ApplicationError as exc:
        problems.append(exc.message)
    else:
        now = clock.now()
        if off_hours := off_hours_warning(send_window, now):
            warnings.append(off_hours)
        if not window.is_open(now):
            warnings.append(
                "A janela de envio está fechada agora: a campanha fica aguardando e os envios começam "
                f"{describe_opening(window.next_opening(now), now=now)}."
            )
    return CampaignValidation(
        empty_variables=empty,
        total=numbers["total"],
        suppressed=numbers["suppressed"],
        closed=numbers["closed"],
        problems=problems,
        warnings=warnings,
        sample=sample,
        preview=preview,
    )


def campaign_list(*, status: str | None = None) -> QuerySet[Campaign]:
    qs = Campaign.objects.select_related("template").annotate(
        sent_count=Count("dispatches", filter=Q(dispatches__status__in=DELIVERED_OR_BETTER)),
        pending_count=Count("dispatches", filter=Q(dispatches__status__in=[DS.PENDING, DS.SENDING])),
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def campaign_status_counts(*, campaign_id: int) -> dict[str, int]:
    counts = {status.value: 0 for status in DS}
    rows = Dispatch.objects.filter(campaign_id=campaign_id).values_list("status").annotate(n=Count("pk"))
    counts.update({status: n for status, n in rows})
    return counts


def _window_opening(campaign: Campaign, at: dt.datetime) -> dt.datetime:
    try:
        return window_for_campaign(campaign).next_opening(at)
    except ApplicationError:
        return at


# long-function: one query and the arithmetic on its result, read best together
def campaign_progress(*, campaign: Campaign, now: dt.datetime | None = None) -> dict:
    """Counts per dispatch status, processed share, send rate (messages/minute) and an ETA for the rest."""
    now = now or clock.now()
    counts = campaign_status_counts(campaign_id=campaign.pk)
    remaining = counts[DS.PENDING] + counts[DS.SENDING]
    total = campaign.total or sum(counts.values())
    processed = total - remaining
    sent = sum(counts[s] for s in DELIVERED_OR_BETTER)
    since = now - dt.timedelta(minutes=RATE_WINDOW_MINUTES)
    start = max(since, campaign.started_at) if campaign.started_at else since
    # A window that opened within the rate period: measure from its opening (the closed minutes sent nothing).
    opened = _window_opening(campaign, start)
    if start < opened <= now:
        start = opened
    recent = Dispatch.objects.filter(campaign_id=campaign.pk, sent_at__gte=start).count()
    minutes = max((now - start).total_seconds() / 60, 1 / 60)
    rate = recent / minutes if recent else 0.0
    eta_seconds = None
    waits_until = campaign_window_wait(campaign, now) if remaining else None
    if remaining and campaign.status in (CS.RUNNING, CS.SCHEDULED):
        if rate > 0 and waits_until is None:
            eta_seconds = remaining / rate * 60
        else:
            eta_seconds = remaining * float(campaign.delay_seconds)
        start = now
        if campaign.status == CS.SCHEDULED and campaign.starts_at and campaign.starts_at > now:
            start = campaign.starts_at
        opens = waits_until or _window_opening(campaign, start)
        # Nothing goes out before the campaign starts and its window opens.
        eta_seconds += (max(start, opens) - now).total_seconds()
    elif not remaining:
        eta_seconds = 0
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "status_display": campaign.get_status_display(),
        "pause_reason": campaign.pause_reason,
        "session": campaign.session_name,
        "template_name": campaign.template.name,
        "total": total,
        "counts": counts,
        "processed": processed,
        "sent": sent,
        "remaining": remaining,
        "progress_percent": round(100 * processed / total, 1) if total else 100.0,
        "rate_per_minute": round(rate, 2),
        "eta_seconds": round(eta_seconds) if eta_seconds is not None else None,
        "eta_at": (now + dt.timedelta(seconds=eta_seconds)).isoformat() if eta_seconds is not None else None,
        # Running, but its send window is closed now: nothing goes out until window_opens_at.
        "waiting_for_window": waits_until is not None,
        "window_opens_at": waits_until.isoformat() if waits_until else None,
        "state_display": (
            f"aguardando janela de envio: {describe_opening(waits_until, now=now)}"
            if waits_until
            else campaign.get_status_display()
        ),
        "delay_seconds": float(campaign.delay_seconds),
        "jitter_seconds": float(campaign.jitter_seconds),
        "starts_at": campaign.starts_at.isoformat() if campaign.starts_at else None,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }


def campaign_current() -> Campaign | None:
    """The campaign `batch-status` reports without an id: the newest active one, else the newest started
    one."""
    active = Campaign.objects.filter(status__in=[CS.RUNNING, CS.SCHEDULED, CS.PAUSED]).order_by(
        "-started_at", "-pk"
    )
    return active.first() or Campaign.objects.exclude(status=CS.DRAFT).order_by("-started_at", "-pk").first()


def dispatches_unknown(*, campaign_id: int | None = None) -> QuerySet[Dispatch]:
    qs = Dispatch.objects.filter(status=DS.UNKNOWN).select_related("client", "campaign")
    if campaign_id:
        qs = qs.filter(campaign_id=campaign_id)
    return qs.order_by("pk")
