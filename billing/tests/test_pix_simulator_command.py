"""``manage.py pix_simulator`` as ``make run`` starts it: a real process, its webhook registered at start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state(port: int, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/state", timeout=1) as answer:
                return json.loads(answer.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.e2e
def test_the_command_serves_the_api_with_the_webhook_registered():
    port = _free_port()
    env = {**os.environ, "COBRANCA_IGNORE_DOTENV": "1", "DJANGO_SETTINGS_MODULE": "cobranca.settings"}
    argv = [
        sys.executable,
        str(ROOT / "manage.py"),
        "pix_simulator",
        "--port",
        str(port),
        "--webhook-url",
        "http://127.0.0.1:9/webhook/pix/secret-token",
        "--chave",
        "pix@cobranca.example",
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        state = _state(port, time.monotonic() + 30)
        assert state["webhooks"] == [
            {
                "webhookUrl": "http://127.0.0.1:9/webhook/pix/secret-token",
                "chave": "pix@cobranca.example",
                "criacao": state["webhooks"][0]["criacao"],
            }
        ]
        form = b"grant_type=client_credentials&client_id=any&client_secret=thing"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/oauth/token", data=form, timeout=5) as answer:
            assert json.loads(answer.read())["token_type"] == "Bearer"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "secret-token" not in output, "the webhook token is a secret: never printed"
    assert f"http://127.0.0.1:{port}/v2" in output
