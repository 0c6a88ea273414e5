"""Régua writes: turn on, pause, resume, and which régua a charge follows.

Callers: the admin, the dashboard page, the API (`billing/regua/apis.py`) and the `regua_enable` command. The
daily planning itself is `billing.regua.run.regua_plan_run` (the schedule and `regua_run`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.models import Campaign, Charge, ImportBatch
from billing.regua.models import Regua
from cobranca.exceptions import ApplicationError

RS = Regua.Status


def regua_get(*, slug_or_id: str | int) -> Regua:
    """A régua by slug ("default") or id; ApplicationError (404) when there is none."""
    qs = Regua.objects.all()
    regua = (
        qs.filter(pk=int(slug_or_id)).first()
        if str(slug_or_id).isdigit()
        else qs.filter(slug=slug_or_id).first()
    )
    if regua is None:
        raise ApplicationError("Régua não encontrada.", {"regua": str(slug_or_id)}, status_code=404)
    return regua


def regua_problems(*, regua: Regua) -> tuple[list[str], list[str]]:
    """(errors, compliance warnings) of the active steps' templates, prefixed with the step."""
    from billing.compliance import template_compliance_warnings
    from billing.templating import template_validate

    errors, warnings = [], []
    steps = list(regua.steps.filter(is_active=True).select_related("template"))
    if not steps:
        errors.append("A régua não tem nenhum passo ativo.")
    for step in steps:
        if not step.template.is_active:
            errors.append(f"{step.code}: o modelo {step.template.name} está inativo.")
        errors += [f"{step.code}: {e}" for e in template_validate(step.template.body)]
        warnings += [f"{step.code}: {w}" for w in template_compliance_warnings(step.template.body)]
    return errors, warnings


def regua_enable(*, regua: Regua, by=None, confirm_compliance: bool = False) -> Regua:
    """Turn a régua on (from off or paused). Refuses template errors, and compliance warnings unless
    `confirm_compliance` (the operator read them). Idempotent on an active régua."""
    errors, warnings = regua_problems(regua=regua)
    if errors:
        raise ApplicationError("Os modelos da régua têm erros.", {"errors": errors})
    if warnings and not confirm_compliance:
        raise ApplicationError(
            "Os modelos da régua têm avisos de conformidade: confirme que os leu para ligá-la.",
            {"warnings": warnings, "confirm_compliance": False},
        )
    with transaction.atomic():
        Regua.objects.filter(pk=regua.pk).update(status=RS.ACTIVE, pause_reason="", updated_at=timezone.now())
        _campaigns_resume(regua)
    regua.refresh_from_db()
    logger.bind(regua=regua.slug).info("regua.enabled by={}", getattr(by, "pk", None))
    return regua


def regua_pause(*, regua: Regua, by=None, reason: str = "") -> Regua:
    """Stop planning and sending: today's messages not yet sent wait (their campaign pauses)."""
    from billing.dispatch.services import campaign_pause

    label = reason or (f"pausada por {by.get_username()}" if getattr(by, "pk", None) else "pausada")
    with transaction.atomic():
        updated = Regua.objects.filter(pk=regua.pk, status=RS.ACTIVE).update(
            status=RS.PAUSED, pause_reason=label[:200], updated_at=timezone.now()
        )
        if not updated:
            regua.refresh_from_db()
            raise ApplicationError(
                f"Só é possível pausar uma régua ativa (esta está {regua.get_status_display()}).",
                {"status": regua.status},
                status_code=409,
            )
        for campaign in Campaign.objects.filter(regua=regua, status__in=Campaign.ACTIVE_STATUSES):
            campaign_pause(campaign=campaign, by=by, reason=f"régua pausada: {label}")
    regua.refresh_from_db()
    logger.bind(regua=regua.slug).info("regua.paused reason={}", label)
    return regua


def regua_resume(*, regua: Regua, by=None) -> Regua:
    """Back on after a pause. Reminders whose day passed during the pause are not sent late."""
    if regua.status != RS.PAUSED:
        raise ApplicationError(
            f"Só é possível retomar uma régua pausada (esta está {regua.get_status_display()}).",
            {"status": regua.status},
            status_code=409,
        )
    return regua_enable(regua=regua, by=by, confirm_compliance=True)


def regua_turn_off(*, regua: Regua, by=None) -> Regua:
    """Off: nothing planned any more; today's unsent messages are cancelled (skipped with a reason)."""
    from billing.dispatch.services import campaign_cancel

    with transaction.atomic():
        Regua.objects.filter(pk=regua.pk).update(status=RS.OFF, pause_reason="", updated_at=timezone.now())
        for campaign in Campaign.objects.filter(
            regua=regua, status__in=[*Campaign.ACTIVE_STATUSES, Campaign.Status.PAUSED]
        ):
            campaign_cancel(campaign=campaign, by=by)
    regua.refresh_from_db()
    return regua


def _campaigns_resume(regua: Regua) -> None:
    """Today's paused campaign goes on; those of days that passed during the pause are cancelled (their
    reminders are not sent late: the dispatches become skipped "campanha cancelada")."""
    from billing.dispatch.services import campaign_cancel, campaign_resume

    today = timezone.localdate()
    for campaign in Campaign.objects.filter(regua=regua, status=Campaign.Status.PAUSED):
        if campaign.regua_day and campaign.regua_day < today:
            campaign_cancel(campaign=campaign)
        else:
            campaign_resume(campaign=campaign)


def regua_assign(
    *,
    regua: Regua | None,
    import_batch: ImportBatch | None = None,
    segment: dict | None = None,
    charge_ids: list[int] | None = None,
) -> int:
    """Make charges follow `regua` (None: back to the default). An import also records it for the future
    re-imports of that batch. One UPDATE; returns how many charges changed."""
    if import_batch is None and not segment and not charge_ids:
        raise ApplicationError("Escolha as cobranças: uma importação, um segmento ou uma lista.", {})
    charges = Charge.objects.all()
    if import_batch is not None:
        ImportBatch.objects.filter(pk=import_batch.pk).update(regua=regua)
        charges = charges.filter(import_batch_id=import_batch.pk)
    if segment:
        from billing.segments import charges_for_segment

        charges = charges.filter(pk__in=charges_for_segment(segment).values("pk"))
    if charge_ids:
        charges = charges.filter(pk__in=list(charge_ids))
    count = charges.update(regua=regua, updated_at=timezone.now())
    logger.info("regua.assigned regua={} charges={}", getattr(regua, "slug", None), count)
    return count


def import_batch_set_regua(*, import_batch_id: int, regua: Regua | None) -> None:
    """The charges of this import follow `regua` (None: the default) unless a charge has its own."""
    ImportBatch.objects.filter(pk=import_batch_id).update(regua=regua)
    logger.info("regua.import_batch batch={} regua={}", import_batch_id, getattr(regua, "slug", None))
