"""Benchmark: webhook-to-reply time of the bot, through the real processes.

Starts, against a throwaway database: the WAHA simulator (`manage.py waha_simulator`), the app under gunicorn
and a real `qcluster` (ORM broker by default, Redis with --redis). For each of N debtor messages it posts
`POST /simulator/inbound` (the simulator signs and delivers the webhook to /webhook/waha) and measures until
the bot's reply appears in the simulator's outbox (its `timestamp`, taken when WAHA received sendText). The
path measured: webhook intake → WebhookEvent → task → Message → task → classify → decide → act → sendText.

    .venv/bin/python bench/bench_reply.py                 # ORM broker (SQLite), poll interval included
    .venv/bin/python bench/bench_reply.py --redis         # starts a private redis-server, REDIS_URL broker
    .venv/bin/python bench/bench_reply.py --typing 3      # with the real typing pause (default: 0, see below)
    .venv/bin/python bench/bench_reply.py --app-port 8116 --sim-port 3116   # fixed ports instead of free ones

The typing indicator pause (up to CHATBOT_TYPING_MAX_SECONDS, 3 s in production) is a deliberate delay, not
processing time; it is set to 0 by default so the figures measure the system. Messages are sent one at a time
(latency, not throughput), round-robin over several debtors, with texts the shipped model classifies
confidently (greetings, thanks, payment info) so no conversation is handed over to a person mid-run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MANAGE,
    ROOT,
    describe_machine,
    free_port,
    latency_summary,
    percentile,
    prepare_database,
    server_env,
    setup_django,
    start_gunicorn,
    stop,
)

HMAC_KEY = "bench-hmac-key"
API_KEY = "bench-waha-key"
TEXTS = ["oi", "como faço para pagar?", "obrigado", "bom dia", "me manda o pix", "muito obrigada pela ajuda"]
SETTINGS = """
import os
from cobranca.settings import *  # noqa: F403
CHATBOT_TYPING_MAX_SECONDS = float(os.environ["BENCH_TYPING_MAX_SECONDS"])
"""


def http_json(method: str, url: str, body: object | None = None, timeout: float = 10) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", "X-Api-Key": API_KEY}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def stage_breakdown(env: dict[str, str], last: int) -> dict[str, list[float]]:
    """Where the time goes, from the database: webhook stored → inbound Message → claimed by the bot → reply
    recorded (the last `last` inbound messages)."""
    setup_django(env)
    from conversations.models import Message
    from whatsapp.models import WebhookEvent

    stages: dict[str, list[float]] = {"webhook→message": [], "message→claim": [], "claim→reply": []}
    inbound = Message.objects.filter(direction="in").order_by("-pk")[:last]
    for message in inbound:
        event = WebhookEvent.objects.filter(payload_id=message.waha_id).order_by("received_at").first()
        reply = (
            Message.objects.filter(conversation=message.conversation, author="bot", pk__gt=message.pk)
            .order_by("pk")
            .first()
        )
        if not (event and reply and message.replied_at):
            continue
        stages["webhook→message"].append((message.created_at - event.received_at).total_seconds() * 1000)
        stages["message→claim"].append((message.replied_at - message.created_at).total_seconds() * 1000)
        stages["claim→reply"].append((reply.created_at - message.replied_at).total_seconds() * 1000)

    def p(values: list[float], q: float) -> float:
        return round(percentile(values, q), 1)

    return {name: [p(values, 50), p(values, 95)] for name, values in stages.items()}


# long-function: a benchmark script's steps (setup, measure, report) read best in order
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=120)
    parser.add_argument("--debtors", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--redis", action="store_true", help="start redis-server and use REDIS_URL")
    parser.add_argument("--typing", type=float, default=0.0, help="CHATBOT_TYPING_MAX_SECONDS for the run")
    parser.add_argument(
        "--gap", type=float, default=0.05, help="seconds between a reply and the next message"
    )
    parser.add_argument("--app-port", type=int, default=0, help="port for gunicorn (default: a free one)")
    parser.add_argument("--sim-port", type=int, default=0, help="port for the WAHA simulator (default: free)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-reply-"))
    (tmp / "bench_settings.py").write_text(SETTINGS)
    app_port, sim_port = args.app_port or free_port(), args.sim_port or free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = server_env(
        tmp,
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
        DJANGO_SETTINGS_MODULE="bench_settings",
        BENCH_TYPING_MAX_SECONDS=str(args.typing),
        WAHA_BASE_URL=sim_url,
        WAHA_API_KEY=API_KEY,
        WAHA_WEBHOOK_HMAC_KEY=HMAC_KEY,
        WAHA_WEBHOOK_URL=f"http://127.0.0.1:{app_port}/webhook/waha",
        WAHA_SIMULATOR="True",
        CHATBOT_ENABLED="True",
        Q_WORKERS="2",
    )
    for key in ("DATABASE_URL", "REDIS_URL", "TESTING", "Q_SYNC"):
        env.pop(key, None)
    processes: list[subprocess.Popen] = []
    manage = MANAGE
    try:
        if args.redis:
            redis_port = free_port()
            redis = ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
            processes.append(subprocess.Popen(redis, stdout=subprocess.DEVNULL, cwd=tmp))
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            time.sleep(0.3)
        prepare_database(env, groups=False)
        seed = (
            "from decimal import Decimal; import datetime as dt\n"
            "from billing.models import Client, Charge\n"
            f"for i in range({args.debtors}):\n"
            "    c = Client.objects.create(name=f'Devedor {i}', phone=f'+55119{i:08d}')\n"
            "    Charge.objects.create(client=c, amount=Decimal('150.50'), due_date=dt.date(2026, 1, 10))\n"
        )
        subprocess.run([*manage, "shell", "-c", seed], cwd=ROOT, env=env, check=True)

        processes.append(
            subprocess.Popen(
                [*manage, "waha_simulator", "--port", str(sim_port), "--api-key", API_KEY,
                 "--webhook-url", env["WAHA_WEBHOOK_URL"], "--hmac-key", HMAC_KEY,
                 "--auto-scan-seconds", "0", "--ack-delay-seconds", "0.2"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        # Not waited for here: the simulator session comes first, then /health (below).
        processes.append(start_gunicorn(env, app_port, workers=2, threads=4, wait=False))
        processes.append(subprocess.Popen([*manage, "qcluster"], cwd=ROOT, env=env))

        def session_working():
            sessions = http_json("GET", f"{sim_url}/api/sessions?all=true")
            return any(s.get("status") == "WORKING" for s in sessions or [])

        wait_for(session_working, 30, "the simulator session")
        wait_for(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{app_port}/health", timeout=2), 30, "gunicorn"
        )

        outbox_seen = 0

        def send_and_wait(phone: str, text: str) -> float:
            nonlocal outbox_seen
            started_ms = time.time() * 1000
            http_json("POST", f"{sim_url}/simulator/inbound", {"from": phone, "text": text})
            chat = phone.lstrip("+") + "@c.us"

            def reply():
                items = http_json("GET", f"{sim_url}/simulator/outbox")
                new = [item for item in items[outbox_seen:] if item["chatId"] == chat]
                return (len(items), new[0]) if new else None

            count, item = wait_for(reply, 30, f"the reply to {text!r}")
            outbox_seen = count
            return item["timestamp"] - started_ms

        phones = [f"+55119{i:08d}" for i in range(args.debtors)]
        for i in range(args.warmup):  # imports, model load, first queries in both workers
            send_and_wait(phones[i % len(phones)], TEXTS[0])
        latencies = []
        for i in range(args.messages):
            latencies.append(send_and_wait(phones[i % len(phones)], TEXTS[i % len(TEXTS)]))
            time.sleep(args.gap)
        breakdown = stage_breakdown(env, args.messages)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            stop(process, timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)

    summary = latency_summary(latencies, (50, 95), scale=1, digits=1)  # already in ms

    report = {
        "broker": "Redis" if args.redis else "ORM (SQLite), Q_POLL=0.2 s",
        "messages": len(latencies),
        "typing_max_seconds": args.typing,
        "reply_ms": summary,
        "stages_ms_p50_p95": breakdown,
        **describe_machine(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
