"""Message templates, campaigns, their dispatches (one per charge) and the per-session pacing state."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.charges import Charge, ImportBatch
from billing.models.clients import Client
from cobranca.text import normalize_newlines


class MessageTemplate(models.Model):
    """A reminder text with {variables}. `title` is its name for people (what the dashboard shows); `name` is
    the slug integrations use as template_name, derived from the title when none is given
    (billing.templating.template_slug_for)."""

    name = models.SlugField("nome", max_length=100, unique=True)
    title = models.CharField("título", max_length=200, blank=True)
    body = models.TextField("texto")
    is_active = models.BooleanField("ativo", default=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name="atualizado em", auto_now=True)

    class Meta:
        verbose_name = "modelo de mensagem"
        verbose_name_plural = "modelos de mensagem"
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="template_body_not_empty")]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs) -> None:
        self.body = normalize_newlines(self.body)  # the textarea posts CRLF; messages carry LF only
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.title or self.name


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "rascunho"
    SCHEDULED = "scheduled", "agendada"
    RUNNING = "running", "em execução"
    PAUSED = "paused", "pausada"
    COMPLETED = "completed", "concluída"
    CANCELLED = "cancelled", "cancelada"


class Campaign(models.Model):
    """A batch of reminders: audience + template + pace. draft → scheduled → running ⇄ paused →
    completed/cancelled."""

    Status = CampaignStatus
    ACTIVE_STATUSES = (Status.SCHEDULED, Status.RUNNING)

    name = models.CharField("nome", max_length=200)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="campaigns", verbose_name="modelo de mensagem"
    )
    import_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
        verbose_name="importação",
    )
    segment = models.JSONField("segmento", default=dict, blank=True, help_text="Filtros da audiência")
    session_name = models.CharField("sessão WAHA", max_length=100, default="default")
    delay_seconds = models.DecimalField(
        "intervalo (s)", max_digits=8, decimal_places=2, default=Decimal("30")
    )
    jitter_seconds = models.DecimalField(
        "variação (s)", max_digits=8, decimal_places=2, default=Decimal("10")
    )
    send_window = models.CharField("janela de envio", max_length=200, blank=True)
    daily_cap = models.PositiveIntegerField("limite diário", null=True, blank=True)
    starts_at = models.DateTimeField("início", null=True, blank=True)
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    pause_reason = models.CharField("motivo da pausa", max_length=200, blank=True)
    compliance_confirmed = models.BooleanField("conformidade confirmada", default=False)
    total = models.PositiveIntegerField(verbose_name="total de envios", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name="criada por"
    )
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)
    started_at = models.DateTimeField(verbose_name="iniciada em", null=True, blank=True)
    finished_at = models.DateTimeField(verbose_name="encerrada em", null=True, blank=True)
    # Set on the daily campaign a régua feeds (one per régua and day, see billing.regua.planner).
    regua = models.ForeignKey(
        "billing.Regua",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
        verbose_name="régua",
    )
    regua_day = models.DateField("dia da régua", null=True, blank=True)

    class Meta:
        verbose_name = "campanha"
        verbose_name_plural = "campanhas"
        ordering = ["-created_at"]
        # Cancelling skips every pending send for good: an operator's decision, not an integration's
        # (cobranca/roles.py gives it to Operadores only; docs/security.md).
        permissions = [("cancel_campaign", "Pode cancelar uma campanha")]
        constraints = [
            models.UniqueConstraint(
                fields=["regua", "regua_day"],
                condition=Q(regua__isnull=False),
                name="campaign_one_per_regua_day",
            ),
            models.CheckConstraint(condition=Q(delay_seconds__gte=0), name="campaign_delay_not_negative"),
            models.CheckConstraint(condition=Q(jitter_seconds__gte=0), name="campaign_jitter_not_negative"),
            models.CheckConstraint(
                condition=Q(jitter_seconds__lte=models.F("delay_seconds")), name="campaign_jitter_le_delay"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.COMPLETED, self.Status.CANCELLED)


class DispatchStatus(models.TextChoices):
    PENDING = "pending", "pendente"
    SENDING = "sending", "enviando"
    SENT = "sent", "enviada"
    DELIVERED = "delivered", "entregue"
    READ = "read", "lida"
    FAILED = "failed", "falhou"
    SKIPPED = "skipped", "ignorada"
    UNKNOWN = "unknown", "desconhecido"


class Dispatch(models.Model):
    """One message of one campaign to one charge. The unique pair makes a duplicate send impossible."""

    Status = DispatchStatus
    # Order of the delivery states: acks only move a dispatch forward on this scale.
    PROGRESS = {Status.SENT: 1, Status.DELIVERED: 2, Status.READ: 3}
    FINAL_STATUSES = (
        Status.SENT,
        Status.DELIVERED,
        Status.READ,
        Status.FAILED,
        Status.SKIPPED,
        Status.UNKNOWN,
    )

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="dispatches", verbose_name="campanha"
    )
    charge = models.ForeignKey(
        Charge, on_delete=models.CASCADE, related_name="dispatches", verbose_name="cobrança"
    )
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="dispatches", verbose_name="cliente"
    )
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reason = models.CharField("motivo", max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField("tentativas", default=0)
    next_attempt_at = models.DateTimeField(verbose_name="próxima tentativa em", null=True, blank=True)
    waha_message_id = models.CharField("id WAHA", max_length=200, null=True, blank=True, unique=True)
    body = models.TextField("texto enviado", blank=True)
    claimed_at = models.DateTimeField(verbose_name="reservado em", null=True, blank=True)
    sent_at = models.DateTimeField(verbose_name="enviado em", null=True, blank=True)
    delivered_at = models.DateTimeField(verbose_name="entregue em", null=True, blank=True)
    read_at = models.DateTimeField(verbose_name="lido em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name="atualizado em", auto_now=True)

    class Meta:
        verbose_name = "envio"
        verbose_name_plural = "envios"
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["campaign", "status"]),
            # The Painel reads reminders by the period they were sent in (funnel, results, sends per day).
            models.Index(fields=["sent_at", "campaign"], name="dispatch_sent_at_idx"),
            # The driver's claim: the first pending rows of a campaign by id, without walking the sent ones.
            models.Index(
                fields=["campaign", "id"], condition=Q(status="pending"), name="dispatch_pending_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "charge"], name="dispatch_unique_campaign_charge"),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in DispatchStatus]), name="dispatch_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.charge_id} {self.status}"


class PacingState(models.Model):
    """Per WAHA session pacing state shared by all workers (the ORM variant; Redis mirrors it when
    configured)."""

    session_name = models.CharField(verbose_name="sessão", max_length=100, unique=True)
    next_send_at = models.DateTimeField(verbose_name="próximo envio em", null=True, blank=True)
    day = models.DateField(verbose_name="dia", null=True, blank=True)
    sent_today = models.PositiveIntegerField(verbose_name="enviados hoje", default=0)
    last_sent_at = models.DateTimeField(verbose_name="último envio em", null=True, blank=True)

    class Meta:
        verbose_name = "ritmo de envio"
        verbose_name_plural = "ritmos de envio"

    def __str__(self) -> str:
        return self.session_name


# The régua models live in their own module (billing/regua/); importing them here registers them in the app.
