"""The Painel's per-day rollup of the reminders' results (cobranca.dashboard.rollup keeps it)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class OutcomeDay(models.Model):
    """A local day whose reminders are summed up in OutcomeRollup (a day with no reminder has a mark and no
    rows): the Painel reads marked days from the rollup and computes the others from the dispatches."""

    day = models.DateField("dia", unique=True)
    computed_at = models.DateTimeField("calculado em")

    class Meta:
        verbose_name = "dia resumido dos resultados"
        verbose_name_plural = "dias resumidos dos resultados"

    def __str__(self) -> str:
        return self.day.isoformat()


class OutcomeRollup(models.Model):
    """What the reminders of one campaign sent on one local day achieved, as cobranca.dashboard.outcomes
    counts it (same names). Rewritten whole per day, never edited."""

    day = models.DateField("dia")
    campaign = models.ForeignKey("billing.Campaign", on_delete=models.CASCADE, related_name="+")
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    read = models.PositiveIntegerField(default=0)
    replied = models.PositiveIntegerField(default=0)
    paid = models.PositiveIntegerField(default=0)
    paid_7 = models.PositiveIntegerField(default=0)
    paid_30 = models.PositiveIntegerField(default=0)
    promises_kept = models.PositiveIntegerField(default=0)
    promises_broken = models.PositiveIntegerField(default=0)
    agreements = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField(default=0)
    wrong_number = models.PositiveIntegerField(default=0)
    paid_7_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    paid_30_amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = "resultado do dia por campanha"
        verbose_name_plural = "resultados do dia por campanha"
        constraints = [
            models.UniqueConstraint(fields=["day", "campaign"], name="outcome_rollup_day_campaign")
        ]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} campanha {self.campaign_id}"
