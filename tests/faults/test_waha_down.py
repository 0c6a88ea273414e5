"""Fault: WAHA down in the middle of a campaign, then back on the same port.

Real processes: a `manage.py qcluster` subprocess sends a paced campaign to the WAHA simulator through an
`OutageProxy` (tests/faults/support.py). Mid-campaign the proxy goes down — connections to WAHA's port are
refused, requests on kept-alive connections die unanswered — and later comes back on the same port.

Time is scaled down 15×: the issue's one-minute outage against the production retry base of 30 s becomes a
4-second outage against a 2-second base (`E2E_RETRY_BASE_SECONDS=2`), so each dispatch sees the same number of
retries it would in production (a couple, far from DISPATCH_MAX_RETRIES = 5).

What the engine promises (docs/dispatch.md): a connection error is transient — the dispatch goes back to
pending with a backoff, the driver backs off after 3 errors in a row, and nobody has to act. Since the proxy
never forwards a request while down, no send is ambiguous, so the end state must be exactly one message per
debtor, every dispatch sent (none `unknown`, `failed` or left pending) and the campaign completed — with no
tick or operator help, only the driver's own backoff and re-enqueue.
"""

from __future__ import annotations

import collections
import time

import pytest

from billing.models import Campaign, Dispatch
from billing.tests import dispatch_support
from billing.tests.dispatch_support import make_charges, start_campaign
from cobranca.testing import wait_cluster_ready, wait_until
from tests.faults.support import OutageProxy, fault_cluster, isolate_queue

sibling_modules = dispatch_support.sibling_modules  # fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DS = Dispatch.Status
TOTAL = 60
OUTAGE_SECONDS = 4.0  # stands for the minute (15× faster, like the retry base below)


@pytest.fixture
def simulator():
    from whatsapp.simulator.testing import running_simulator

    with running_simulator(ack_delay_seconds=0.05) as handle:
        yield handle


def test_waha_down_mid_campaign_then_back_loses_nothing_and_sends_nothing_twice(
    simulator, sibling_modules, settings, monkeypatch, tmp_path
):
    settings.SEND_WINDOW = "always"
    isolate_queue(monkeypatch)
    proxy = OutageProxy(simulator.base_url)
    cluster = fault_cluster(
        waha_url=proxy.url,
        waha_key=simulator.api_key,
        log_path=tmp_path / "q.log",
        extra_env={"E2E_RETRY_BASE_SECONDS": "2", "E2E_RETRY_MAX_SECONDS": "120"},
    ).start()
    try:
        wait_cluster_ready()
        campaign = start_campaign(make_charges(TOTAL), delay="0.1", jitter="0.02")
        wait_until(lambda: len(simulator.outbox()) >= 15, timeout=30, what="15 sends before the outage")

        proxy.down()
        down_at = time.monotonic()
        sent_at_down = len(simulator.outbox())
        assert proxy.refuses(), "WAHA's port still accepts connections"
        assert sent_at_down < TOTAL, "the campaign finished before the outage; make it longer"

        def outage_over():
            # The outage lasts OUTAGE_SECONDS and must actually have hit the sender (a retried dispatch).
            hit = Dispatch.objects.filter(campaign=campaign, status=DS.PENDING, attempts__gte=1).exists()
            return hit and time.monotonic() - down_at >= OUTAGE_SECONDS

        wait_until(outage_over, timeout=30, what="the outage to hit the sender", interval=0.1)
        sent_during_outage = len(simulator.outbox()) - sent_at_down
        retried = list(
            Dispatch.objects.filter(campaign=campaign, attempts__gte=1, status=DS.PENDING).values_list(
                "reason", flat=True
            )
        )
        assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING  # not paused

        proxy.up()
        up_at = time.monotonic()
        wait_until(
            lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
            timeout=60,
            what="the campaign to complete by itself after WAHA came back",
            interval=0.2,
        )
        recovered_in = time.monotonic() - up_at
    finally:
        cluster.stop()
        proxy.close()

    # At most the one request already forwarded when the proxy went down (one paced lane).
    assert sent_during_outage <= 1, sent_during_outage
    assert retried and all("connection" in (r or "") for r in retried), retried

    outbox = simulator.outbox()
    per_chat = collections.Counter(item["chatId"] for item in outbox)
    assert len(per_chat) == TOTAL, f"{TOTAL - len(per_chat)} debtors never got their message"
    assert set(per_chat.values()) == {1}, [chat for chat, n in per_chat.items() if n > 1]

    rows = list(Dispatch.objects.filter(campaign=campaign).select_related("client"))
    statuses = collections.Counter(d.status for d in rows)
    assert set(statuses) <= {DS.SENT, DS.DELIVERED, DS.READ}, statuses
    waha_ids = {item["id"] for item in outbox}
    assert {d.waha_message_id for d in rows} == waha_ids  # each dispatch holds the id WAHA gave its one send
    assert max(d.attempts for d in rows) <= 1 + 5  # never past DISPATCH_MAX_RETRIES
    print(
        f"\nwaha-down: {TOTAL} dispatches, {sent_at_down} sent before the outage, outage "
        f"{OUTAGE_SECONDS}s, proxy dropped {proxy.dropped} kept-alive requests, {len(retried)} dispatches "
        f"retried, max attempts {max(d.attempts for d in rows)}, completed {recovered_in:.1f}s after WAHA "
        f"came back; statuses {dict(statuses)}"
    )
