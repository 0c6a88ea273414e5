"""Money that arrived: agreement installments, Pix charges at the PSP (cobv), payments, the PSP's raw
notifications and the operator queue for what cannot be applied on its own.

Every payment goes through `billing.payments.apply.apply_payment` (Pix webhook after confirmation at the PSP,
the periodic catch-up, a bank statement line, a receipt confirmed at the PSP, an operator).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.charges import Agreement, Charge


class Installment(models.Model):
    """One installment of an agreement. An agreement's installments sum exactly to its total."""

    class Status(models.TextChoices):
        OPEN = "open", "em aberto"
        PAID = "paid", "paga"
        CANCELLED = "cancelled", "cancelada"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="schedule", verbose_name="acordo"
    )
    number = models.PositiveSmallIntegerField("parcela nº")
    due_date = models.DateField("vencimento")
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2)
    amount_paid = models.DecimalField("valor pago", max_digits=12, decimal_places=2, default=Decimal("0"))
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    paid_at = models.DateTimeField("paga em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)

    class Meta:
        verbose_name = "parcela"
        verbose_name_plural = "parcelas"
        ordering = ["agreement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="installment_unique_number"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_amount_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="installment_paid_not_negative"),
        ]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return f"{self.agreement_id} parcela {self.number}: {self.amount} em {self.due_date:%d/%m/%Y}"

    @property
    def balance(self) -> Decimal:
        return max(self.amount - self.amount_paid, Decimal("0"))


class PixCobv(models.Model):
    """A Pix charge with a due date (`cobv`) created at the creditor's PSP for a charge or an installment.

    `txid` is deterministic per charge/installment and version (billing.payments.txids); `version_key` tells
    whether the amount or the due date changed since it was created (then it is PATCHed).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "ativa"
        PAID = "paid", "paga"
        REMOVED = "removed", "removida"

    charge = models.ForeignKey(
        Charge, on_delete=models.CASCADE, related_name="pix_cobvs", verbose_name="cobrança"
    )
    installment = models.ForeignKey(
        Installment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="pix_cobvs",
        verbose_name="parcela",
    )
    txid = models.CharField("identificador (txid)", max_length=35, unique=True)
    amount = models.DecimalField("valor original", max_digits=12, decimal_places=2)
    due_date = models.DateField("vencimento")
    version_key = models.CharField("versão", max_length=64)
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    pix_copia_e_cola = models.TextField("código Pix copia e cola", blank=True)
    location = models.CharField("endereço do QR (location)", max_length=255, blank=True)
    psp_response = models.JSONField("resposta do PSP", default=dict, blank=True)
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name="atualizada em", auto_now=True)

    class Meta:
        verbose_name = "cobrança Pix (cobv)"
        verbose_name_plural = "cobranças Pix (cobv)"
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="pixcobv_amount_positive")]

    def __str__(self) -> str:
        return self.txid


class PaymentSource(models.TextChoices):
    PIX_API = "pix_api", "Pix (PSP)"
    STATEMENT = "statement", "extrato bancário"
    RECEIPT = "receipt", "comprovante"
    OPERATOR = "operator", "operador"


class Payment(models.Model):
    """Money that arrived for a charge (and, under an agreement, for one of its installments)."""

    Source = PaymentSource

    charge = models.ForeignKey(
        Charge, on_delete=models.PROTECT, related_name="payments", verbose_name="cobrança"
    )
    installment = models.ForeignKey(
        Installment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name="parcela",
    )
    source = models.CharField("origem", max_length=20, choices=PaymentSource.choices)
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2)
    paid_at = models.DateTimeField("pago em")
    # The Pix end-to-end id (E + ISPB + yyyyMMddHHmm + 11): one Pix settles at most one payment.
    e2eid = models.CharField("id fim a fim (e2eid)", max_length=32, null=True, blank=True, unique=True)
    txid = models.CharField("identificador (txid)", max_length=35, blank=True, db_index=True)
    # A statement line's bank id (FITID) or another source's own reference; unique per source when set.
    reference = models.CharField("referência", max_length=255, blank=True)
    payer_name = models.CharField("pagador", max_length=200, blank=True)
    payer_document = models.CharField("CPF/CNPJ do pagador", max_length=18, blank=True)
    raw = models.JSONField("dados de origem", default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="registrado por",
    )
    # When the debtor was thanked for it (chatbot.payment_thanks): claimed once, so never thanked twice.
    thanked_at = models.DateTimeField(verbose_name="agradecimento enviado em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="registrado em", auto_now_add=True)

    class Meta:
        verbose_name = "pagamento"
        verbose_name_plural = "pagamentos"
        ordering = ["-paid_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.UniqueConstraint(
                fields=["source", "reference"],
                condition=~Q(reference=""),
                name="payment_unique_source_reference",
            ),
        ]
        indexes = [models.Index(fields=["paid_at"])]

    def __str__(self) -> str:
        return f"{self.charge_id}: {self.amount} ({self.get_source_display()})"


class PixNotification(models.Model):
    """One Pix the PSP's webhook told us about, stored raw and never trusted: a worker confirms it with
    `GET /pix/{e2eid}` before anything changes. Deduplicated by e2eid."""

    class Status(models.TextChoices):
        PENDING = "pending", "a confirmar"
        CONFIRMED = "confirmed", "confirmada"
        REJECTED = "rejected", "recusada"
        FAILED = "failed", "falhou"

    e2eid = models.CharField("id fim a fim (e2eid)", max_length=32, unique=True)
    txid = models.CharField("identificador (txid)", max_length=35, blank=True)
    notified_amount = models.CharField("valor notificado", max_length=20, blank=True)
    raw = models.JSONField("notificação", default=dict)
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField("tentativas", default=0)
    last_error = models.CharField("último erro", max_length=255, blank=True)
    # When the sweep (billing.payments.pix_notifications) may hand a PENDING one to a worker again: set at
    # intake a few minutes ahead (the enqueued task should have finished by then), pushed back with backoff
    # after each transient failure at the PSP.
    next_attempt_at = models.DateTimeField("próxima tentativa", null=True, blank=True, db_index=True)
    # "webhook" (the PSP's POST) or "catch_up" (found by GET /pix since the last seen time).
    origin = models.CharField("origem", max_length=20, default="webhook")
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="pagamento"
    )
    received_at = models.DateTimeField(verbose_name="recebida em", auto_now_add=True)
    processed_at = models.DateTimeField(verbose_name="processada em", null=True, blank=True)

    class Meta:
        verbose_name = "notificação Pix"
        verbose_name_plural = "notificações Pix"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return self.e2eid


class PixCatchUp(models.Model):
    """Where the periodic catch-up (`GET /pix?inicio&fim`) stopped: one row per PSP account (Pix key)."""

    key = models.CharField("chave Pix", max_length=100, unique=True)
    last_seen = models.DateTimeField("consultado até")
    last_run_at = models.DateTimeField("última execução", null=True, blank=True)
    last_found = models.PositiveIntegerField("Pix encontrados na última execução", default=0)
    last_error = models.CharField("último erro", max_length=255, blank=True)

    class Meta:
        verbose_name = "conciliação Pix (GET /pix)"
        verbose_name_plural = "conciliações Pix (GET /pix)"

    def __str__(self) -> str:
        return f"{self.key} até {self.last_seen:%d/%m/%Y %H:%M}"


class PaymentIssue(models.Model):
    """The operator queue: money or a claim the system could not apply on its own."""

    class Kind(models.TextChoices):
        OVERPAYMENT = "overpayment", "pagamento acima do valor"
        UNKNOWN_TXID = "unknown_txid", "Pix sem cobrança conhecida"
        AMBIGUOUS = "ambiguous", "extrato: mais de uma cobrança possível"
        UNMATCHED = "unmatched", "extrato: nenhuma cobrança encontrada"
        SUSPECT_RECEIPT = "suspect_receipt", "comprovante suspeito"
        CLAIM_EXPIRED = "claim_expired", "pagamento informado sem confirmação"

    class Status(models.TextChoices):
        OPEN = "open", "em aberto"
        RESOLVED = "resolved", "resolvido"
        DISMISSED = "dismissed", "descartado"

    kind = models.CharField("tipo", max_length=30, choices=Kind.choices)
    status = models.CharField(
        verbose_name="situação", max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    charge = models.ForeignKey(
        Charge,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="payment_issues",
        verbose_name="cobrança",
    )
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="issues",
        verbose_name="pagamento",
    )
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2, null=True, blank=True)
    # Deduplication key (e.g. "overpayment:<payment id>", "statement:<account>:<fitid>"): one issue per fact.
    key = models.CharField("chave", max_length=255, unique=True)
    details = models.JSONField("detalhes", default=dict, blank=True)
    note = models.TextField("observação", blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="resolvido por",
    )
    resolved_at = models.DateTimeField(verbose_name="resolvido em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)

    class Meta:
        verbose_name = "pendência de pagamento"
        verbose_name_plural = "pendências de pagamento"
        ordering = ["-created_at"]
        constraints = [
            # An `inf` or NaN amount (an OFX "1E+400", third outside test) made every page that read the row
            # answer 500: the database refuses anything the field cannot hold (billing 0021).
            models.CheckConstraint(
                condition=Q(amount__isnull=True)
                | Q(amount__gte=Decimal("-9999999999.99"), amount__lte=Decimal("9999999999.99")),
                name="paymentissue_amount_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class StatementImport(models.Model):
    """A statement uploaded on the dashboard, reconciled by a worker (`billing.tasks.statement_import_task`):
    the file is stored first, the page polls `lines_done`/`lines_total` and then shows `summary`."""

    class Status(models.TextChoices):
        PENDING = "pending", "na fila"
        RUNNING = "running", "processando"
        DONE = "done", "concluído"
        FAILED = "failed", "falhou"

    status = models.CharField("situação", max_length=10, choices=Status.choices, default=Status.PENDING)
    path = models.CharField("arquivo guardado", max_length=500)
    filename = models.CharField("arquivo", max_length=255)
    dry_run = models.BooleanField("simulação", default=False)
    lines_total = models.PositiveIntegerField("lançamentos", default=0)
    lines_done = models.PositiveIntegerField("lançamentos conferidos", default=0)
    summary = models.JSONField("resumo", default=dict, blank=True)
    error = models.TextField("erro", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="enviado por",
    )
    created_at = models.DateTimeField("enviado em", auto_now_add=True)
    # Touched after each chunk: a RUNNING import not touched for longer than the broker's retry was lost
    # with its worker, and the redelivered task may take it over.
    updated_at = models.DateTimeField("atualizado em", auto_now=True)

    class Meta:
        verbose_name = "importação de extrato"
        verbose_name_plural = "importações de extrato"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"
