"""Replay the outside attacks of issue #10 as real HTTP requests against a running instance: items 1-11 are
the first attack's findings, items 12-16 the five of the second outside test (docs/security.md).

Starts its own stack on loopback ports, in a throwaway data folder: the WAHA simulator, gunicorn (2 workers,
DEBUG=False with the production defaults: HTTPS, SSL redirect, behind a proxy that sends X-Forwarded-Proto)
and a qcluster. Then it replays each attack and prints one line per item, `held` or `broken` with what it saw,
and exits 1 if any item is broken (2 if the stack could not start).

    .venv/bin/python tests/security/attack.py [--items 1,5,8] [--database-url postgres://…/cobranca_attack]

Without --database-url it uses SQLite in the throwaway folder. A PostgreSQL database given here is dropped and
re-created: name a throwaway one. Only loopback addresses are used. tests/security/test_attack.py runs it in
the suite (marked e2e).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402 - the repository root goes on sys.path first
    free_port,
    is_postgres,
    manage,
    prepare_database,
    recreate_postgres,
    server_env,
    start_gunicorn,
    stop,
)
from tests.security import payloads  # noqa: E402

HOST = "127.0.0.1"
HMAC_KEY = "attack-hmac-" + "k" * 24
WAHA_KEY = "attack-waha-key"
PASSWORD = "Attack-Pass-" + "p" * 10
NEW_PASSWORD = "Attack-New-" + "q" * 10
USERS = {"staff": "atk-staff", "integrator": "atk-integrador", "operator": "atk-operador"}
# One number per item, so the items cannot mask each other's results (valid DDDs, mobile).
PHONES = {
    1: "+5511987650001",
    3: "+5511987650003",
    6: "+5511987650006",
    11: "+5511987650011",
    16: "+5511987650016",
}
TIMEOUT = 30
WAHA_HEADERS = {"X-Api-Key": WAHA_KEY}

SETUP_USERS = """
from django.contrib.auth.models import Group, User
from cobranca.roles import INTEGRATORS, OPERATORS
import os
password = os.environ["ATTACK_PASSWORD"]
User.objects.create_superuser(os.environ["ATTACK_STAFF"], "staff@attack.local", password)
roles = ((os.environ["ATTACK_INTEGRATOR"], INTEGRATORS), (os.environ["ATTACK_OPERATOR"], OPERATORS))
for name, group in roles:
    user = User.objects.create_user(name, f"{name}@attack.local", password)
    user.groups.add(Group.objects.get(name=group))
"""

CHANGE_PASSWORD = """
import os
from django.contrib.auth.models import User
user = User.objects.get(username=os.environ["ATTACK_USER"])
user.set_password(os.environ["ATTACK_NEW_PASSWORD"])
user.save()
"""


class Broken(Exception):
    """The attack worked: the defence did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Broken(message)


def tail(phone: str) -> str:
    """The eight last digits: present in a response only when the number is shown in full."""
    return re.sub(r"\D", "", phone)[-8:]


def sign(body: bytes) -> str:
    return hmac.new(HMAC_KEY.encode(), body, hashlib.sha512).hexdigest()


class Stack:
    """Simulator + gunicorn + qcluster on loopback, one throwaway data folder (and database)."""

    def __init__(self, database_url: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="attack-"))
        self.port = free_port()
        self.waha_port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.waha = f"http://{HOST}:{self.waha_port}"
        self.log_file = self.tmp / "app.log"
        env = server_env(
            self.tmp,
            DEBUG="False",
            BEHIND_PROXY="True",
            ALLOWED_HOSTS=f"{HOST},localhost",
            CSRF_TRUSTED_ORIGINS=f"https://{HOST}:{self.port}",
            WAHA_BASE_URL=self.waha,
            WAHA_API_KEY=WAHA_KEY,
            WAHA_WEBHOOK_HMAC_KEY=HMAC_KEY,
            WAHA_WEBHOOK_URL=f"{self.base}/webhook/waha",
            WAHA_WEBHOOK_MAX_AGE_SECONDS="900",
            SUPPRESSION_HASH_KEY="attack-suppression-" + "s" * 24,
            RATE_LIMIT_REQUESTS="100000",
            LOG_LEVEL="INFO",
            LOG_FILE=str(self.log_file),
            UPLOADS_DIR=str(self.tmp / "uploads"),
            Q_CLUSTER_NAME=f"attack{uuid.uuid4().hex[:6]}",
            CACHE_KEY_PREFIX=f"attack_{uuid.uuid4().hex[:6]}",
            ATTACK_PASSWORD=PASSWORD,
            ATTACK_STAFF=USERS["staff"],
            ATTACK_INTEGRATOR=USERS["integrator"],
            ATTACK_OPERATOR=USERS["operator"],
        )
        # Production defaults: HTTPS and the SSL redirect follow DEBUG=False (item 4 depends on them).
        for key in ("HTTPS", "SECURE_SSL_REDIRECT", "Q_SYNC", "PROMETHEUS_MULTIPROC_DIR", "TESTING"):
            env.pop(key, None)
        if database_url:
            if not is_postgres(database_url):
                raise SystemExit("--database-url must be a PostgreSQL URL (SQLite is the default)")
            if urlparse(database_url).hostname not in (HOST, "localhost", "::1"):
                raise SystemExit("loopback only")
            recreate_postgres(database_url)
            env["DATABASE_URL"] = database_url
        else:
            env.pop("DATABASE_URL", None)
        redis_url = env.get("REDIS_URL", "")
        if redis_url and urlparse(redis_url).hostname not in (HOST, "localhost", "::1"):
            raise SystemExit("loopback only")
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.gunicorn: subprocess.Popen | None = None

    def start(self) -> None:
        prepare_database(self.env)
        manage(self.env, "shell", "-v", "0", "-c", SETUP_USERS)
        # DEBUG=False serves static files from the manifest, as in production: without it every page is a 500.
        manage(self.env, "collectstatic", "--noinput", "-v", "0")
        out = open(self.tmp / "simulator.out", "wb")
        simulator = subprocess.Popen(
            [sys.executable, "manage.py", "waha_simulator", "--port", str(self.waha_port),
             "--webhook-url", f"{self.base}/webhook/waha", "--hmac-key", HMAC_KEY, "--api-key", WAHA_KEY,
             "--auto-scan-seconds", "0", "--ack-delay-seconds", "0.2"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(simulator)
        _wait_up(self.waha + "/ping", simulator, "the WAHA simulator")
        self.gunicorn = start_gunicorn(
            self.env, self.port, workers=2, threads=2, wait=False, extra=["--timeout", "120"]
        )
        self.processes.append(self.gunicorn)
        # Any answer means up: a redirected /health is item 4's defect, reported there, not a failed start.
        _wait_up(self.base + "/health", self.gunicorn, "gunicorn")
        cluster_out = open(self.tmp / "qcluster.out", "wb")
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env, stdout=cluster_out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.processes.append(cluster)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.pid and process.poll() is None and process is not self.gunicorn:
                # qcluster has its own session: signal its group (master and workers), only that group.
                try:
                    os.killpg(process.pid, 15) if process.args[-1] == "qcluster" else process.terminate()
                    process.wait(timeout=30)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    process.kill()
        stop(self.gunicorn)
        if is_postgres(self.env.get("DATABASE_URL", "")):
            from bench._common import drop_postgres

            drop_postgres(self.env["DATABASE_URL"])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def worker_pids(self) -> list[int]:
        master = self.gunicorn.pid
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


class Attacker:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.base = stack.base
        # What a TLS-terminating proxy adds; the webhook and /health are called without it (item 4).
        self.proxy = {"X-Forwarded-Proto": "https"}
        self.tokens: dict[str, str] = {}

    # --- HTTP helpers ---

    def api(self, method: str, path: str, who: str = "staff", **kwargs) -> requests.Response:
        headers = {**self.proxy, "Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base + path, headers=headers, timeout=kwargs.pop("timeout", TIMEOUT),
            allow_redirects=False, **kwargs,
        )  # fmt: skip

    def login(self, who: str, password: str = PASSWORD) -> dict:
        response = requests.post(
            self.base + "/auth/login", json={"username": USERS[who], "password": password},
            headers=self.proxy, timeout=TIMEOUT, allow_redirects=False,
        )  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"login of {who}: {response.status_code} {response.text[:200]}")
        return response.json()

    def webhook(
        self, body: bytes, *, headers: dict | None = None, signed: bool = True, via_proxy: bool = True
    ) -> requests.Response:
        """POST a (signed) body to /webhook/waha. Through the proxy by default, so that items 8 and 9 do not
        depend on item 4; item 4 posts over plain HTTP as WAHA does inside the compose network."""
        all_headers = {
            **(self.proxy if via_proxy else {}),
            "Content-Type": "application/json",
            "X-Webhook-Timestamp": str(int(time.time() * 1000)),
            "X-Webhook-Request-Id": uuid.uuid4().hex,
        }
        if signed:
            all_headers["X-Webhook-Hmac"] = sign(body)
            all_headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        all_headers.update(headers or {})
        url = self.base + "/webhook/waha"
        return requests.post(url, data=body, headers=all_headers, timeout=TIMEOUT, allow_redirects=False)

    def envelope(self, *, body_json: str = '"oi"', chat: str = "5511987659999", **extra) -> bytes:
        """A WAHA `message` envelope whose payload.body is the raw JSON text `body_json`."""
        now = int(time.time() * 1000)
        envelope = {
            "id": "evt_atk_" + uuid.uuid4().hex,
            "timestamp": now,
            "event": "message",
            "session": "default",
            "payload": {
                "id": f"false_{chat}@c.us_ATK{uuid.uuid4().hex[:16].upper()}",
                "timestamp": now // 1000,
                "from": f"{chat}@c.us",
                "fromMe": False,
                "body": "__BODY__",
                "hasMedia": False,
            },
            "engine": "GOWS",
        }
        envelope.update(extra)
        envelope = {k: v for k, v in envelope.items() if v is not None}
        return json.dumps(envelope).encode().replace(b'"__BODY__"', body_json.encode())

    def import_csv(self, rows: list[tuple[str, str, str]], who: str = "staff") -> dict:
        lines = ["id;nome;telefone;valor;vencimento"] + [f"{i};{n};{p};100,00;15/01/2031" for i, n, p in rows]
        files = {"file": ("atk.csv", ("\n".join(lines) + "\n").encode(), "text/csv")}
        response = self.api("POST", "/api/billing/import", who, files=files, data={"skip_invalid": "true"})
        if response.status_code != 200:
            raise RuntimeError(f"import: {response.status_code} {response.text[:300]}")
        return response.json()

    def client_by_phone(self, phone: str) -> list[dict]:
        response = self.api("GET", "/api/clients/", params={"phone": phone})
        response.raise_for_status()
        return response.json()["results"]

    def wait_for(self, predicate: Callable[[], object], what: str, timeout: float = 90) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        raise Broken(f"timed out after {timeout:.0f} s waiting for {what}")

    def inbound(self, phone: str, text: str) -> None:
        """The debtor writes on WhatsApp: the simulator delivers `message` and `message.any` webhooks."""
        url = self.stack.waha + "/simulator/inbound"
        body = {"from": re.sub(r"\D", "", phone), "text": text}
        requests.post(url, json=body, headers=WAHA_HEADERS, timeout=TIMEOUT).raise_for_status()

    def outbox_to(self, phone: str) -> list[dict]:
        outbox = self.stack.waha + "/simulator/outbox"
        items = requests.get(outbox, headers=WAHA_HEADERS, timeout=TIMEOUT).json()
        digits = re.sub(r"\D", "", phone)
        return [i for i in items if digits in str(i.get("chatId", ""))]

    # --- the items ---

    def item_1(self) -> str:
        """Forget is undone by a re-import; send-single reaches a forgotten number."""
        phone = PHONES[1]
        self.import_csv([("ATK-1", "Alvo Esquecido", phone)])
        (first,) = self.client_by_phone(phone)
        forgotten = self.api("POST", f"/api/clients/{first['id']}/forget")
        check(forgotten.status_code == 200, f"forget answered {forgotten.status_code}")
        charges_before = self.api("GET", "/api/charges/", params={"client": first["id"]}).json()["count"]
        report = self.import_csv([("ATK-1b", "Alvo Reimportado", phone)])
        again = self.client_by_phone(phone)
        check(len(again) == 1, f"re-import left {len(again)} clients with the number")
        check(
            again[0]["opted_out"], "re-import created the forgotten number as a client that can be messaged"
        )
        check(
            report.get("suppressed_rows", 0) >= 1 or report.get("row_warnings"),
            "the import report does not say the row is suppressed",
        )
        charges_after = self.api("GET", "/api/charges/", params={"client": first["id"]}).json()["count"]
        check(charges_after == charges_before, "charges of the forgotten client moved to another client")
        sent = self.api("POST", "/api/billing/send-single", json={"phone": phone, "text": "Olá de novo"})
        check(sent.status_code >= 400, f"send-single to a forgotten number answered {sent.status_code}")
        time.sleep(1)  # a send that slipped through would reach the simulator within the request
        check(not self.outbox_to(phone), "a message reached the forgotten number")
        return f"re-import suppressed, charges kept, send-single {sent.status_code}, nothing sent"

    def item_2(self) -> str:
        """25 wrong passwords then the right one on the dashboard and admin logins."""
        results = []
        for path, who in (("/accounts/login/", "operator"), ("/admin/login/", "staff")):
            origin = f"https://{HOST}:{self.stack.port}"
            page = requests.get(self.base + path, headers=self.proxy, timeout=TIMEOUT)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            cookie = page.cookies.get("csrftoken")
            check(page.status_code in (200, 429), f"GET {path} answered {page.status_code}")
            statuses = []
            for attempt in range(26):
                password = PASSWORD if attempt == 25 else f"wrong-{attempt}"
                response = requests.post(
                    self.base + path,
                    data={
                        "username": USERS[who], "password": password,
                        "csrfmiddlewaretoken": token.group(1) if token else "",
                    },
                    cookies={"csrftoken": cookie or ""},
                    headers={**self.proxy, "Referer": origin + path, "Origin": origin},
                    timeout=TIMEOUT, allow_redirects=False,
                )  # fmt: skip
                statuses.append(response.status_code)
            check(
                403 not in statuses[:1], f"{path}: the attack itself was refused by CSRF (403), inconclusive"
            )
            logged_in = statuses[-1] == 302
            check(not logged_in, f"{path}: 25 wrong passwords, then the right one logged in ({statuses[-1]})")
            check(429 in statuses, f"{path}: no 429 in 26 attempts")
            results.append(f"{path} 429 after {statuses.index(429)} attempts")
        return ", ".join(results)

    def item_3(self) -> str:
        """An integrator reads full phone numbers."""
        phone = PHONES[3]
        created = self.api("POST", "/api/clients/", json={"name": "Alvo Mascarado", "phone": phone})
        check(created.status_code in (200, 201), f"client create {created.status_code}")
        client_id = created.json()["id"]
        self.inbound(phone, "oi, sobre a fatura")

        def conversation():
            rows = self.api("GET", "/api/conversations/", params={"page_size": 100}).json()["results"]
            return next((r for r in rows if r.get("client_id") == client_id), None)

        found = self.wait_for(conversation, "the inbound message's conversation")
        leaks = []
        reads = {
            "GET /api/conversations/": self.api("GET", "/api/conversations/", who="integrator"),
            "GET /api/conversations/<id>": self.api(
                "GET", f"/api/conversations/{found['id']}", who="integrator"
            ),
            "POST /api/billing/templates/preview": self.api(
                "POST", "/api/billing/templates/preview", who="integrator",
                json={"body": "Olá {name}, telefone {phone}", "client_id": client_id},
            ),
            "GET /api/clients/<id>": self.api("GET", f"/api/clients/{client_id}", who="integrator"),
        }  # fmt: skip
        for label, response in reads.items():
            check(response.status_code == 200, f"{label} answered {response.status_code}")
            if tail(phone) in response.text:
                leaks.append(label)
        check(not leaks, "full number in " + ", ".join(leaks))
        return f"{len(reads)} reads as an integrator, number masked in all"

    def item_4(self) -> str:
        """Production settings: WAHA's plain-HTTP webhook and the health check must not be redirected."""
        health = requests.get(self.base + "/health", timeout=TIMEOUT, allow_redirects=False)
        check(health.status_code == 200, f"GET /health over plain HTTP answered {health.status_code}")
        delivered = self.webhook(self.envelope(body_json='"teste interno"'), via_proxy=False)
        check(delivered.status_code == 200, f"plain-HTTP webhook answered {delivered.status_code}")
        unsigned = self.webhook(self.envelope(), signed=False, via_proxy=False)
        check(unsigned.status_code == 401, f"an unsigned webhook answered {unsigned.status_code}")
        redirected = requests.get(self.base + "/api/clients/", timeout=TIMEOUT, allow_redirects=False)
        check(redirected.status_code == 301, "the rest of the site is no longer redirected to HTTPS")
        return "health 200, webhook 200 over HTTP (unsigned 401), the API still redirects"

    def item_5(self) -> str:
        """Decompression bombs, XML entities and oversize bodies on upload."""
        workers = self.stack.worker_pids()
        for pid in workers:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        idle = {pid: _proc_kb(pid, "VmRSS") for pid in workers}
        answers = {}
        for label, content in (
            ("zip bomb 400 MB", payloads.xlsx_zip_bomb(uncompressed_mb=400)),
            ("billion laughs", payloads.xlsx_entity_bomb()),
            ("XXE", payloads.xlsx_external_entity()),
        ):
            started = time.monotonic()
            response = self.api(
                "POST", "/api/billing/import", timeout=120,
                files={"file": ("p.xlsx", content, "application/octet-stream")},
            )  # fmt: skip
            answers[label] = response.status_code
            check(response.status_code == 400, f"{label} answered {response.status_code}")
            check(time.monotonic() - started < 20, f"{label} took {time.monotonic() - started:.0f} s")
        status = _declared_upload(self.stack.port, self.tokens["staff"], 200 * 1024 * 1024)
        answers["200 MB body"] = status
        check(status == 413, f"a 200 MB upload answered {status} instead of 413 before it was read")
        peak = max((_proc_kb(pid, "VmHWM") - idle[pid]) for pid in workers) / 1024
        check(peak < 100, f"a worker's peak RSS grew {peak:.0f} MB above idle")
        return ", ".join(f"{k} {v}" for k, v in answers.items()) + f"; peak worker RSS +{peak:.0f} MB"

    def item_6(self) -> str:
        """The LGPD export misses conversations that began before the client existed."""
        phone = PHONES[6]
        marker = f"mensagem anterior ao cadastro {uuid.uuid4().hex[:8]}"
        self.inbound(phone, marker)

        def stored():
            rows = self.api("GET", "/api/conversations/", params={"page_size": 100}).json()["results"]
            return [r for r in rows if tail(phone) in json.dumps(r)]

        self.wait_for(stored, "the conversation of the not-yet-client")
        created = self.api("POST", "/api/clients/", json={"name": "Alvo Exportado", "phone": phone})
        check(created.status_code in (200, 201), f"client create {created.status_code}")
        export = self.api("GET", f"/api/clients/{created.json()['id']}/export")
        check(export.status_code == 200, f"export answered {export.status_code}")
        check(
            marker in export.text, "the export misses the conversation that began before the client existed"
        )
        return "the export holds the earlier conversation"

    def item_7(self) -> str:
        """Tokens survive a password change."""
        tokens = self.login("integrator")
        check(self.api("GET", "/api/clients/", headers={"Authorization": f"Bearer {tokens['access']}"}).ok,
              "the fresh token does not work")  # fmt: skip
        manage({**self.stack.env, "ATTACK_USER": USERS["integrator"], "ATTACK_NEW_PASSWORD": NEW_PASSWORD},
               "shell", "-v", "0", "-c", CHANGE_PASSWORD)  # fmt: skip
        old_access = self.api("GET", "/api/clients/", headers={"Authorization": f"Bearer {tokens['access']}"})
        old_refresh = requests.post(
            self.base + "/auth/refresh",
            json={"refresh": tokens["refresh"]},
            headers=self.proxy,
            timeout=TIMEOUT,
        )
        check(old_access.status_code == 401, f"the old access token answered {old_access.status_code}")
        check(old_refresh.status_code == 401, f"the old refresh token answered {old_refresh.status_code}")
        return "old access 401, old refresh 401"

    def item_8(self) -> str:
        """Webhook bodies that are signed JSON but hostile to the parser or the database."""
        seen = {}
        for label, body_json, expected in (
            ("NUL", r'"Oi\u0000 paguei"', 200),
            ("lone surrogate", r'"Oi \ud83d paguei"', 200),
            ("NaN", "NaN", 400),
            ("1,000 deep", "[" * 1000 + "]" * 1000, 400),
        ):
            body = self.envelope(body_json=body_json)
            first = self.webhook(body)
            second = self.webhook(body)
            seen[label] = (first.status_code, second.status_code)
            check(first.status_code < 500, f"{label}: {first.status_code}")
            check(first.status_code == expected, f"{label}: answered {first.status_code} {first.text[:80]}")
            if expected == 200:
                check(first.json()["status"] == "accepted", f"{label}: {first.json()}")
                check(second.json()["status"] == "duplicate", f"{label}: the event was not stored")
            else:
                check(second.status_code == expected, f"{label}: a retry answered {second.status_code}")
        return ", ".join(f"{k} {v[0]}" for k, v in seen.items())

    def item_9(self) -> str:
        """Dedupe without an envelope id; a body without a timestamp skips the age check."""
        body = self.envelope(id=None)
        body = json.dumps({k: v for k, v in json.loads(body).items() if k != "id"}).encode()
        answers = [self.webhook(body).json().get("status") for _ in range(3)]
        check(answers == ["accepted", "duplicate", "duplicate"], f"three request ids gave {answers}")
        no_ts = json.dumps(
            {k: v for k, v in json.loads(self.envelope()).items() if k != "timestamp"}
        ).encode()
        response = self.webhook(no_ts, headers={"X-Webhook-Timestamp": ""})
        check(
            400 <= response.status_code < 500, f"a body without any timestamp answered {response.status_code}"
        )
        return f"stored once ({answers}), no timestamp {response.status_code}"

    def item_10(self) -> str:
        """Masking gaps in logs: dotted phones and numbers inside WAHA ids."""
        self.api("GET", "/api/clients/11.98765.4321")
        self.api("GET", "/api/conversations/false_5541988887777@c.us_3EB0C767D26A1D1A4E")
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = self.stack.log_file.read_text(errors="replace") if self.stack.log_file.exists() else ""
            if text.count("Not Found") >= 2:
                break
            time.sleep(0.2)
        check(text.count("Not Found") >= 2, "the probes were not logged: inconclusive")
        leaked = [secret for secret in ("98765", "98888777") if secret in text]
        check(not leaked, f"the log holds {leaked}")
        return "both probes logged, masked"

    def item_11(self) -> str:
        """An integrator forges a debtor's message through /api/chat/process and opts them out."""
        phone = PHONES[11]
        created = self.api("POST", "/api/clients/", json={"name": "Alvo Forjado", "phone": phone})
        check(created.status_code in (200, 201), f"client create {created.status_code}")
        client_id = created.json()["id"]
        marker = f"não quero mais receber mensagens, parem {uuid.uuid4().hex[:6]}"
        forged = self.api(
            "POST",
            "/api/chat/process",
            who="integrator",
            json={"phone": phone, "message": marker},
            timeout=120,
        )
        check(forged.status_code < 500, f"chat/process answered {forged.status_code}")
        client = self.api("GET", f"/api/clients/{client_id}").json()
        check(not client.get("opted_out"), "an integrator's message opted the debtor out")
        if forged.status_code >= 400:
            return f"refused ({forged.status_code})"
        conversation = self.api("GET", f"/api/conversations/{forged.json()['conversation_id']}").json()
        messages = [m for m in conversation.get("messages", []) if m.get("body") == marker]
        check(messages, "the forged message is not in the conversation")
        message = messages[0]
        check(
            message.get("source") == "api" or message.get("author") != "debtor",
            "stored as if the debtor wrote it on WhatsApp (no source, author=debtor)",
        )
        return "kept apart from WhatsApp messages, consent unchanged"

    # --- the second outside test (docs/security.md, "Found and fixed", after item 10) ---

    def item_12(self) -> str:
        """An XLSX under the ZIP-bomb cap whose shared-strings table openpyxl would load whole."""
        workers = self.stack.worker_pids()
        for pid in workers:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        idle = {pid: _proc_kb(pid, "VmRSS") for pid in workers}
        content = payloads.xlsx_shared_strings_bomb()
        started = time.monotonic()
        response = self.api(
            "POST", "/api/billing/import", timeout=120,
            files={"file": ("strings.xlsx", content, "application/octet-stream")},
        )  # fmt: skip
        took = time.monotonic() - started
        peak = max((_proc_kb(pid, "VmHWM") - idle[pid]) for pid in workers) / 1024
        check(response.status_code == 400, f"answered {response.status_code} after {took:.0f} s")
        check(took < 10, f"refused, but only after {took:.0f} s")
        check(peak < 100, f"a worker's peak RSS grew {peak:.0f} MB above idle")
        return f"{len(content) // 1024} KB file: 400 in {took:.1f} s, peak worker RSS +{peak:.0f} MB"

    def item_13(self) -> str:
        """An integrator reads another user's import report and its rejected rows (full names and phones)."""
        report = self.import_csv(
            [("ATK-13", "Alvo Relatorio", "+5511987650013"), ("ATK-13b", "Rejeitado", "123")]
        )
        batch = report["batch_id"]
        paths = (f"/api/billing/import/{batch}", f"/api/billing/import/{batch}/rejected.csv")
        for path in paths:
            own = self.api("GET", path)
            check(
                own.status_code == 200, f"the uploader's GET {path} answered {own.status_code}: inconclusive"
            )
            other = self.api("GET", path, who="integrator")
            check(other.status_code == 404, f"an integrator's GET {path} answered {other.status_code}")
            check("987650013" not in other.text, f"GET {path} showed the imported number to an integrator")
        mine = self.import_csv([("ATK-13c", "Do Integrador", "+5511987650113")], who="integrator")
        own_report = self.api("GET", f"/api/billing/import/{mine['batch_id']}", who="integrator")
        check(own_report.status_code == 200, f"the integrator's own report answered {own_report.status_code}")
        return "another user's report and rejected rows 404, the uploader's own 200"

    def item_14(self) -> str:
        """Formulas behind invisible characters reach the rejected-rows CSV that operators open in Excel."""
        marker = "cmd|' /C calc'!A0"
        prefixes = {"NBSP": "\u00a0", "U+3000": "\u3000", "ZWSP": "\u200b", "BOM": "\ufeff", "LRM": "\u200e"}
        rows = [
            (f"ATK-14-{i}", f"{prefix}{formula}{marker}", "123")
            for i, (prefix, formula) in enumerate(zip(prefixes.values(), "=+-@=", strict=True))
        ]
        batch = self.import_csv(rows)["batch_id"]
        response = self.api("GET", f"/api/billing/import/{batch}/rejected.csv")
        check(response.status_code == 200, f"rejected.csv answered {response.status_code}: inconclusive")
        cells = [c for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
                 for c in row if marker in c]  # fmt: skip
        check(len(cells) >= len(rows), f"{len(cells)} of {len(rows)} payloads reached the CSV: inconclusive")
        armed = [c for c in cells if _runs_as_formula(c)]
        check(not armed, f"{len(armed)} cell(s) would run as formulas: {[c[:12] for c in armed]}")
        return f"{len(cells)} formulas behind {', '.join(prefixes)}: all quoted"

    def item_15(self) -> str:
        """send-batch reads a file in a subfolder of the uploads folder (another import's rejected rows)."""
        report = self.import_csv([("ATK-15", "Rejeitado Quinze", "123")])
        batch = report["batch_id"]
        check(report.get("rejected_csv_url"), "the import stored no rejected rows: inconclusive")
        templates = self.api("GET", "/api/billing/templates", params={"active": "1"}).json()["results"]
        check(templates, "no active template to name: inconclusive")
        campaigns_before = self.api("GET", "/api/billing/campaigns").json()["count"]
        answers = {}
        for name in (f"rejected/{batch}.csv", f"./rejected/{batch}.csv", f"rejected\\{batch}.csv"):
            response = self.api(
                "POST", "/api/billing/send-batch",
                json={"template_name": templates[0]["name"], "clients_file": name},
            )  # fmt: skip
            answers[name] = response.status_code
            # The path refusal itself: the file's rows (phone "123") would also end in a 400 once read.
            refused = response.status_code == 400 and "Arquivo inválido" in response.json().get("message", "")
            check(refused, f"clients_file={name!r} answered {response.status_code} {response.text[:120]}")
        campaigns_after = self.api("GET", "/api/billing/campaigns").json()["count"]
        check(campaigns_after == campaigns_before, "a campaign was created from another import's rows")
        return "subfolder names refused: " + ", ".join(f"{k} {v}" for k, v in answers.items())

    def item_16(self) -> str:
        """A CPF or phone the debtor typed reaches integrators in full (messages, inbox, chat history)."""
        phone = PHONES[16]
        created = self.api("POST", "/api/clients/", json={"name": "Alvo Texto", "phone": phone})
        check(created.status_code in (200, 201), f"client create {created.status_code}")
        client_id = created.json()["id"]
        secrets = {"CPF": "982.247", "phone": "98765-0116"}
        self.inbound(phone, "meu cpf é 529.982.247-25, liga no (21) 98765-0116")

        def conversation():
            rows = self.api("GET", "/api/conversations/", params={"page_size": 100}).json()["results"]
            found = next((r for r in rows if r.get("client_id") == client_id), None)
            return found if found and found.get("last_message_body") else None

        found = self.wait_for(conversation, "the debtor's message")
        detail = self.api("GET", f"/api/conversations/{found['id']}")
        check(secrets["CPF"] in detail.text, "staff does not see the message in full: inconclusive")
        reads = {
            "GET /api/conversations/": self.api(
                "GET", "/api/conversations/", who="integrator", params={"page_size": 100}
            ),
            "GET /api/conversations/<id>": self.api(
                "GET", f"/api/conversations/{found['id']}", who="integrator"
            ),
            "GET /api/chat/conversation/<phone>": self.api(
                "GET", f"/api/chat/conversation/{phone}", who="integrator"
            ),
        }
        leaks = []
        for label, response in reads.items():
            check(response.status_code == 200, f"{label} answered {response.status_code}")
            leaks += [f"{what} in {label}" for what, secret in secrets.items() if secret in response.text]
        check(not leaks, "; ".join(leaks))
        return f"{len(reads)} reads as an integrator, CPF and phone in the text masked"

    # --- the third outside test ---

    def page_session(self, who: str) -> PageSession:
        """A logged-in dashboard session (CSRF cookie and token, through the proxy)."""
        session = PageSession(self.base, {**self.proxy, "Origin": f"https://{HOST}:{self.stack.port}"})
        token = session.form_token("/accounts/login/")
        response = session.post(
            "/accounts/login/",
            data={"username": USERS[who], "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        check(response.status_code == 302, f"{who}'s dashboard login answered {response.status_code}")
        return session

    def item_17(self) -> str:
        """OFX TRNAMT 1E+400 (stored as inf: the queue 500s for good) and NaN/Infinity (500 in a dry run)."""
        session, path = self.page_session("operator"), "/painel/pagamentos/extratos/"
        answers = {}
        for amount, dry in (("1E+400", False), ("NaN", True), ("Infinity", True), ("sNaN", False)):
            data = {"csrfmiddlewaretoken": session.form_token(path), **({"simular": "on"} if dry else {})}
            upload = ("extrato.ofx", payloads.ofx_statement(amount), "application/x-ofx")
            response = session.post(path, data=data, files={"arquivo": upload})
            check(response.status_code < 500, f"TRNAMT {amount} (dry={dry}) answered {response.status_code}")
            if response.status_code == 302:  # queued: the worker reads it, the job page shows the outcome
                job = urlparse(response.headers["Location"]).path

                def finished(job=job):
                    page = session.get(job)
                    # A list: a 4xx Response is falsy, and wait_for waits for a truthy value.
                    return [page] if page.status_code >= 500 or "campo TRNAMT" in page.text else None

                (response,) = self.wait_for(finished, f"the statement job of TRNAMT {amount}")
            answers[amount] = response.status_code
            check(response.status_code < 500, f"TRNAMT {amount}: job page {response.status_code}")
            check("campo TRNAMT" in response.text, f"TRNAMT {amount}: no 'campo TRNAMT' error on the page")
        queue = session.get("/painel/pagamentos/pendencias/?tipo=unmatched")
        check(queue.status_code == 200, f"the payments queue answered {queue.status_code} after the uploads")
        return "refused with the line and field: " + ", ".join(f"{k} {v}" for k, v in answers.items())


class PageSession:
    """Cookies kept by hand: the site sets them Secure (HTTPS behind the proxy) and the stack is plain HTTP on
    loopback, where requests would not send them back."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers, self.cookies = base, headers, {}

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, "Referer": self.base + path.split("?")[0]}
        response = requests.request(
            method, self.base + path, headers=headers, cookies=self.cookies, timeout=TIMEOUT,
            allow_redirects=False, **kwargs,
        )  # fmt: skip
        self.cookies.update(response.cookies.get_dict())
        return response

    def get(self, path: str) -> requests.Response:
        return self._send("GET", path)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self._send("POST", path, **kwargs)

    def form_token(self, path: str) -> str:
        page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        check(token is not None, f"GET {path} answered {page.status_code} without a form: inconclusive")
        return token.group(1)


def _wait_up(url: str, process: subprocess.Popen, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, headers=WAHA_HEADERS, timeout=2, allow_redirects=False)
            return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.2)


def _runs_as_formula(cell: str) -> bool:
    """What a spreadsheet would run: no leading quote, and the first character that is neither whitespace
    nor a format character (zero-width, BOM, bidi marks) starts a formula."""
    if cell.startswith("'"):
        return False
    visible = next((ch for ch in cell if not (ch.isspace() or unicodedata.category(ch) == "Cf")), "")
    return bool(visible) and visible in "=+-@＝＋－＠"


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _declared_upload(port: int, token: str, declared: int) -> int:
    """Declare a `declared`-byte multipart upload, send 1 MB of it, and return the status the server gives."""
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    conn.putrequest("POST", "/api/billing/import")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("X-Forwarded-Proto", "https")
    conn.putheader("Content-Type", "multipart/form-data; boundary=atk")
    conn.putheader("Content-Length", str(declared))
    conn.endheaders()
    try:
        conn.send(b'--atk\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n')
        conn.send(b"x" * (1024 * 1024))
    except OSError:
        pass  # answered and closed before we finished: expected
    try:
        return conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise Broken(
            f"no answer to a declared {declared // 2**20} MB upload ({type(exc).__name__})"
        ) from None
    finally:
        conn.close()


# Item 7 changes the integrator's password and item 2 locks the loopback address out of the logins: they go
# last, in that order.
ORDER = [1, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 7, 2]
TITLES = {
    1: "forget undone by re-import / send-single",
    2: "login brute force (dashboard, admin)",
    3: "integrators read full phone numbers",
    4: "production settings vs internal webhook and health",
    5: "upload size and decompression limits",
    6: "LGPD export misses earlier conversations",
    7: "tokens survive a password change",
    8: "webhook edge cases (NUL, surrogates, NaN, depth)",
    9: "webhook dedupe without an envelope id",
    10: "masking gaps in logs",
    11: "integrators forge debtor messages",
    12: "XLSX shared-strings bomb under the ZIP cap",
    13: "integrators read other users' import reports",
    14: "CSV formulas behind invisible characters",
    15: "send-batch reads files in uploads subfolders",
    16: "debtor message text unmasked for integrators",
    17: "OFX TRNAMT 1E+400 / NaN poisons the payments queue",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="", help="comma-separated item numbers (default: all)")
    parser.add_argument("--database-url", default="", help="throwaway PostgreSQL database (dropped!)")
    args = parser.parse_args()
    wanted = [int(i) for i in args.items.split(",") if i.strip()] or ORDER
    stack = Stack(args.database_url or None)
    results: dict[int, tuple[str, str]] = {}
    try:
        try:
            stack.start()
            attacker = Attacker(stack)
            for who in ("staff", "integrator"):
                attacker.tokens[who] = attacker.login(who)["access"]
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - say why the stack did not start, exit 2
            print(f"stack did not start: {type(exc).__name__}: {exc}", flush=True)
            for name in ("simulator.out", "qcluster.out"):
                path = stack.tmp / name
                if path.exists():
                    print(f"--- {name}\n{path.read_text(errors='replace')[-2000:]}")
            return 2
        for item in [i for i in ORDER if i in wanted]:
            started = time.monotonic()
            try:
                detail = getattr(attacker, f"item_{item}")()
                verdict = "held"
            except Broken as exc:
                verdict, detail = "broken", str(exc)
            except Exception as exc:  # noqa: BLE001 - an attack that errors is reported, not hidden
                verdict = "broken"
                detail = f"error: {type(exc).__name__}: {exc}"
                traceback.print_exc()
            results[item] = (verdict, detail)
            elapsed = time.monotonic() - started
            print(f"item {item:>2} {verdict:<6} {TITLES[item]}: {detail} ({elapsed:.1f} s)", flush=True)
    finally:
        stack.stop()
    broken = sorted(i for i, (verdict, _) in results.items() if verdict == "broken")
    held = len(results) - len(broken)
    print(
        f"{held} held, {len(broken)} broken" + (f" (items {', '.join(map(str, broken))})" if broken else "")
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
