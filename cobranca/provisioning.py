"""What a working instance needs besides its tables, created by every `migrate` (post_migrate hook).

The database cache table (when the cache is the database), the role groups with their permissions and the
django-q2 schedules. Each step is idempotent, so `migrate` alone makes a fresh deploy work and repairs an old
one; `create_groups` and `setup_schedules` run the same steps by hand.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone
from django_q.models import Schedule

from cobranca.roles import GROUP_PERMISSIONS

# name → (function, minutes between runs). The scheduler itself only looks every ~30 s, so a minute is the
# useful floor; the dispatch drivers re-enqueue themselves for latency, their tick is only a safety net.
SCHEDULES: dict[str, tuple[str, int]] = {
    "dispatch-tick": ("billing.tasks.dispatch_tick", 1),
    "dispatch-recover-stale": ("billing.tasks.dispatch_recover_stale_task", 5),
    "chatbot-follow-ups": ("chatbot.tasks.send_due_follow_ups", 5),
    "payments-lifecycle": ("billing.tasks.payments_lifecycle_task", 60),
    "payment-thanks": ("chatbot.tasks.send_due_payment_thanks", 5),
    "alerts": ("cobranca.alerts.alerts_run", 1),
    "retention": ("cobranca.retention.prune_old_data", 24 * 60),
    # The Painel reads past days' results from a rollup (cobranca.dashboard.rollup): its figures for them
    # lag the data by at most this much.
    "painel-outcomes-rollup": ("cobranca.dashboard.tasks.outcomes_rollup_task", 15),
    # The régua page's forecast (cobranca.dashboard.regua_forecast.REFRESH_MINUTES), only while in use.
    "painel-regua-forecast": ("cobranca.dashboard.tasks.regua_forecast_task", 2),
    # PSP payment notifications: re-hand stale or backed-off ones to a worker; list what webhooks missed.
    "pix-sweep": ("billing.tasks.pix_sweep_task", 1),
    "pix-catch-up": ("billing.tasks.pix_catch_up_task", settings.PIX_CATCH_UP_MINUTES),
}
# name → (function, setting with the local HH:MM it runs at every day).
DAILY_SCHEDULES: dict[str, tuple[str, str]] = {
    "regua-plan": ("billing.tasks.regua_plan_task", "REGUA_PLAN_AT"),
}


class MissingPermission(LookupError):
    """A permission named in cobranca.roles does not exist (a renamed model, or migrate has not run)."""


def cache_table_create(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the database cache table when the cache is the database (a no-op for Redis, or if it exists)."""
    call_command("createcachetable", database=using, verbosity=0)


def groups_sync(using: str = DEFAULT_DB_ALIAS) -> list[tuple[str, bool, int]]:
    """Create or update each role group with exactly its permissions: [(name, created, permissions)]."""
    done = []
    for group_name, perms in GROUP_PERMISSIONS.items():
        group, created = Group.objects.using(using).get_or_create(name=group_name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            try:
                wanted.append(
                    Permission.objects.using(using).get(content_type__app_label=app_label, codename=codename)
                )
            except Permission.DoesNotExist:
                raise MissingPermission(dotted) from None
        group.permissions.set(wanted)
        done.append((group_name, created, len(wanted)))
    return done


def next_daily_run(at: str, now=None):
    """The next local `HH:MM` from now (today when still ahead, else tomorrow), timezone-aware."""
    now = timezone.localtime(now or timezone.now())
    hour, minute = (int(part) for part in at.split(":"))
    run = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run > now else run + dt.timedelta(days=1)


def schedules_sync(using: str = DEFAULT_DB_ALIAS) -> list[tuple[str, bool, str]]:
    """Create or update every schedule by name (django-q2's `schedule()` raises on an existing name, so the
    rows are upserted here): [(name, created, when)]."""
    done = []
    schedules = Schedule.objects.using(using)
    with transaction.atomic(using=using):
        for name, (func, minutes) in SCHEDULES.items():
            row, created = schedules.update_or_create(
                name=name,
                defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
            )
            if created or row.next_run is None:
                schedules.filter(pk=row.pk).update(next_run=timezone.now())
            done.append((name, created, f"a cada {minutes} min"))
        for name, (func, setting) in DAILY_SCHEDULES.items():
            at = getattr(settings, setting)
            row, created = schedules.update_or_create(
                name=name, defaults={"func": func, "schedule_type": Schedule.DAILY, "repeats": -1}
            )
            # Re-anchor the time of day when the setting changed (or on the first run).
            next_run = row.next_run and timezone.localtime(row.next_run)
            if created or next_run is None or next_run.strftime("%H:%M") != at:
                schedules.filter(pk=row.pk).update(next_run=next_daily_run(at))
            done.append((name, created, f"todo dia às {at}"))
    return done


def _last_app_with_models() -> str:
    return [config.label for config in global_apps.get_app_configs() if config.models_module is not None][-1]


def provision_after_migrate(sender, *, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver. Django sends post_migrate once per app, and auth creates each app's permissions
    on that app's signal: acting on the last app's signal finds every permission the groups need."""
    if sender.label != _last_app_with_models():
        return
    tables = set(connections[using].introspection.table_names())
    cache_table_create(using)
    if {Group._meta.db_table, Permission._meta.db_table} <= tables:
        groups_sync(using)
    # Tests flush their database after every transactional test (which sends post_migrate again); the
    # periodic jobs must not start running inside their real qcluster processes. Tests that need the
    # schedules call `setup_schedules`; tests/migrate_alone proves a real migrate creates them.
    if Schedule._meta.db_table in tables and not settings.TESTING:
        schedules_sync(using)
