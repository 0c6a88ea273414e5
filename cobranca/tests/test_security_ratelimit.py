"""The API's per-user limit holds across processes: two gunicorn workers share the counter (the database
cache)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from cobranca.testing import subprocess_database_url
from cobranca.tests.security_helpers import make_user

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, token: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Connection": "close"})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


@pytest.mark.django_db(transaction=True)
def test_the_per_user_limit_holds_across_two_gunicorn_workers(tmp_path):
    token = str(AccessToken.for_user(make_user("integrator")))
    other = str(AccessToken.for_user(make_user("operator")))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "DJANGO_SETTINGS_MODULE": "cobranca.settings",
        "RATE_LIMIT_REQUESTS": str(LIMIT),
        "RATE_LIMIT_PERIOD": "3600",
        "COBRANCA_IGNORE_DOTENV": "1",
        "LOG_FILE": str(tmp_path / "gunicorn.log"),
        "LOG_LEVEL": "WARNING",
        "TESTING": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cobranca.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(port, "/health", token).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        statuses = []
        for _ in range(LIMIT + 8):
            response = _get(port, "/api/dispatches/", token)
            statuses.append(response.status)
            if response.status == 429:
                assert int(response.getheader("Retry-After")) > 0
                assert b'"message"' in response.body
        assert statuses.count(200) == LIMIT, statuses
        assert statuses.count(429) == 8, statuses
        assert _get(port, "/api/dispatches/", other).status == 200  # per user, not global
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
