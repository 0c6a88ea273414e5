from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from billing.models import Charge, Client, MessageTemplate

pytestmark = pytest.mark.django_db


def test_create_groups_is_idempotent_and_gives_operators_more_than_integrators():
    call_command("create_groups", stdout=io.StringIO())
    call_command("create_groups", stdout=io.StringIO())
    operators = Group.objects.get(name="Operadores")
    integrators = Group.objects.get(name="Integradores")
    assert Group.objects.filter(name__in=["Operadores", "Integradores"]).count() == 2
    assert operators.permissions.filter(codename="change_conversation").exists()
    assert not integrators.permissions.filter(codename="change_conversation").exists()


def test_starter_templates_come_with_the_migrations():
    names = set(MessageTemplate.objects.values_list("name", flat=True))
    assert {"cobranca_simples", "lembrete_vencimento", "cobranca_vencida"} <= names
    for template in MessageTemplate.objects.filter(name__in=names):
        assert "{creditor_name}" in template.body


def test_demo_data_loads_once():
    call_command("load_demo", stdout=io.StringIO())
    clients, charges = Client.objects.count(), Charge.objects.count()
    call_command("load_demo", stdout=io.StringIO())
    assert (Client.objects.count(), Charge.objects.count()) == (clients, charges)
    assert clients >= 3 and charges > clients


def test_ensure_admin_prints_a_password_once(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("senha '")[1].split("'")[0]
    assert User.objects.get(username="admin").check_password(password)
    again = io.StringIO()
    call_command("ensure_admin", stdout=again)
    assert password not in again.getvalue()


def test_ensure_admin_uses_the_given_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "senha-definida-123")
    call_command("ensure_admin", "--username", "chefe", stdout=io.StringIO())
    assert User.objects.get(username="chefe").check_password("senha-definida-123")


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] is True


def test_setup_schedules_upserts_every_project_schedule_by_name():
    from django_q.models import Schedule

    from cobranca.management.commands.setup_schedules import DAILY_SCHEDULES, SCHEDULES

    call_command("setup_schedules", stdout=io.StringIO())
    call_command("setup_schedules", stdout=io.StringIO())
    assert set(Schedule.objects.values_list("name", flat=True)) == set(SCHEDULES) | set(DAILY_SCHEDULES)
    every = {**SCHEDULES, **DAILY_SCHEDULES}
    for name, (func, _when) in every.items():
        module, _, attr = func.rpartition(".")
        assert callable(getattr(__import__(module, fromlist=[attr]), attr)), name
