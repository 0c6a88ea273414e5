"""Create or update every django-q2 schedule of the project by name (idempotent; `migrate` does the same).

The tables of schedules are `cobranca.provisioning.SCHEDULES` and `DAILY_SCHEDULES`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cobranca.provisioning import DAILY_SCHEDULES, SCHEDULES, next_daily_run, schedules_sync

__all__ = ["DAILY_SCHEDULES", "SCHEDULES", "Command", "next_daily_run"]


class Command(BaseCommand):
    help = "Cria ou atualiza as tarefas agendadas (django-q2) pelo nome (o migrate já faz)."

    def handle(self, *args, **options) -> None:
        for name, created, when in schedules_sync():
            func = {**SCHEDULES, **DAILY_SCHEDULES}[name][0]
            self.stdout.write(f"{'criada' if created else 'atualizada'}: {name} → {func} {when}")
