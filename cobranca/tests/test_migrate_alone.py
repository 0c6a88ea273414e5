"""One `migrate` makes a working instance: the cache table, the role groups and the schedules come with it,
and a missing cache table never turns a login into a 500.

These run real processes on a fresh database, as a deploy would: `manage.py migrate` and nothing else. SQLite
always; PostgreSQL too when the suite runs on it (a throwaway database beside the test database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

from cobranca.testing import subprocess_database_url

ROOT = Path(__file__).resolve().parents[2]

# Runs inside the fresh instance: reports what exists and what the login endpoints answer.
PROBE = r"""
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobranca.settings")
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django_q.models import Schedule

drop = sys.argv[1] == "drop-cache-table"
if drop:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS " + settings.CACHES["default"]["LOCATION"])
User.objects.filter(username="probe").delete()
user = User.objects.create_user("probe", password="senha-forte-123")
user.groups.add(*Group.objects.filter(name="Operadores"))
web = Client(REMOTE_ADDR="10.1.2.3")
api_login = web.post("/auth/login", {"username": "probe", "password": "senha-forte-123"},
                     content_type="application/json")
token = api_login.json().get("access", "") if api_login.status_code == 200 else ""
api = web.get("/api/billing/campaigns", HTTP_AUTHORIZATION=f"Bearer {token}")
form = web.get("/accounts/login/")
session_login = Client(REMOTE_ADDR="10.1.2.4").post(
    "/accounts/login/", {"username": "probe", "password": "senha-forte-123"}
)
print(json.dumps({
    "cache_table": settings.CACHES["default"]["LOCATION"] in connection.introspection.table_names(),
    "groups": {g.name: g.permissions.count() for g in Group.objects.all()},
    "schedules": sorted(Schedule.objects.values_list("name", flat=True)),
    "api_login": api_login.status_code,
    "api": api.status_code,
    "login_form": form.status_code,
    "session_login": session_login.status_code,
}))
"""


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "TESTING")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST")}
    env.update(
        {
            "COBRANCA_IGNORE_DOTENV": "1",
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "WARNING",
            "LOG_FILE": "",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _probe(env: dict[str, str], mode: str) -> dict:
    result = _run(["-c", PROBE, mode], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _answers(state: dict) -> tuple[int, int, int, int]:
    """POST /auth/login, an API call with its token, GET and POST /accounts/login/."""
    return state["api_login"], state["api"], state["login_form"], state["session_login"]


def _postgres_admin():
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def instance(request, tmp_path_factory, django_db_setup, django_db_blocker) -> dict[str, str]:
    """A fresh database on which only `manage.py migrate` ran (twice: it must be idempotent)."""
    tmp_path = tmp_path_factory.mktemp("instance")
    name = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        if connection.vendor != "postgresql":
            pytest.skip("the suite runs on SQLite (set DATABASE_URL to a PostgreSQL database)")
        name = f"cobranca_fresh_{uuid.uuid4().hex[:10]}"
        with django_db_blocker.unblock():
            url = subprocess_database_url().rsplit("/", 1)[0] + f"/{name}"
        with _postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    env = _env(tmp_path, url)
    try:
        for _ in range(2):
            result = _run(["manage.py", "migrate", "--noinput"], env)
            assert result.returncode == 0, result.stdout + result.stderr
        yield env
    finally:
        if name:
            with _postgres_admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_alone_makes_a_working_instance(instance):
    from cobranca.provisioning import DAILY_SCHEDULES, SCHEDULES
    from cobranca.roles import GROUP_PERMISSIONS

    state = _probe(instance, "as-migrated")
    assert state["cache_table"] is True
    assert state["groups"] == {name: len(perms) for name, perms in GROUP_PERMISSIONS.items()}
    assert state["schedules"] == sorted([*SCHEDULES, *DAILY_SCHEDULES])
    assert _answers(state) == (200, 200, 200, 302)


def test_a_missing_cache_table_never_turns_a_login_into_a_500(instance):
    state = _probe(instance, "drop-cache-table")
    assert state["cache_table"] is False
    # The rate limits cannot count without their cache: they let the request through (and log it) instead.
    assert _answers(state) == (200, 200, 200, 302)
    # The next migrate puts the table back.
    result = _run(["manage.py", "migrate", "--noinput"], instance)
    assert result.returncode == 0, result.stderr
    assert _probe(instance, "as-migrated")["cache_table"] is True


def test_an_unreachable_redis_cache_never_turns_a_login_into_a_500(instance):
    # Port 1 on loopback: nothing listens, every cache call fails at once (as with Redis down).
    state = _probe({**instance, "REDIS_URL": "redis://127.0.0.1:1/0"}, "as-migrated")
    assert _answers(state) == (200, 200, 200, 302)
