"""Billing domain: debtors (clients), what they owe (charges), message templates, campaigns and dispatches."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cobranca.masking import mask_phone


class Client(models.Model):
    """A debtor. Identified by the E.164 phone; the WhatsApp chat id is what WAHA resolved for that phone."""

    name = models.CharField("nome", max_length=200)
    phone = models.CharField("telefone", max_length=20, unique=True, help_text="E.164, ex.: +5511987654321")
    chat_id = models.CharField("chat id WhatsApp", max_length=64, blank=True, db_index=True)
    lid = models.CharField("LID WhatsApp", max_length=64, blank=True, db_index=True)
    # HMAC of the phone (see billing/suppression.py): lets SQL match clients against the suppression list,
    # which holds only such hashes. Kept in step with `phone` by save() and by the importer's writer.
    phone_hash = models.CharField(
        "hash do telefone", max_length=64, blank=True, db_index=True, editable=False
    )
    whatsapp_checked_at = models.DateTimeField("WhatsApp verificado em", null=True, blank=True)
    not_on_whatsapp = models.BooleanField("sem WhatsApp", default=False)
    document = models.CharField("CPF/CNPJ", max_length=18, blank=True, db_index=True)
    external_id = models.CharField("id externo", max_length=100, null=True, blank=True, unique=True)
    email = models.EmailField(blank=True)
    opted_out_at = models.DateTimeField("descadastrado em", null=True, blank=True)
    wrong_number = models.BooleanField("número errado", default=False)
    forgotten_at = models.DateTimeField("anonimizado em", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cliente"
        verbose_name_plural = "clientes"
        ordering = ["name"]
        # Reads mask phone, chat id, document and e-mail without it (cobranca.masking.sees_full_contact).
        permissions = [("view_full_contact", "Pode ver telefone, documento e e-mail completos")]
        constraints = [
            models.CheckConstraint(condition=~Q(phone=""), name="client_phone_not_empty"),
            models.CheckConstraint(condition=~Q(name=""), name="client_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_phone})"

    def save(self, *args, **kwargs) -> None:
        # Imported here: billing.suppression imports this module.
        from billing.suppression import phone_hash

        self.phone_hash = phone_hash(self.phone)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "phone" in update_fields and "phone_hash" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "phone_hash"]
        super().save(*args, **kwargs)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    @property
    def is_suppressed(self) -> bool:
        """A suppressed client gets no messages (billing.suppression holds the rule)."""
        # Imported here: billing.suppression imports this module.
        from billing.suppression import client_suppression_reason

        return bool(client_suppression_reason(self))


class SuppressionReason(models.TextChoices):
    OPT_OUT = "opt_out", "pediu para não receber mensagens"
    FORGOTTEN = "forgotten", "titular anonimizado (LGPD)"


class SuppressedPhone(models.Model):
    """A number that must not be messaged: the keyed hash (HMAC-SHA256, SUPPRESSION_HASH_KEY) of one form of
    it. Every form the app treats as the same number (with and without the mobile 9th digit) has its own row,
    all sharing `number_hash` (the hash of the canonical form), so a lift removes them together.

    Outlives the client row on purpose: forgetting erases the phone from `Client`, and only this list
    remembers that the number asked never to be contacted again. It holds no phone, name or id that
    identifies the person. Written and read only through billing/suppression.py.
    """

    Reason = SuppressionReason

    phone_hash = models.CharField("hash", max_length=64, unique=True)
    number_hash = models.CharField("hash do número canônico", max_length=64, db_index=True)
    reason = models.CharField("motivo", max_length=20, choices=Reason.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("incluído em", auto_now_add=True)

    class Meta:
        verbose_name = "número suprimido"
        verbose_name_plural = "números suprimidos"
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("lift_suppressedphone", "Pode reativar um número suprimido (com novo consentimento do titular)")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=[c.value for c in SuppressionReason]), name="suppression_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number_hash[:12]}… ({self.get_reason_display()})"


class SuppressionLift(models.Model):
    """The record that lets a suppressed number be messaged again: the debtor's new consent (when, how,
    why) and the operator who recorded it. Kept forever, like the audit log it is mirrored to."""

    number_hash = models.CharField("hash do número canônico", max_length=64, db_index=True)
    previous_reason = models.CharField(
        "motivo da supressão", max_length=20, choices=SuppressionReason.choices
    )
    consent_at = models.DateTimeField("consentimento dado em")
    consent_channel = models.CharField("canal do consentimento", max_length=100)
    justification = models.TextField("motivo")
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="reativado por"
    )
    created_at = models.DateTimeField("reativado em", auto_now_add=True)

    class Meta:
        verbose_name = "reativação de número suprimido"
        verbose_name_plural = "reativações de números suprimidos"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(justification=""), name="suppression_lift_justified"),
            models.CheckConstraint(condition=~Q(consent_channel=""), name="suppression_lift_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.number_hash[:12]}… em {self.created_at:%d/%m/%Y}"


class ChargeStatus(models.TextChoices):
    OPEN = "open", "em aberto"
    PROMISED = "promised", "promessa de pagamento"
    NEGOTIATING = "negotiating", "em negociação"
    PAYMENT_CLAIMED = "payment_claimed", "pagamento informado"
    DISPUTED = "disputed", "contestada"
    PAID = "paid", "paga"
    CANCELLED = "cancelled", "cancelada"


class ImportBatch(models.Model):
    """One import of a file: the audience of a campaign can be 'everything from this import'."""

    filename = models.CharField("arquivo", max_length=255)
    file_format = models.CharField("formato", max_length=10)
    total_rows = models.PositiveIntegerField(default=0)
    imported_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    created_clients = models.PositiveIntegerField(default=0)
    created_charges = models.PositiveIntegerField(default=0)
    updated_charges = models.PositiveIntegerField(default=0)
    report = models.JSONField("relatório", default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    regua = models.ForeignKey(
        "billing.Regua",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_batches",
        verbose_name="régua",
        help_text="Régua que as cobranças desta importação seguem (vazio: a régua padrão).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "importação"
        verbose_name_plural = "importações"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.filename}"


class Charge(models.Model):
    """What a client owes. Status moves open → promised/negotiating/payment_claimed/disputed →
    paid/cancelled."""

    Status = ChargeStatus
    # Charges in these states must not receive reminders.
    NO_REMINDER_STATUSES = (Status.PAID, Status.CANCELLED, Status.DISPUTED, Status.PAYMENT_CLAIMED)
    OPEN_STATUSES = (
        Status.OPEN,
        Status.PROMISED,
        Status.NEGOTIATING,
        Status.PAYMENT_CLAIMED,
        Status.DISPUTED,
    )

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="charges", verbose_name="cliente"
    )
    external_id = models.CharField("id externo", max_length=100, null=True, blank=True, unique=True)
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2)
    due_date = models.DateField("vencimento")
    description = models.CharField("descrição", max_length=500, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges"
    )
    paid_at = models.DateTimeField("paga em", null=True, blank=True)
    # The régua this charge follows; null = its import's régua, else the default one (billing.regua.planner).
    regua = models.ForeignKey(
        "billing.Regua",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="charges",
        verbose_name="régua",
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "cobrança"
        verbose_name_plural = "cobranças"
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["status", "due_date"]), models.Index(fields=["due_date"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=Decimal("0")), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=[c.value for c in ChargeStatus]), name="charge_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id or self.pk} · {self.amount} · {self.due_date:%d/%m/%Y}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def accepts_reminders(self) -> bool:
        return self.status not in self.NO_REMINDER_STATUSES

    def days_overdue(self, today=None) -> int:
        today = today or timezone.localdate()
        return max((today - self.due_date).days, 0)


class MessageTemplate(models.Model):
    """A reminder text with {variables}; `name` is the API's template_name."""

    name = models.SlugField("nome", max_length=100, unique=True)
    title = models.CharField("título", max_length=200, blank=True)
    body = models.TextField("texto")
    is_active = models.BooleanField("ativo", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "modelo de mensagem"
        verbose_name_plural = "modelos de mensagem"
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="template_body_not_empty")]

    def __str__(self) -> str:
        return self.name


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
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="campaigns")
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    pause_reason = models.CharField("motivo da pausa", max_length=200, blank=True)
    compliance_confirmed = models.BooleanField("conformidade confirmada", default=False)
    total = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
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

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="dispatches")
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="dispatches")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="dispatches")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    reason = models.CharField("motivo", max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField("tentativas", default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    waha_message_id = models.CharField("id WAHA", max_length=200, null=True, blank=True, unique=True)
    body = models.TextField("texto enviado", blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "envio"
        verbose_name_plural = "envios"
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["campaign", "status"]),
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


class PromiseToPay(models.Model):
    """A debtor's promise, understood by the bot or registered by an operator."""

    class Status(models.TextChoices):
        PENDING = "pending", "pendente"
        KEPT = "kept", "cumprida"
        BROKEN = "broken", "quebrada"
        CANCELLED = "cancelled", "cancelada"

    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="promises")
    promised_date = models.DateField("data prometida")
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    follow_up_at = models.DateTimeField("lembrete em", null=True, blank=True)
    follow_up_sent_at = models.DateTimeField(null=True, blank=True)
    source_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "promessa de pagamento"
        verbose_name_plural = "promessas de pagamento"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.charge_id} até {self.promised_date:%d/%m/%Y}"


class Agreement(models.Model):
    """An installment plan or a discounted single payment the debtor accepted."""

    class Status(models.TextChoices):
        ACTIVE = "active", "ativo"
        KEPT = "kept", "cumprido"
        BROKEN = "broken", "quebrado"
        CANCELLED = "cancelled", "cancelado"

    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="agreements")
    installments = models.PositiveSmallIntegerField("parcelas")
    installment_amount = models.DecimalField("valor da parcela", max_digits=12, decimal_places=2)
    total_amount = models.DecimalField("valor total", max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField("desconto %", max_digits=5, decimal_places=2, default=Decimal("0"))
    first_due_date = models.DateField("primeiro vencimento")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "acordo"
        verbose_name_plural = "acordos"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(installments__gte=1), name="agreement_installments_positive"),
            models.CheckConstraint(
                condition=Q(installment_amount__gt=0), name="agreement_installment_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charge_id}: {self.installments}x {self.installment_amount}"


class NegotiationPolicy(models.Model):
    """Limits an operator sets for what the bot may offer. The newest row is in force."""

    max_installments = models.PositiveSmallIntegerField("máximo de parcelas", default=6)
    min_installment_amount = models.DecimalField(
        "parcela mínima", max_digits=12, decimal_places=2, default=Decimal("50.00")
    )
    max_discount_percent = models.DecimalField(
        "desconto máximo à vista (%)", max_digits=5, decimal_places=2, default=Decimal("10.00")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "política de negociação"
        verbose_name_plural = "políticas de negociação"
        constraints = [
            models.CheckConstraint(condition=Q(max_installments__gte=1), name="policy_installments_positive"),
            models.CheckConstraint(
                condition=Q(max_discount_percent__gte=0) & Q(max_discount_percent__lte=100),
                name="policy_discount_range",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"até {self.max_installments}x, mínimo {self.min_installment_amount}, "
            f"{self.max_discount_percent}%"
        )


class PacingState(models.Model):
    """Per WAHA session pacing state shared by all workers (the ORM variant; Redis mirrors it when
    configured)."""

    session_name = models.CharField(max_length=100, unique=True)
    next_send_at = models.DateTimeField(null=True, blank=True)
    day = models.DateField(null=True, blank=True)
    sent_today = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "ritmo de envio"
        verbose_name_plural = "ritmos de envio"

    def __str__(self) -> str:
        return self.session_name


# The régua models live in their own module (billing/regua/); importing them here registers them in the app.
from billing.regua.models import Regua, ReguaEntry, ReguaStep  # noqa: E402, F401
