"""Build or rebuild the Painel's per-day rollup of the reminders' results (cobranca.dashboard.rollup)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Min
from django.utils import timezone

from billing.models import Dispatch
from cobranca.dashboard.models import OutcomeRollup
from cobranca.dashboard.rollup import REFRESH_DAYS, outcomes_rollup_day


class Command(BaseCommand):
    help = (
        "Recalcula o resumo diário dos resultados dos lembretes do Painel: os últimos N dias "
        f"(padrão {REFRESH_DAYS}, o que o agendamento faz) ou, com --all, desde o primeiro envio."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=REFRESH_DAYS)
        parser.add_argument(
            "--all", action="store_true", help="apaga o resumo e o refaz desde o primeiro envio"
        )

    def handle(self, *args, days: int, all: bool, **options):
        today = timezone.localdate()
        if all:
            OutcomeRollup.objects.all().delete()
            first = Dispatch.objects.filter(sent_at__isnull=False).aggregate(first=Min("sent_at"))["first"]
            days = (today - timezone.localtime(first).date()).days if first else 0
        elif days < 1:
            raise CommandError("--days precisa ser 1 ou mais.")
        rows = 0
        for back in range(days, 0, -1):
            rows += outcomes_rollup_day(day=today - dt.timedelta(days=back))
        self.stdout.write(f"{days} dias recalculados ({rows} linhas por campanha).")
