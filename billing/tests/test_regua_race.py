"""Planners racing: two threads (PostgreSQL) or two `manage.py regua_run` processes plan the same day at
once, and every reminder is planned once, every debtor gets one message."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import Campaign, Dispatch
from billing.regua.models import Regua, ReguaEntry
from billing.tests.dispatch_support import ensure_default_regua
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.testing import BASE_DIR, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)
WED = dt.date(2026, 12, 9)


def _setup_day(debtors: int = 40) -> int:
    regua = ensure_default_regua()
    Regua.objects.filter(pk=regua.pk).update(status=Regua.Status.ACTIVE)
    charges = 0
    for _ in range(debtors):
        client = ClientFactory()
        for offset in (-3, 0, 7):  # three charges due for steps today: one message each debtor
            ChargeFactory(client=client, due_date=WED - dt.timedelta(days=offset))
            charges += 1
    return charges


def _assert_planned_once(charges: int, debtors: int) -> None:
    assert ReguaEntry.objects.count() == charges
    assert (
        ReguaEntry.objects.filter(status=ReguaEntry.Status.PLANNED, dispatch__isnull=False).count() == charges
    )
    assert Dispatch.objects.count() == debtors
    assert Dispatch.objects.values("client_id").distinct().count() == debtors
    assert Campaign.objects.filter(regua__slug="default", regua_day=WED).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads share one SQLite writer lock anyway")
def test_two_threads_planning_at_once_plan_every_reminder_once():
    from billing.regua.run import regua_plan_run

    charges = _setup_day()
    now = timezone.make_aware(dt.datetime.combine(WED, dt.time(7, 0)))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(regua_plan_run(now=now))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r["planned"] for r in results) == [0, charges]
    _assert_planned_once(charges, 40)


@pytest.mark.e2e
def test_two_regua_run_processes_at_once_plan_every_reminder_once():
    charges = _setup_day()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        {
            "DATABASE_URL": subprocess_database_url(),
            "DJANGO_SETTINGS_MODULE": "cobranca.settings",
            "COBRANCA_IGNORE_DOTENV": "1",
            "LOG_LEVEL": "WARNING",
            "Q_SYNC": "false",
        }
    )
    if env["DATABASE_URL"].startswith("sqlite"):
        env.pop("REDIS_URL", None)
    command = [sys.executable, str(BASE_DIR / "manage.py"), "regua_run", "--now", f"{WED.isoformat()}T07:00"]
    procs = [
        subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    _assert_planned_once(charges, 40)
