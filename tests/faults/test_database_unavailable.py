"""Fault: the database is briefly unavailable while WAHA posts webhooks.

The WAHA simulator posts signed webhooks to the real view (Django's live_server, real HTTP). While the
database is unavailable the intake cannot store anything and must answer 5xx (Django's 500 for the
OperationalError), so WAHA keeps the event and retries; once the database is back every event is stored
exactly once and processed exactly once — nothing lost, nothing doubled, no one has to replay anything.

How the database goes away (one mechanism per backend, same assertions):

- SQLite: another connection holds the write lock (`BEGIN EXCLUSIVE`) for longer than the writers' busy
  timeout. The production busy timeout is 20 s; for the test the app's connections get 0.2 s, so a 2-second
  lock stands for "locked longer than anyone waits" (readers are not blocked in WAL mode).
- PostgreSQL: `ALTER DATABASE … ALLOW_CONNECTIONS false` and `pg_terminate_backend` of the app's connections:
  connections in use die, new ones are refused.

Time is scaled: WAHA retries every 2 s, 15 times (a 30 s window); here every 0.4 s (a 6 s window) against a
2-second outage.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sqlite3
import time

import pytest
from django.db import connection

from cobranca.testing import wait_until
from conversations.models import Message
from whatsapp.models import WebhookEvent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 2.0
RETRY_DELAY_SECONDS = 0.4
SENDERS = 10
PROCESS_TASK = "whatsapp.tasks.process_webhook_event"
APP_NAME = f"faults-{os.getpid()}"


@pytest.fixture
def short_database_waits():
    """SQLite: the app's new connections wait 0.2 s for a lock instead of 20 s. PostgreSQL: they carry an
    application_name, so the outage kills only this test's connections."""
    connection.ensure_connection()  # the test's own connection stays outside the outage
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options)
    if connection.vendor == "sqlite":
        options["timeout"] = 0.2
        options["init_command"] = options.get("init_command", "").replace(
            "busy_timeout=20000", "busy_timeout=200"
        )
    else:
        options["application_name"] = APP_NAME
    yield
    options.clear()
    options.update(saved)


@contextlib.contextmanager
def database_unavailable():
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(connection.settings_dict["NAME"], timeout=10, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    import psycopg

    db = connection.settings_dict
    name = db["NAME"]
    admin = psycopg.connect(  # ALTER DATABASE is refused on a connection to the database itself
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    try:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                [name, APP_NAME],
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        admin.close()


def test_webhooks_during_a_database_outage_are_stored_once_and_processed_once(
    wired, processing_calls, short_database_waits
):
    wired.configure(webhook_retry_delay_seconds=RETRY_DELAY_SECONDS)
    phones = [f"55119876{5000 + i:05d}" for i in range(SENDERS + 1)]

    # Before: the wiring works.
    wired.inbound(phones[0], "antes da queda")
    wait_until(
        lambda: Message.objects.filter(direction="in").count() == 1, timeout=10, what="baseline message"
    )

    with database_unavailable():
        started = time.monotonic()
        inbound = [
            wired.inbound(phone, f"mensagem durante a queda {i}") for i, phone in enumerate(phones[1:])
        ]

        def outage_seen():
            # WAHA delivers to one URL in order, so the first event takes the refusals and retries while the
            # rest queue behind it; the outage lasts OUTAGE_SECONDS and WAHA must have retried during it.
            refused = [d for d in wired.webhooks() if not d["ok"]]
            return len(refused) >= 2 and time.monotonic() - started >= OUTAGE_SECONDS

        wait_until(outage_seen, timeout=20, what="WAHA to be refused and retry during the outage")
        stored_during = WebhookEvent.objects.count()

    wait_until(
        lambda: Message.objects.filter(direction="in").count() == SENDERS + 1,
        timeout=30,
        what="every inbound message after the database came back",
    )
    wired.wait_until_idle(timeout=30)

    assert stored_during <= 2, "events were stored while the database was unavailable"
    deliveries = wired.webhooks()
    failed = [d for d in deliveries if not d["ok"]]
    # The view answered 500 every time: no connection error, no hang until WAHA's timeout.
    assert failed and {d["status_code"] for d in failed} == {500}, collections.Counter(
        (d["status_code"], d["error"]) for d in failed
    )
    by_event = collections.defaultdict(list)
    for d in deliveries:
        by_event[d["event_id"]].append(d)
    emitted = {e["id"] for e in wired.events() if e["event"] in ("message", "message.any")}
    assert set(by_event) >= emitted
    for event_id in emitted:
        attempts = sorted(by_event[event_id], key=lambda d: d["attempt"])
        assert attempts[-1]["ok"], f"{event_id}: WAHA gave up: {attempts}"
        assert sum(d["ok"] for d in attempts) == 1, f"{event_id} delivered twice"

    # The last event's processing may still be running when WAHA is idle (its delivery was answered at
    # intake): wait for every stored event to settle before judging the states.
    settled = (WebhookEvent.State.PROCESSED, WebhookEvent.State.DUPLICATE)
    wait_until(
        lambda: not WebhookEvent.objects.filter(event_id__in=emitted).exclude(state__in=settled).exists(),
        timeout=30,
        what="every stored event processed",
    )
    events = list(WebhookEvent.objects.filter(event_id__in=emitted))
    assert len(events) == len(emitted), "an event was lost"
    assert collections.Counter(e.event_id for e in events).most_common(1)[0][1] == 1
    assert {e.state for e in events} <= {WebhookEvent.State.PROCESSED, WebhookEvent.State.DUPLICATE}, [
        (e.event, e.state, e.error) for e in events
    ]
    for event in events:
        assert processing_calls[(PROCESS_TASK, (event.pk,))] == 1, (
            f"event {event.pk} processed more than once"
        )
    for item in inbound:
        assert Message.objects.filter(waha_id=item["id"]).count() == 1
    print(
        f"\ndatabase-unavailable ({connection.vendor}): {len(emitted)} events, {len(failed)} deliveries "
        f"answered 500 during the {OUTAGE_SECONDS}s outage, {stored_during} rows at its end (the baseline), "
        f"max attempts per event {max(len(v) for v in by_event.values())}, all stored once and processed once"
    )
