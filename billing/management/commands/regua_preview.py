"""Print the régua plan of a day as JSON lines, without writing anything (docs/regua.md).

    manage.py regua_preview --date 2026-12-07

One line per planned reminder: {"charge": "<external id>", "client": <id>, "step": <offset days>,
"template": "<name>", "at": "<ISO time>"}, and one per stopped one: {"skipped": "<external id>",
"step": <offset>, "reason": "<code>"} (deferred reminders too: their reason says why and they come back).
"""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.regua.models import Regua
from billing.regua.planner import plan_compute


class Command(BaseCommand):
    help = "Mostra (JSON, uma linha por lembrete) o que a régua de cobrança enviaria no dia, sem gravar nada."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", required=True, help="Dia no formato AAAA-MM-DD.")
        parser.add_argument(
            "--regua",
            action="append",
            default=[],
            help="Só estas réguas (identificador; pode repetir). Padrão: as ativas e as desligadas.",
        )

    def handle(self, *args, **options) -> None:
        try:
            day = dt.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(f"--date inválida: {options['date']!r} (use AAAA-MM-DD).") from None
        # A preview answers "what would go out": réguas still off are shown as if on; paused ones are not.
        reguas = Regua.objects.exclude(status=Regua.Status.PAUSED)
        if options["regua"]:
            reguas = Regua.objects.filter(slug__in=options["regua"])
            missing = set(options["regua"]) - set(reguas.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"Régua não encontrada: {', '.join(sorted(missing))}.")
        now = timezone.now()
        start = timezone.make_aware(dt.datetime.combine(day, dt.time(0, 0)))
        plan = plan_compute(
            day=day, now=max(now, start) if day == timezone.localdate() else start, reguas=list(reguas)
        )
        for cand in plan.candidates:
            if cand.status == "planned":
                line = {
                    "charge": cand.charge_external_id,
                    "client": cand.client_id,
                    "step": cand.step.offset,
                    "template": cand.step.template_name,
                    "at": cand.at.isoformat() if cand.at else None,
                }
            else:
                line = {"skipped": cand.charge_external_id, "step": cand.step.offset, "reason": cand.reason}
            self.stdout.write(json.dumps(line, ensure_ascii=False))
