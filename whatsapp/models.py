"""WhatsApp through WAHA: the numbers (sessions) and every webhook body received."""

from __future__ import annotations

from django.db import models


class WahaSession(models.Model):
    """One WhatsApp number served by WAHA. `name` is WAHA's session name."""

    class Status(models.TextChoices):
        STOPPED = "STOPPED", "parada"
        STARTING = "STARTING", "iniciando"
        SCAN_QR_CODE = "SCAN_QR_CODE", "aguardando QR code"
        PASSKEY_REQUIRED = "PASSKEY_REQUIRED", "passkey necessária"
        PASSKEY_CONFIRMATION_REQUIRED = "PASSKEY_CONFIRMATION_REQUIRED", "confirmar passkey"
        WORKING = "WORKING", "conectada"
        FAILED = "FAILED", "falhou"

    name = models.CharField("nome", max_length=100, unique=True)
    status = models.CharField(
        verbose_name="situação", max_length=40, choices=Status.choices, default=Status.STOPPED
    )
    me_id = models.CharField("número conectado", max_length=64, blank=True)
    me_push_name = models.CharField("nome no WhatsApp", max_length=200, blank=True)
    daily_cap = models.PositiveIntegerField("limite diário", null=True, blank=True)
    reachout_locked_until = models.DateTimeField("bloqueio de novos contatos até", null=True, blank=True)
    status_changed_at = models.DateTimeField(verbose_name="situação alterada em", null=True, blank=True)
    updated_at = models.DateTimeField(verbose_name="atualizada em", auto_now=True)

    class Meta:
        verbose_name = "sessão WAHA"
        verbose_name_plural = "sessões WAHA"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_working(self) -> bool:
        return self.status == self.Status.WORKING


class WebhookEvent(models.Model):
    """Every accepted webhook body, raw, so processing can be replayed. `event_id` is WAHA's envelope id."""

    class State(models.TextChoices):
        PENDING = "pending", "pendente"
        PROCESSED = "processed", "processado"
        DUPLICATE = "duplicate", "duplicado"
        IGNORED = "ignored", "ignorado"
        FAILED = "failed", "falhou"

    event_id = models.CharField("id do evento", max_length=100, unique=True)
    event = models.CharField("evento", max_length=60, db_index=True)
    session_name = models.CharField("sessão", max_length=100, blank=True)
    payload_id = models.CharField("id da mensagem", max_length=200, blank=True, db_index=True)
    payload = models.JSONField("corpo")
    # The body exactly as WAHA signed it; `payload` is its parsed and sanitised form (NUL stripped, lone
    # surrogates replaced). Emptied with the payload by retention and by forget_client.
    raw_body = models.BinaryField("corpo bruto", null=True, blank=True, editable=False)
    state = models.CharField(
        verbose_name="estado", max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    error = models.TextField("erro", blank=True)
    attempts = models.PositiveSmallIntegerField(verbose_name="tentativas", default=0)
    received_at = models.DateTimeField(verbose_name="recebido em", auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(verbose_name="processado em", null=True, blank=True)

    class Meta:
        verbose_name = "evento de webhook"
        verbose_name_plural = "eventos de webhook"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"
