"""Régua de cobrança: reminders that run themselves, relative to each charge's due date.

A `Regua` has ordered `ReguaStep`s (an offset in days from a reference date, a template, the charge states it
applies to). The daily planner (`billing.regua.planner`) turns "today's steps" into `ReguaEntry` rows, one per
(charge, step, reference date) — a unique constraint, so a planner running twice or two workers racing can
never plan the same reminder twice — and groups each debtor's entries of the day into ONE `Dispatch` of the
régua's daily campaign, which the existing paced dispatch engine sends (pace, window, caps, exactly-once).

Imported by `billing.models` so Django sees these models in the billing app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReguaStatus(models.TextChoices):
    OFF = "off", "desligada"
    ACTIVE = "active", "ativa"
    PAUSED = "paused", "pausada"


class Regua(models.Model):
    """A set of reminder steps. `off` until an operator turns it on; `paused` stops planning and sending."""

    Status = ReguaStatus

    name = models.CharField("nome", max_length=120)
    slug = models.SlugField("identificador", max_length=60, unique=True)
    is_default = models.BooleanField(
        "régua padrão",
        default=False,
        help_text="Cobranças sem régua definida (na cobrança ou na importação) seguem a régua padrão.",
    )
    status = models.CharField(
        "situação", max_length=10, choices=Status.choices, default=Status.OFF, db_index=True
    )
    pause_reason = models.CharField("motivo da pausa", max_length=200, blank=True)
    session_name = models.CharField("sessão WAHA", max_length=100, default="default")
    send_window = models.CharField(
        "janela de envio",
        max_length=200,
        blank=True,
        help_text="Vazio: a janela padrão (SEND_WINDOW). Ex.: mon-fri 08:00-20:00; sat 08:00-14:00",
    )
    skip_carnival = models.BooleanField(
        "não enviar no Carnaval",
        default=True,
        help_text="Segunda e terça de Carnaval (ponto facultativo) contam como dias fechados.",
    )
    delay_seconds = models.DecimalField(
        "intervalo (s)", max_digits=8, decimal_places=2, null=True, blank=True
    )
    jitter_seconds = models.DecimalField(
        "variação (s)", max_digits=8, decimal_places=2, null=True, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="criada por"
    )
    created_at = models.DateTimeField("criada em", auto_now_add=True)
    updated_at = models.DateTimeField("atualizada em", auto_now=True)

    class Meta:
        verbose_name = "régua de cobrança"
        verbose_name_plural = "réguas de cobrança"
        ordering = ["name"]
        constraints = [
            # At most one default régua: the planner must know which one a charge without a régua follows.
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="regua_one_default"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ReguaStatus]), name="regua_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    DUE = "due", "vencimento da cobrança"
    PROMISE = "promise", "promessa vencida"
    INSTALLMENT = "installment", "parcela de acordo"


DEFAULT_STEP_STATUSES = ["open"]


def default_step_statuses() -> list[str]:
    return list(DEFAULT_STEP_STATUSES)


class ReguaStep(models.Model):
    """One reminder: `offset_days` from the reference date (negative = before it) with a template.

    The reference date depends on the kind: the charge's due date, the promised date (a "promessa vencida"
    step, offset +1 = the day after), or each agreement installment's due date.
    """

    Kind = StepKind

    regua = models.ForeignKey(Regua, on_delete=models.CASCADE, related_name="steps", verbose_name="régua")
    kind = models.CharField("tipo", max_length=12, choices=Kind.choices, default=Kind.DUE)
    offset_days = models.SmallIntegerField(
        "dias em relação ao vencimento",
        help_text="Negativo = antes (D-3 = -3); 0 = no dia; positivo = depois.",
    )
    label = models.CharField("nome do passo", max_length=80)
    template = models.ForeignKey(
        "billing.MessageTemplate", on_delete=models.PROTECT, related_name="regua_steps", verbose_name="modelo"
    )
    charge_statuses = models.JSONField(
        "situações da cobrança",
        default=default_step_statuses,
        blank=True,
        help_text='Situações em que o passo vale, ex.: ["open"]. Vazio = a situação própria do tipo.',
    )
    is_active = models.BooleanField("ativo", default=True)

    class Meta:
        verbose_name = "passo da régua"
        verbose_name_plural = "passos da régua"
        ordering = ["regua", "kind", "offset_days"]
        constraints = [
            models.UniqueConstraint(fields=["regua", "kind", "offset_days"], name="regua_step_unique_offset"),
            models.CheckConstraint(
                condition=Q(offset_days__gte=-60) & Q(offset_days__lte=365), name="regua_step_offset_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.regua} · {self.code}"

    @property
    def code(self) -> str:
        """D-3, D0, D+7 (P+1 for a promise step, A-1 for an installment step)."""
        prefix = {StepKind.DUE: "D", StepKind.PROMISE: "P", StepKind.INSTALLMENT: "A"}[StepKind(self.kind)]
        return f"{prefix}{self.offset_days:+d}" if self.offset_days else f"{prefix}0"


class EntryStatus(models.TextChoices):
    PLANNED = "planned", "planejado"
    DEFERRED = "deferred", "adiado"
    SKIPPED = "skipped", "não enviado"


class ReguaEntry(models.Model):
    """One reminder of one charge: planned into a Dispatch (the message), skipped with a reason, or deferred
    to a later day. Unique per (charge, step, reference date): whatever races, a reminder is planned once.
    """

    Status = EntryStatus

    # Few indexes on purpose: the planner inserts ~100,000 of these on a busy day and every index costs on
    # each insert. Lookups go by (reference date, step, charge) [unique], charge, step, dispatch,
    # (client, day) and (status, retry_on).
    regua = models.ForeignKey(
        Regua, on_delete=models.CASCADE, related_name="entries", verbose_name="régua", db_index=False
    )
    step = models.ForeignKey(
        ReguaStep, on_delete=models.CASCADE, related_name="entries", verbose_name="passo"
    )
    charge = models.ForeignKey(
        "billing.Charge", on_delete=models.CASCADE, related_name="regua_entries", verbose_name="cobrança"
    )
    client = models.ForeignKey(
        "billing.Client",
        on_delete=models.CASCADE,
        related_name="regua_entries",
        verbose_name="cliente",
        db_index=False,  # (client, day) below
    )
    ref_date = models.DateField("data de referência", help_text="Vencimento, data prometida ou da parcela.")
    installment = models.PositiveSmallIntegerField("parcela", null=True, blank=True)
    day = models.DateField("dia", help_text="Dia em que foi planejado (ou adiado/descartado).")
    status = models.CharField("situação", max_length=10, choices=Status.choices)
    reason = models.CharField("motivo", max_length=40, blank=True)
    retry_on = models.DateField("tentar de novo em", null=True, blank=True)
    dispatch = models.ForeignKey(
        "billing.Dispatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="regua_entries",
        verbose_name="envio",
    )
    created_at = models.DateTimeField("criado em", auto_now_add=True)
    updated_at = models.DateTimeField("atualizado em", auto_now=True)

    class Meta:
        verbose_name = "lembrete da régua"
        verbose_name_plural = "lembretes da régua"
        ordering = ["-day", "pk"]
        constraints = [
            # ref_date first: the planner looks entries up by (reference dates, steps).
            models.UniqueConstraint(
                fields=["ref_date", "step", "charge"], name="regua_entry_unique_charge_step"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in EntryStatus]), name="regua_entry_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "retry_on"], name="regua_entry_retry_idx"),
            models.Index(fields=["client", "day"], name="regua_entry_client_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.charge_id} {self.step_id} {self.day:%d/%m/%Y} {self.status}"

    @property
    def reason_display(self) -> str:
        from billing.regua.reasons import reason_label

        return reason_label(self.reason)
