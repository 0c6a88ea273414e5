"""Chatbot: the trained intent models and their metrics."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """One trained intent classifier. Exactly one is active (the one the bot uses)."""

    version = models.CharField(verbose_name="versão", max_length=40, unique=True)
    backend = models.CharField(verbose_name="tecnologia", max_length=20, default="torch")
    path = models.CharField("arquivo", max_length=500)
    metrics = models.JSONField("métricas", default=dict, blank=True)
    is_active = models.BooleanField("ativa", default=False)
    notes = models.TextField("notas", blank=True)
    created_at = models.DateTimeField(verbose_name="criada em", auto_now_add=True)

    class Meta:
        verbose_name = "versão do modelo"
        verbose_name_plural = "versões do modelo"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.backend})"

    @property
    def macro_f1(self) -> float | None:
        return self.metrics.get("macro_f1")
