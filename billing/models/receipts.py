"""What was read from a Pix receipt a debtor sent, the checks against the charge, and what came of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.charges import Charge
from billing.models.payments import Installment, Payment


class ReceiptCheck(models.Model):
    """One receipt (a picture or PDF the debtor sent after "já paguei"), read by a worker
    (`billing.receipts.services.receipt_check_run`) and shown in the inbox beside the file.

    pending → reading → one of: `review` (an operator confirms or rejects), `suspect` (a check failed or the
    PSP does not know the Pix: an operator looks, a PaymentIssue is open), `paid` (the PSP confirmed the Pix
    and it was applied), `refused` (not a readable picture/PDF), `failed`. An operator's decision:
    `confirmed` or `rejected`. `settled`: still undecided when the operator confirmed the charge's payment
    (it was paid in full that way), closed by that confirmation and never applied."""

    class Status(models.TextChoices):
        PENDING = "pending", "na fila"
        READING = "reading", "lendo"
        REVIEW = "review", "a conferir"
        SUSPECT = "suspect", "suspeito"
        PAID = "paid", "pago (confirmado no PSP)"
        CONFIRMED = "confirmed", "confirmado pelo operador"
        REJECTED = "rejected", "rejeitado pelo operador"
        REFUSED = "refused", "arquivo recusado"
        FAILED = "failed", "falhou"
        SETTLED = "settled", "encerrado: cobrança paga"

    DECIDABLE = (Status.REVIEW, Status.SUSPECT)

    attachment = models.OneToOneField(
        "conversations.Attachment",
        on_delete=models.CASCADE,
        related_name="receipt_check",
        verbose_name="anexo",
    )
    charge = models.ForeignKey(
        Charge,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="receipt_checks",
        verbose_name="cobrança",
    )
    installment = models.ForeignKey(
        Installment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="parcela",
    )
    status = models.CharField(
        verbose_name="situação", max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    amount = models.DecimalField("valor lido", max_digits=12, decimal_places=2, null=True, blank=True)
    paid_at = models.DateTimeField("data lida", null=True, blank=True)
    e2eid = models.CharField("id fim a fim lido", max_length=32, blank=True, db_index=True)
    recipient_name = models.CharField("recebedor lido", max_length=200, blank=True)
    recipient_document = models.CharField("CPF/CNPJ ou chave do recebedor", max_length=120, blank=True)
    payer_name = models.CharField("pagador lido", max_length=200, blank=True)
    bank = models.CharField("banco lido", max_length=120, blank=True)
    confidence = models.JSONField("confiança por campo", default=dict, blank=True)
    # [{"code": "amount", "ok": true/false/null, "message": "..."}]: null when it could not be checked.
    checks = models.JSONField("verificações", default=list, blank=True)
    psp_status = models.CharField("consulta ao PSP", max_length=20, blank=True)
    error = models.CharField("erro", max_length=255, blank=True)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="pagamento"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="decidido por",
    )
    decided_at = models.DateTimeField("decidido em", null=True, blank=True)
    read_at = models.DateTimeField("lido em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)

    class Meta:
        verbose_name = "comprovante lido"
        verbose_name_plural = "comprovantes lidos"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending", "reading", "review", "suspect", "paid", "confirmed", "rejected", "refused",
                        "failed", "settled",
                    ]
                ),
                name="receiptcheck_status_valid",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"comprovante {self.pk} ({self.get_status_display()})"

    @property
    def failed_checks(self) -> list[dict]:
        return [check for check in self.checks if check.get("ok") is False]

    @property
    def decidable(self) -> bool:
        return self.status in self.DECIDABLE
