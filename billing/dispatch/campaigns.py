"""Campaign lifecycle: create, start, pause, resume, cancel, complete, scheduled starts, and the session-wide
pauses (the webhook and the driver pause every campaign of a session that cannot send).

The writes of one Dispatch (outcomes, acks, recovery, resend) are billing.dispatch.services, which re-exports
these names so its callers keep one import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from loguru import logger

from billing.compliance import template_compliance_warnings
from billing.dispatch.selectors import empty_variables_problem
from billing.dispatch.window import off_hours_warning, parse_window
from billing.models import Campaign, Dispatch, ImportBatch, MessageTemplate
from billing.segments import campaign_audience, segment_as_json
from billing.templating import template_validate
from cobranca import clock
from cobranca.exceptions import ApplicationError
from cobranca.tasks import enqueue_on_commit
from whatsapp.models import WahaSession

DS = Dispatch.Status
CS = Campaign.Status

DRIVE_TASK = "billing.tasks.dispatch_drive_task"
REASON_CAMPAIGN_CANCELLED = "campanha cancelada"
# Dispatches a campaign still has to send (or is sending): none left means the campaign is complete.
IN_FLIGHT = (DS.PENDING, DS.SENDING)

# Automatic pauses carry a recognisable prefix so a session coming back resumes only what it paused itself,
# never a campaign an operator paused on purpose.
AUTO_PAUSE_PREFIX = "Automática: "
TIMELOCK_PAUSE_PREFIX = "Bloqueio 463: "
PAUSE_SESSION_DOWN = "sessão do WhatsApp fora do ar"
PAUSE_TIMELOCK = "o WhatsApp bloqueou novos contatos nesta sessão (erro 463); retome quando o bloqueio acabar"
PAUSE_SESSION_CONFIG = "a sessão do WhatsApp recusou o envio ({}); verifique a configuração"


def driver_lanes(delay: float) -> int:
    """How many concurrent driver tasks serve one session.

    Unpaced campaigns (delay 0) use several lanes to fill the workers; a paced campaign needs one: the pace,
    not the sender, is the bottleneck, and every extra lane would hold a worker asleep.
    """
    if delay > 0:
        return 1
    return int(settings.DISPATCH_DRIVER_LANES)


# --- helpers ------------------------------------------------------------------------------------------------


def _decimal(value, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError("Valor numérico inválido.", {"field": field, "value": str(value)}) from None
    if not number.is_finite() or number < 0:
        raise ApplicationError("O valor não pode ser negativo.", {"field": field, "value": str(value)})
    return number


def _template_problems(template: MessageTemplate) -> list[str]:
    return list(template_validate(template.body))


def _compliance_warnings(template: MessageTemplate) -> list[str]:
    return list(template_compliance_warnings(template.body))


def kick_drivers(*, session_name: str, delay: float) -> None:
    """Enqueue the driver task(s) for a session after the current transaction commits.

    Safe to call often: a driver that finds its lane taken by a running driver exits at once.
    """
    for lane in range(driver_lanes(delay)):
        enqueue_on_commit(DRIVE_TASK, session_name, lane)


# --- campaign lifecycle -------------------------------------------------------------------------------------


def campaign_create(
    *,
    template: MessageTemplate,
    name: str = "",
    segment: dict | None = None,
    import_batch: ImportBatch | None = None,
    delay_seconds: Decimal | float | int | str | None = None,
    jitter_seconds: Decimal | float | int | str | None = None,
    session_name: str | None = None,
    starts_at: dt.datetime | None = None,
    send_window: str = "",
    daily_cap: int | None = None,
    by=None,
) -> Campaign:
    """A draft campaign: audience (segment and/or import batch) + template + pace. Nothing is sent until
    start."""
    if import_batch is None and not segment:
        raise ApplicationError("Escolha a audiência: um segmento ou uma importação.", {"field": "segment"})
    if segment is not None and not isinstance(segment, dict):
        raise ApplicationError("O segmento deve ser um objeto com filtros.", {"field": "segment"})
    if segment:
        segment = segment_as_json(segment)  # validates; stores JSON-friendly values
    if not template.is_active:
        raise ApplicationError("O modelo de mensagem está inativo.", {"template_name": template.name})
    delay = _decimal(
        settings.DISPATCH_DELAY_SECONDS if delay_seconds is None else delay_seconds, "delay_seconds"
    )
    if jitter_seconds is None:
        jitter = min(_decimal(settings.DISPATCH_JITTER_SECONDS, "jitter_seconds"), delay)
    else:
        jitter = _decimal(jitter_seconds, "jitter_seconds")
    if jitter > delay:
        raise ApplicationError(
            "A variação não pode ser maior que o intervalo.",
            {"delay_seconds": str(delay), "jitter_seconds": str(jitter)},
        )
    if send_window:
        parse_window(send_window)  # raises with a readable message on bad syntax
    if starts_at is not None and timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    if daily_cap is not None and daily_cap < 1:
        raise ApplicationError("O limite diário deve ser pelo menos 1.", {"daily_cap": daily_cap})
    campaign = Campaign.objects.create(
        name=name or f"{template.name} {timezone.localtime():%d/%m/%Y %H:%M}",
        template=template,
        segment=segment or {},
        import_batch=import_batch,
        delay_seconds=delay,
        jitter_seconds=jitter,
        session_name=session_name or settings.WAHA_SESSION_NAME,
        starts_at=starts_at,
        send_window=send_window,
        daily_cap=daily_cap,
        created_by=by if getattr(by, "pk", None) else None,
    )
    logger.bind(campaign_id=campaign.pk).info("campaign.created template={}", template.name)
    return campaign


def _refuse_off_hours(campaign: Campaign, *, confirmed: bool) -> None:
    """CDC art. 42 / Procon practice: a campaign without a window started at night needs an explicit yes."""
    off_hours = off_hours_warning(campaign.send_window, clock.now())
    if off_hours and not confirmed and campaign.status == CS.DRAFT:  # a second start gets its 409
        raise ApplicationError(off_hours, {"campaign_id": campaign.pk, "confirm_off_hours": False})


def campaign_start(
    *, campaign: Campaign, by=None, confirm_compliance: bool = False, confirm_off_hours: bool = False
) -> Campaign:
    """Build one Dispatch per audience charge, set `total`, and hand the campaign to the driver. Refuses a
    template with errors, compliance warnings without `confirm_compliance`, no window at night without
    `confirm_off_hours` (window.off_hours_warning). Starting twice is refused (non-draft); dispatches are
    unique per (campaign, charge), so even a racing second build adds nothing."""
    problems = _template_problems(campaign.template)
    if problems:
        raise ApplicationError("O modelo de mensagem tem erros.", {"errors": problems})
    warnings = _compliance_warnings(campaign.template)
    if warnings and not (confirm_compliance or campaign.compliance_confirmed):
        raise ApplicationError(
            "O modelo tem avisos de conformidade: confirme que os leu para iniciar a campanha.",
            {"warnings": warnings, "confirm_compliance": False},
        )
    window = campaign.send_window or settings.SEND_WINDOW
    parse_window(window)
    _refuse_off_hours(campaign, confirmed=confirm_off_hours)
    audience = list(
        campaign_audience(import_batch_id=campaign.import_batch_id, segment=campaign.segment).values_list(
            "pk", "client_id"
        )
    )
    if not audience:
        raise ApplicationError("A audiência não tem nenhuma cobrança.", {"campaign_id": campaign.pk})
    empty, problem = empty_variables_problem(
        body=campaign.template.body,
        audience=campaign_audience(import_batch_id=campaign.import_batch_id, segment=campaign.segment),
    )
    if problem:
        raise ApplicationError(problem, {"campaign_id": campaign.pk, "empty_variables": empty})
    now = clock.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != CS.DRAFT:
            raise ApplicationError(
                "A campanha já foi iniciada.",
                {"status": locked.status, "campaign_id": campaign.pk},
                status_code=409,
            )
        Dispatch.objects.bulk_create(
            [
                Dispatch(campaign_id=campaign.pk, charge_id=charge_id, client_id=client_id)
                for charge_id, client_id in audience
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        locked.total = Dispatch.objects.filter(campaign_id=campaign.pk).count()
        locked.status = CS.SCHEDULED if locked.starts_at and locked.starts_at > now else CS.RUNNING
        locked.started_at = now
        locked.compliance_confirmed = locked.compliance_confirmed or bool(warnings and confirm_compliance)
        locked.save(update_fields=["total", "status", "started_at", "compliance_confirmed"])
        kick_drivers(session_name=locked.session_name, delay=float(locked.delay_seconds))
    logger.bind(campaign_id=campaign.pk).info(
        "campaign.started total={} status={}", locked.total, locked.status
    )
    return locked


def _transition(campaign: Campaign, *, from_statuses: Iterable[str], action: str, **values) -> Campaign:
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=list(from_statuses)).update(**values)
    if not updated:
        current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        raise ApplicationError(
            f"Não é possível {action} uma campanha {CS(current).label if current else 'inexistente'}.",
            {"status": current, "campaign_id": campaign.pk},
            status_code=409,
        )
    campaign.refresh_from_db()
    return campaign


def campaign_pause(*, campaign: Campaign, by=None, reason: str = "") -> Campaign:
    """Stop claiming new dispatches. A message already being sent finishes; nothing is lost."""
    label = reason or (f"pausada por {by.get_username()}" if getattr(by, "pk", None) else "pausada")
    campaign = _transition(
        campaign,
        from_statuses=Campaign.ACTIVE_STATUSES,
        action="pausar",
        status=CS.PAUSED,
        pause_reason=label[:200],
    )
    logger.bind(campaign_id=campaign.pk).info("campaign.paused reason={}", label)
    return campaign


def campaign_resume(*, campaign: Campaign, by=None) -> Campaign:
    now = clock.now()
    with transaction.atomic():
        status = CS.SCHEDULED if campaign.starts_at and campaign.starts_at > now else CS.RUNNING
        campaign = _transition(
            campaign, from_statuses=[CS.PAUSED], action="retomar", status=status, pause_reason=""
        )
        kick_drivers(session_name=campaign.session_name, delay=float(campaign.delay_seconds))
    logger.bind(campaign_id=campaign.pk).info("campaign.resumed")
    return campaign


def campaign_cancel(*, campaign: Campaign, by=None) -> Campaign:
    """Cancel: pending dispatches are skipped with a reason; one being sent right now still completes."""
    now = clock.now()
    with transaction.atomic():
        campaign = _transition(
            campaign,
            from_statuses=[CS.DRAFT, CS.SCHEDULED, CS.RUNNING, CS.PAUSED],
            action="cancelar",
            status=CS.CANCELLED,
            finished_at=now,
        )
        skipped = Dispatch.objects.filter(campaign_id=campaign.pk, status=DS.PENDING).update(
            status=DS.SKIPPED, reason=REASON_CAMPAIGN_CANCELLED, next_attempt_at=None, updated_at=now
        )
    logger.bind(campaign_id=campaign.pk).info("campaign.cancelled skipped={}", skipped)
    return campaign


def campaigns_complete_finished(*, session_name: str | None = None, campaign_id: int | None = None) -> int:
    """Mark running campaigns with nothing pending or in flight as completed (one conditional UPDATE)."""
    qs = Campaign.objects.filter(status=CS.RUNNING)
    if session_name is not None:
        qs = qs.filter(session_name=session_name)
    if campaign_id is not None:
        qs = qs.filter(pk=campaign_id)
    busy = Dispatch.objects.filter(campaign_id=OuterRef("pk"), status__in=IN_FLIGHT)
    count = qs.filter(~Exists(busy)).update(status=CS.COMPLETED, finished_at=clock.now())
    if count:
        logger.info("campaign.completed count={} session={}", count, session_name)
    return count


def campaigns_promote_scheduled(*, session_name: str | None = None) -> list[tuple[str, float]]:
    """Scheduled campaigns whose start time has come become running; returns their (session, delay)."""
    qs = Campaign.objects.filter(status=CS.SCHEDULED, starts_at__lte=clock.now())
    if session_name is not None:
        qs = qs.filter(session_name=session_name)
    due = list(qs.values_list("pk", "session_name", "delay_seconds"))
    if due:
        Campaign.objects.filter(pk__in=[pk for pk, _, _ in due], status=CS.SCHEDULED).update(
            status=CS.RUNNING
        )
    return [(name, float(delay)) for _, name, delay in due]


# --- session-wide pauses (webhook, driver) ------------------------------------------------------------------


def campaigns_pause_for_session(*, session_name: str, reason: str = "", timelock: bool = False) -> int:
    """Pause every active campaign of a session that cannot send (session down, or WhatsApp's 463 time-lock).

    Idempotent; returns how many campaigns changed. The reason is prefixed so that
    `campaigns_resume_for_session` later resumes only what was paused automatically.
    """
    prefix = TIMELOCK_PAUSE_PREFIX if timelock else AUTO_PAUSE_PREFIX
    text = prefix + (reason or (PAUSE_TIMELOCK if timelock else PAUSE_SESSION_DOWN))
    count = Campaign.objects.filter(session_name=session_name, status__in=Campaign.ACTIVE_STATUSES).update(
        status=CS.PAUSED, pause_reason=text[:200]
    )
    if count:
        logger.bind(session=session_name).warning(
            "campaign.paused_for_session count={} reason={}", count, text
        )
    return count


def campaigns_resume_for_session(*, session_name: str) -> int:
    """The session reports WORKING again: resume the campaigns it paused automatically. Idempotent.

    Campaigns paused for the 463 time-lock resume only when the session records that the lock has expired
    (`WahaSession.reachout_locked_until` in the past); without that knowledge an operator decides.
    """
    now = clock.now()
    which = Q(pause_reason__startswith=AUTO_PAUSE_PREFIX)
    locked_until = (
        WahaSession.objects.filter(name=session_name).values_list("reachout_locked_until", flat=True).first()
    )
    if locked_until is not None and locked_until <= now:
        which |= Q(pause_reason__startswith=TIMELOCK_PAUSE_PREFIX)
    with transaction.atomic():
        paused = Campaign.objects.filter(which, session_name=session_name, status=CS.PAUSED)
        rows = list(paused.values_list("pk", "starts_at", "delay_seconds"))
        for pk, starts_at, _ in rows:
            status = CS.SCHEDULED if starts_at and starts_at > now else CS.RUNNING
            Campaign.objects.filter(pk=pk, status=CS.PAUSED).update(status=status, pause_reason="")
        if rows:
            kick_drivers(session_name=session_name, delay=float(min(delay for _, _, delay in rows)))
    if rows:
        logger.bind(session=session_name).info("campaign.resumed_for_session count={}", len(rows))
    return len(rows)
