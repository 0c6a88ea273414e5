"""Fault: the same webhook delivered thousands of times in a burst (a retry storm, a replayed capture).

One signed envelope (one `id`) is posted concurrently by several keep-alive `http.client` connections to
the real view (Django's live_server, real HTTP, inline task processing). Expected: every answer is 200,
exactly one says "accepted" and the rest "duplicate", one `WebhookEvent`, one processing task run, one
`Message`.

The issue asks for 10,000: run with `FAULTS_BURST_N=10000` (≈60 s here, see docs/faults.md). The default,
3,000, keeps the suite run under ~20 s on 2 shared cores.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time

import pytest

from conversations.models import Message
from tests.faults.conftest import KEY
from whatsapp.models import WebhookEvent
from whatsapp.webhooks import signature_expected

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BURST = int(os.environ.get("FAULTS_BURST_N", "3000"))
CONNECTIONS = 8
PROCESS_TASK = "whatsapp.tasks.process_webhook_event"


CLIENT = """
import http.client, json, sys, threading
from urllib.parse import urlsplit

url, total, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = json.load(sys.stdin)
body, headers = spec["body"].encode(), spec["headers"]
parts = urlsplit(url)
results, errors = [], []

def post_many(count):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    for _ in range(count):
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            results.append((response.status, json.loads(response.read() or b"{}").get("status")))
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            conn.close()  # http.client reopens on the next request
    conn.close()

shares = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
threads = [threading.Thread(target=post_many, args=(n,)) for n in shares]
for t in threads:
    t.start()
for t in threads:
    t.join()
json.dump({"results": results, "errors": errors}, sys.stdout)
"""


def test_a_burst_of_duplicate_webhooks_stores_and_processes_one_event(
    live_server, waha_simulator, settings, processing_calls
):
    settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    settings.CHATBOT_ENABLED = False
    # A real WAHA envelope (id evt_<ulid>) of an inbound message, taken from the simulator (no webhook set).
    waha_simulator.inbound("5511987654321", "Já paguei a fatura")
    envelope = waha_simulator.wait_for_event("message")
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Hmac": signature_expected(body, KEY),
        "X-Webhook-Hmac-Algorithm": "sha512",
        "X-Webhook-Timestamp": str(envelope["timestamp"]),
    }
    url = live_server.url + "/webhook/waha"

    # The clients run in another process: in this one they would fight the live server for the GIL.
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CLIENT, url, str(BURST), str(CONNECTIONS)],
        input=json.dumps({"body": body.decode(), "headers": headers}).encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    elapsed = time.monotonic() - started
    report = json.loads(proc.stdout)
    results = [tuple(r) for r in report["results"]]
    errors = report["errors"]

    assert not errors, f"{len(errors)} transport errors, e.g. {errors[:3]}"
    assert len(results) == BURST
    answers = collections.Counter(results)
    assert answers == {(200, "accepted"): 1, (200, "duplicate"): BURST - 1}, answers

    events = list(WebhookEvent.objects.filter(event_id=envelope["id"]))
    assert len(events) == 1 and WebhookEvent.objects.count() == 1
    assert events[0].state == WebhookEvent.State.PROCESSED, (events[0].state, events[0].error)
    assert events[0].attempts == 1
    assert processing_calls == {(PROCESS_TASK, (events[0].pk,)): 1}
    assert Message.objects.filter(waha_id=envelope["payload"]["id"]).count() == 1
    assert Message.objects.count() == 1
    print(
        f"\nwebhook-burst: {BURST} identical deliveries over {CONNECTIONS} keep-alive connections in "
        f"{elapsed:.1f}s ({BURST / elapsed:.0f} req/s): 1 accepted, {BURST - 1} duplicate, 1 event, "
        f"1 processing, 1 message"
    )
