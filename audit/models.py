"""AuditLog: an append-only record of sensitive operations (forget, export, payments, alerts).

`details` must never hold personal data (names, phones, documents, message text): it records *which* fields
changed and ids, not values, so the audit trail itself never needs to be anonymised.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    action = models.CharField("ação", max_length=60, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="autor",
    )
    target_type = models.CharField("tipo do alvo", max_length=60, blank=True)
    target_id = models.CharField("id do alvo", max_length=64, blank=True)
    details = models.JSONField("detalhes", default=dict, blank=True)
    ip = models.GenericIPAddressField(verbose_name="endereço IP", null=True, blank=True)
    created_at = models.DateTimeField("data", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "registro de auditoria"
        verbose_name_plural = "registros de auditoria"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}#{self.target_id}"
