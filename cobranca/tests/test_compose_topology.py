"""The URLs of the compose topology (docker-compose.yml) answered under production settings.

Docker does not run here, so the test reads docker-compose.yml, builds the web container's environment from it
(with a production `.env`: DEBUG=false, HTTPS on by default, a real ALLOWED_HOSTS) and sends, in a subprocess
with those settings and a migrated throwaway SQLite database, the requests the other containers send over
plain HTTP:

- WAHA's webhook POST to WHATSAPP_HOOK_URL (http://web:8000/webhook/waha), signed with the HMAC key;
- the web container's health check (http://127.0.0.1:8000/health).

Neither may be redirected to HTTPS (there is no TLS inside the compose network); the webhook stays protected
by its HMAC signature, and every other path still redirects.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# What an operator puts in .env for production (compose reads it twice: `env_file` and ${...} interpolation).
PRODUCTION_DOTENV = {
    "SECRET_KEY": "prod-" + "k" * 60,
    "JWT_SECRET_KEY": "jwt-" + "j" * 40,
    "WAHA_API_KEY": "waha-" + "a" * 30,
    "WAHA_WEBHOOK_HMAC_KEY": "hmac-" + "h" * 30,
    "ALLOWED_HOSTS": "cobranca.example.com",
    "POSTGRES_PASSWORD": "pg-secret",
}

_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = variables.get(name)
        if op.endswith("-"):
            return current if current else arg
        if op.endswith("?"):
            if not current:
                raise AssertionError(f"compose would refuse to start: {arg}")
            return current
        return current or ""

    return _INTERPOLATION.sub(replace, str(value))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def web_environment(spec: dict) -> dict[str, str]:
    web = spec["services"]["web"]
    environment = {**PRODUCTION_DOTENV}  # env_file: .env
    environment.update(
        {k: interpolate(v, PRODUCTION_DOTENV) for k, v in (web.get("environment") or {}).items()}
    )
    return environment


def healthcheck_url(spec: dict) -> str:
    command = " ".join(spec["services"]["web"]["healthcheck"]["test"])
    return re.search(r"https?://[^'\" )]+", command).group(0)


SCRIPT = r"""
import hashlib, hmac, json, sys, time
from pathlib import Path
from urllib.parse import urlsplit

import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)
hook_url, health_url, public_host = sys.argv[1:4]
fixture = Path("whatsapp/tests/fixtures/message.json")
envelope = json.loads(fixture.read_text(encoding="utf-8"))
envelope["timestamp"] = int(time.time() * 1000)
body = json.dumps(envelope).encode()
key = settings.WAHA_WEBHOOK_HMAC_KEY.encode()
client = Client()
results = {}


def answer(response):
    return {"status": response.status_code, "location": response.get("Location", "")}


hook = urlsplit(hook_url)
headers = {"host": hook.netloc, "X-Webhook-Timestamp": str(envelope["timestamp"])}
signature = hmac.new(key, body, hashlib.sha512).hexdigest()
signed = {**headers, "X-Webhook-Request-Id": "r1", "X-Webhook-Hmac": signature}
unsigned = {**headers, "X-Webhook-Request-Id": "r2"}
post = lambda h: client.post(hook.path, data=body, content_type="application/json", headers=h)  # noqa: E731
results["webhook_signed"] = answer(post(signed))
results["webhook_unsigned"] = answer(post(unsigned))
health = urlsplit(health_url)
results["health"] = answer(client.get(health.path, headers={"host": health.netloc}))
results["api_over_http"] = answer(client.get("/api/clients/", headers={"host": public_host}))
results["login_over_http"] = answer(client.get("/accounts/login/", headers={"host": public_host}))
results["ssl_redirect"] = settings.SECURE_SSL_REDIRECT
results["hsts"] = settings.SECURE_HSTS_SECONDS
from whatsapp.models import WebhookEvent
results["stored_events"] = WebhookEvent.objects.count()
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def topology_answers(tmp_path_factory) -> dict:
    spec = compose()
    environment = web_environment(spec)
    hook_url = spec["services"]["waha"]["environment"]["WHATSAPP_HOOK_URL"]
    assert hook_url == environment["WAHA_WEBHOOK_URL"]
    database = tmp_path_factory.mktemp("compose") / "db.sqlite3"
    run_env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "TESTING"}}
    run_env.update(environment)
    run_env.update(
        {
            # No PostgreSQL/Redis containers here: the same settings on a throwaway SQLite file.
            "DATABASE_URL": f"sqlite:///{database}",
            "REDIS_URL": "",
            "COBRANCA_IGNORE_DOTENV": "1",
            "DJANGO_SETTINGS_MODULE": "cobranca.settings",
            "LOG_FILE": str(database.parent / "app.log"),
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, hook_url, healthcheck_url(spec), "cobranca.example.com"],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULTS ")), None)
    assert line, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(line.removeprefix("RESULTS "))


def test_the_compose_environment_is_production(topology_answers):
    assert topology_answers["ssl_redirect"] is True
    assert topology_answers["hsts"] >= 31536000


def test_wahas_plain_http_webhook_reaches_the_view_and_is_stored(topology_answers):
    assert topology_answers["webhook_signed"]["status"] == 200, topology_answers
    assert topology_answers["stored_events"] == 1


def test_the_webhook_is_still_protected_by_its_hmac_signature(topology_answers):
    assert topology_answers["webhook_unsigned"]["status"] == 401, topology_answers


def test_the_compose_health_check_gets_200(topology_answers):
    assert topology_answers["health"]["status"] == 200, topology_answers


def test_every_other_path_still_redirects_to_https(topology_answers):
    for name in ("api_over_http", "login_over_http"):
        answer = topology_answers[name]
        assert answer["status"] == 301 and answer["location"].startswith("https://cobranca.example.com/"), (
            name,
            answer,
        )
