"""Run the régua planner as the daily schedule would at a given moment (docs/regua.md).

    manage.py regua_run --now 2026-12-07T07:00

Plans that day's reminders of every active régua into the dispatch engine (the driver sends them at the
régua's pace inside its window). Running it again plans nothing twice. Prints a JSON summary.
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.regua.run import regua_plan_run


class Command(BaseCommand):
    help = "Executa o planejamento da régua de cobrança como o agendamento diário faria naquele momento."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--now", help="Momento local AAAA-MM-DDTHH:MM (padrão: agora).")
        parser.add_argument("--regua", action="append", default=[], help="Só estas réguas (identificador).")

    def handle(self, *args, **options) -> None:
        now = timezone.now()
        if options["now"]:
            try:
                now = dt.datetime.fromisoformat(options["now"])
            except ValueError:
                raise CommandError(f"--now inválido: {options['now']!r} (use AAAA-MM-DDTHH:MM).") from None
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        summary = regua_plan_run(now=now, regua_slugs=options["regua"] or None)
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
