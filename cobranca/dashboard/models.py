"""The Painel's per-day rollup of the reminders' results (cobranca.dashboard.rollup keeps it)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutcomeRollup(models.Model):
    """What the reminders of one campaign sent on one local day achieved, as cobranca.dashboard.outcomes
    counts it (same names). A day is rewritten whole, never edited. Each rolled-up day also has one row
    without a campaign (all zeros), also for a day with no reminder: it marks the day as done, so the Painel
    learns which days it may read from here in the same query that sums them."""

    day = models.DateField("dia")
    campaign = models.ForeignKey(
        "billing.Campaign", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
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
    computed_at = models.DateTimeField("calculado em", default=timezone.now)

    class Meta:
        verbose_name = "resultado do dia por campanha"
        verbose_name_plural = "resultados do dia por campanha"
        constraints = [
            models.UniqueConstraint(fields=["day", "campaign"], name="outcome_rollup_day_campaign"),
            models.UniqueConstraint(
                fields=["day"], condition=Q(campaign__isnull=True), name="outcome_rollup_one_mark_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day.isoformat()} campanha {self.campaign_id or '-'}"
