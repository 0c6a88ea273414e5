"""setup_schedules: upserts the dispatch schedules by name, any number of times."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import Schedule

pytestmark = pytest.mark.django_db


def test_setup_schedules_creates_and_then_updates_by_name():
    call_command("setup_schedules")
    Schedule.objects.filter(name="dispatch-tick").update(minutes=42)
    call_command("setup_schedules")

    tick = Schedule.objects.get(name="dispatch-tick")
    assert tick.func == "billing.tasks.dispatch_tick"
    assert tick.minutes == 1
    assert tick.repeats == -1
    assert Schedule.objects.filter(name="dispatch-recover-stale").count() == 1


def test_the_tick_task_runs_and_returns_a_summary():
    from billing.tasks import dispatch_tick

    assert dispatch_tick() == {"recovered": 0, "completed": 0, "sessions": []}
