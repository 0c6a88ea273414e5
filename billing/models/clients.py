"""Debtors (clients) and the suppression list: the numbers that must not be messaged."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.db.models import Q

from cobranca.masking import mask_phone


def search_text(text: str) -> str:
    """`text` folded for a search that ignores accents and case: "Cláudia SIMÕES" → "claudia simoes". The same
    in Python on both sides, so SQLite and PostgreSQL agree (neither folds accents in a LIKE)."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class Client(models.Model):
    """A debtor. Identified by the E.164 phone; the WhatsApp chat id is what WAHA resolved for that phone."""

    name = models.CharField("nome", max_length=200)
    # `search_text(name)`: the Devedores search matches on it (cobranca.dashboard.debtors). Kept in step with
    # `name` by save() and by the importer's writer.
    search_name = models.CharField("nome para busca", max_length=200, blank=True, editable=False)
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
    email = models.EmailField(verbose_name="e-mail", blank=True)
    opted_out_at = models.DateTimeField("descadastrado em", null=True, blank=True)
    wrong_number = models.BooleanField("número errado", default=False)
    forgotten_at = models.DateTimeField("anonimizado em", null=True, blank=True)
    created_at = models.DateTimeField(verbose_name="criado em", auto_now_add=True)
    updated_at = models.DateTimeField(verbose_name="atualizado em", auto_now=True)

    class Meta:
        verbose_name = "cliente"
        verbose_name_plural = "clientes"
        ordering = ["name"]
        # Reads mask phone, chat id, document and e-mail without it (cobranca.masking.sees_full_contact).
        permissions = [("view_full_contact", "Pode ver telefone, documento e e-mail completos")]
        # The Devedores list pages clients by name (cobranca.dashboard.debtors).
        indexes = [models.Index(fields=["name", "id"], name="client_name_idx")]
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
        self.search_name = search_text(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            derived = {"phone": "phone_hash", "name": "search_name"}
            extra = [derived[f] for f in derived if f in update_fields and derived[f] not in update_fields]
            if extra:
                kwargs["update_fields"] = [*update_fields, *extra]
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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="registrado por",
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
