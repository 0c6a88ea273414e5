"""Create or update every django-q2 schedule of the project by name (idempotent; run after migrate).

django-q2's `schedule()` raises when the name exists, so this upserts the rows itself. One table for the whole
project so that a deployment has a single step for it (Makefile, Procfile release, compose "migrate").
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

# name → (function, minutes between runs). The scheduler itself only looks every ~30 s, so a minute is the
# useful floor; the dispatch drivers re-enqueue themselves for latency, their tick is only a safety net.
SCHEDULES: dict[str, tuple[str, int]] = {
    "dispatch-tick": ("billing.tasks.dispatch_tick", 1),
    "dispatch-recover-stale": ("billing.tasks.dispatch_recover_stale_task", 5),
    "chatbot-follow-ups": ("chatbot.tasks.send_due_follow_ups", 5),
    "alerts": ("cobranca.alerts.alerts_run", 1),
    "retention": ("cobranca.retention.prune_old_data", 24 * 60),
}
# name → (function, setting with the local HH:MM it runs at every day).
DAILY_SCHEDULES: dict[str, tuple[str, str]] = {
    "regua-plan": ("billing.tasks.regua_plan_task", "REGUA_PLAN_AT"),
}


def next_daily_run(at: str, now=None):
    """The next local `HH:MM` from now (today when still ahead, else tomorrow), timezone-aware."""
    import datetime as dt

    now = timezone.localtime(now or timezone.now())
    hour, minute = (int(part) for part in at.split(":"))
    run = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run > now else run + dt.timedelta(days=1)


class Command(BaseCommand):
    help = "Cria ou atualiza as tarefas agendadas (django-q2) pelo nome."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            for name, (func, minutes) in SCHEDULES.items():
                row, created = Schedule.objects.update_or_create(
                    name=name,
                    defaults={
                        "func": func,
                        "schedule_type": Schedule.MINUTES,
                        "minutes": minutes,
                        "repeats": -1,
                    },
                )
                if created or row.next_run is None:
                    Schedule.objects.filter(pk=row.pk).update(next_run=timezone.now())
                self.stdout.write(
                    f"{'criada' if created else 'atualizada'}: {name} → {func} a cada {minutes} min"
                )
            for name, (func, setting) in DAILY_SCHEDULES.items():
                at = getattr(settings, setting)
                row, created = Schedule.objects.update_or_create(
                    name=name,
                    defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1},
                )
                # Re-anchor the time of day when the setting changed (or on the first run).
                next_run = row.next_run and timezone.localtime(row.next_run)
                if created or next_run is None or next_run.strftime("%H:%M") != at:
                    Schedule.objects.filter(pk=row.pk).update(next_run=next_daily_run(at))
                self.stdout.write(
                    f"{'criada' if created else 'atualizada'}: {name} → {func} todo dia às {at}"
                )
