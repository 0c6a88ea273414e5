"""What debtors owe: import batches, charges, promises to pay, agreements and the negotiation limits."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models.clients import Client


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
    total_rows = models.PositiveIntegerField(verbose_name="total de linhas", default=0)
    imported_rows = models.PositiveIntegerField(verbose_name="linhas importadas", default=0)
    rejected_rows = models.PositiveIntegerField(verbose_name="linhas rejeitadas", default=0)
    created_clients = models.PositiveIntegerField(verbose_name="clientes criados", default=0)
    created_charges = models.PositiveIntegerField(verbose_name="cobranças criadas", default=0)
    updated_charges = models.PositiveIntegerField(verbose_name="cobranças atualizadas", default=0)
    report = models.JSONField("relatório", default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name="importado por",
    )
    regua = models.ForeignKey(
        "billing.Regua",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_batches",
        verbose_name="régua",
        help_text="Régua que as cobranças desta importação seguem (vazio: a régua padrão).",
    )
    created_at = models.DateTimeField(verbose_name="importado em", auto_now_add=True)

    class Meta:
        verbose_name = "importação"
        verbose_name_plural = "importações"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.filename}"


class ImportColumnMapping(models.Model):
    """What the operator said the unknown columns of a spreadsheet mean, remembered per set of headers: the
    next file with the same headers (compared normalised, in any order) gets the same mapping pre-selected
    and applied in its dry run (billing.importing.columns)."""

    header_key = models.CharField("chave do cabeçalho", max_length=64, unique=True)
    headers = models.JSONField("cabeçalho", default=list, help_text="Os nomes de coluna normalizados.")
    mapping = models.JSONField(
        "mapeamento", default=dict, help_text="Coluna normalizada → campo (vazio: coluna ignorada)."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="alterado por",
    )
    updated_at = models.DateTimeField(verbose_name="alterado em", auto_now=True)

    class Meta:
        verbose_name = "mapeamento de colunas"
        verbose_name_plural = "mapeamentos de colunas"
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return ", ".join(f"{column} → {field or '(ignorada)'}" for column, field in self.mapping.items())


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
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    import_batch = models.ForeignKey(
        ImportBatch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="charges",
        verbose_name="importação",
    )
    paid_at = models.DateTimeField("paga em", null=True, blank=True)
    # Sum of the payments received (billing.payments.apply): a partial payment leaves `balance` open.
    amount_paid = models.DecimalField("valor recebido", max_digits=12, decimal_places=2, default=Decimal("0"))
    # The régua this charge follows; null = its import's régua, else the default one (billing.regua.planner).
    regua = models.ForeignKey(
        "billing.Regua",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="charges",
        verbose_name="régua",
    )
    status_changed_at = models.DateTimeField(verbose_name="situação alterada em", default=timezone.now)
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name="atualizada em", auto_now=True)

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
    def title(self) -> str:
        """What an operator or a debtor reads for this charge: its description, else a readable default (never
        the generated `auto-…` import id)."""
        if self.description.strip():
            return self.description.strip()
        return f"Cobrança com vencimento em {self.due_date:%d/%m/%Y}" if self.due_date else "Cobrança"

    @property
    def balance(self) -> Decimal:
        """What is still owed after the payments received."""
        return max(Decimal(self.amount) - Decimal(self.amount_paid or 0), Decimal("0"))

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def accepts_reminders(self) -> bool:
        return self.status not in self.NO_REMINDER_STATUSES

    def days_overdue(self, today=None) -> int:
        today = today or timezone.localdate()
        return max((today - self.due_date).days, 0)


class ChargeStatusChange(models.Model):
    """One change of a charge's status, written by `billing.services.charge_set_status` (the one place status
    changes go through), so the debtor page can show a charge's history. Append-only."""

    charge = models.ForeignKey(
        Charge, on_delete=models.CASCADE, related_name="status_changes", verbose_name="cobrança"
    )
    from_status = models.CharField("de", max_length=20, choices=ChargeStatus.choices)
    to_status = models.CharField("para", max_length=20, choices=ChargeStatus.choices)
    reason = models.CharField("motivo", max_length=200, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="alterada por",
    )
    created_at = models.DateTimeField("alterada em", default=timezone.now)

    class Meta:
        verbose_name = "mudança de situação"
        verbose_name_plural = "mudanças de situação"
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["charge", "created_at"])]

    def __str__(self) -> str:
        return f"{self.charge_id}: {self.from_status} → {self.to_status}"


class PromiseToPay(models.Model):
    """A debtor's promise, understood by the bot or registered by an operator."""

    class Status(models.TextChoices):
        PENDING = "pending", "pendente"
        KEPT = "kept", "cumprida"
        BROKEN = "broken", "quebrada"
        CANCELLED = "cancelled", "cancelada"

    charge = models.ForeignKey(
        Charge, on_delete=models.CASCADE, related_name="promises", verbose_name="cobrança"
    )
    promised_date = models.DateField("data prometida")
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.PENDING
    )
    follow_up_at = models.DateTimeField("lembrete em", null=True, blank=True)
    follow_up_sent_at = models.DateTimeField(verbose_name="lembrete enviado em", null=True, blank=True)
    source_message_id = models.BigIntegerField(verbose_name="mensagem de origem", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="registrada em", auto_now_add=True)

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

    charge = models.ForeignKey(
        Charge, on_delete=models.CASCADE, related_name="agreements", verbose_name="cobrança"
    )
    installments = models.PositiveSmallIntegerField("parcelas")
    installment_amount = models.DecimalField("valor da parcela", max_digits=12, decimal_places=2)
    total_amount = models.DecimalField("valor total", max_digits=12, decimal_places=2)
    discount_percent = models.DecimalField("desconto %", max_digits=5, decimal_places=2, default=Decimal("0"))
    first_due_date = models.DateField("primeiro vencimento")
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)

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
    updated_at = models.DateTimeField(verbose_name="atualizada em", auto_now=True)

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
