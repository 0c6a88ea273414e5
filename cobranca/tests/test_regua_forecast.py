"""The régua page's 7-day forecast (#13): the schedule computes it while the page is in use, the page then
shows exactly what the planner says without running it; the page computes it itself only when none is kept
or the kept one is too old."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from billing.regua import selectors as regua_selectors
from cobranca.dashboard import regua_forecast
from cobranca.dashboard.tasks import regua_forecast_task
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db


@pytest.fixture
def op_client(db) -> HttpClient:
    cache.clear()
    call_command("load_volume", charges=300, conversations=20, campaigns=3, stdout=open(os.devnull, "w"))
    call_command("regua_enable", "default", "--confirm-compliance", stdout=open(os.devnull, "w"))
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    yield client
    cache.clear()


def _planner_forbidden(monkeypatch) -> None:
    def forbidden(**kwargs):
        raise AssertionError("the page ran the planner")

    monkeypatch.setattr(regua_selectors, "regua_calendar", forbidden)
    monkeypatch.setattr(regua_selectors, "regua_step_results", forbidden)


def test_after_the_schedule_the_page_shows_the_planners_numbers_without_running_it(op_client, monkeypatch):
    op_client.get(reverse("dashboard:regua"))  # the page is in use: the schedule keeps its forecast
    cache.delete(regua_forecast._key(list(regua_selectors.regua_list())))  # what the view kept is gone
    assert regua_forecast_task() is True
    expected = regua_selectors.regua_calendar(days=7)
    assert sum(day["reminders"] for day in expected) > 0  # the data gives the forecast something to show
    _planner_forbidden(monkeypatch)

    response = op_client.get(reverse("dashboard:regua"))

    assert response.status_code == 200
    assert response.context["calendar"] == expected
    assert timezone.now() - response.context["calendar_at"] < dt.timedelta(minutes=1)


def test_the_schedule_does_nothing_while_nobody_looks_at_the_page(op_client, monkeypatch):
    _planner_forbidden(monkeypatch)
    assert regua_forecast_task() is False


def test_the_page_computes_the_forecast_itself_when_the_kept_one_is_too_old(op_client):
    first = op_client.get(reverse("dashboard:regua")).context["calendar_at"]
    old = timezone.now() - dt.timedelta(seconds=regua_forecast.SHOW_SECONDS + 1)
    reguas = list(regua_selectors.regua_list())
    calendar, results, _ = regua_forecast.forecast_for_page(reguas)
    cache.set(regua_forecast._key(reguas), (calendar, results, old), 60)

    again = op_client.get(reverse("dashboard:regua")).context["calendar_at"]

    assert again > first and again > old


def test_pausing_a_regua_shows_at_once(op_client):
    before = op_client.get(reverse("dashboard:regua")).context["calendar"]
    regua_forecast_task()
    assert op_client.post(reverse("dashboard:regua-action", args=["default", "pausar"])).status_code == 302
    after = op_client.get(reverse("dashboard:regua")).context["calendar"]
    assert after == regua_selectors.regua_calendar(days=7)
    assert after != before
