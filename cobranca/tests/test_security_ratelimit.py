"""The API's per-user limit and the login limit hold across processes: two gunicorn workers share the counters
(the database cache)."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

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


def _admin_login(port: int, password: str) -> tuple[int, str]:
    """GET the admin login page for a CSRF token, then POST the staff user's credentials (new connections)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/admin/login/", headers={"Connection": "close"})
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.getheader("Set-Cookie").split(";", 1)[0]
    conn.close()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    body = urlencode({"username": "user-staff", "password": password, "csrfmiddlewaretoken": token})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Connection": "close"}
    conn.request("POST", "/admin/login/", body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, text


@pytest.mark.django_db(transaction=True)
def test_the_per_user_limit_holds_across_two_gunicorn_workers(tmp_path):
    token = str(AccessToken.for_user(make_user("integrator")))
    other = str(AccessToken.for_user(make_user("operator")))
    make_user("staff")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "DJANGO_SETTINGS_MODULE": "cobranca.settings",
        "RATE_LIMIT_REQUESTS": str(LIMIT),
        "RATE_LIMIT_PERIOD": "3600",
        "LOGIN_RATE_LIMIT": "5/h",  # an hour: the six attempts below never straddle two windows
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
        # The admin login: five attempts, then 429 even with the right password, whichever worker answers.
        logins = [_admin_login(port, "errada") for _ in range(5)] + [_admin_login(port, "s3nha-forte-123")]
        assert [status for status, _ in logins] == [200] * 5 + [429], logins
        assert "Muitas tentativas de login" in logins[-1][1]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
