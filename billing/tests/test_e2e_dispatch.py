"""End to end: a real `manage.py qcluster` subprocess sends a campaign to the WAHA simulator over HTTP.

Covers what only real processes can show: start-to-first-send latency, exactly-once after `kill -9` of the
whole cluster mid-campaign, and an outage (5xx, then the session FAILED → paused → WORKING → resumed →
completed). Everything waits on conditions with generous timeouts; nothing sleeps a fixed time.
"""

from __future__ import annotations

import collections
import time

import pytest

from billing.models import Campaign, Dispatch
from billing.tests import dispatch_support as support
from billing.tests.cluster_support import CrashableCluster, wait_campaign_settled
from billing.tests.dispatch_support import make_charges, start_campaign
from cobranca.testing import wait_until

sibling_modules = support.sibling_modules  # fixture

DS = Dispatch.Status
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulator():
    from whatsapp.simulator.testing import running_simulator

    with running_simulator(ack_delay_seconds=0.05) as handle:
        yield handle


@pytest.fixture
def e2e_env(settings, sibling_modules, tmp_path):
    settings.SEND_WINDOW = "always"
    settings.DISPATCH_PER_DEBTOR_DAILY_CAP = 1
    return tmp_path


def outbox_per_chat(simulator) -> collections.Counter:
    return collections.Counter(item["chatId"] for item in simulator.outbox())


def status_counts(campaign) -> collections.Counter:
    return collections.Counter(Dispatch.objects.filter(campaign=campaign).values_list("status", flat=True))


def test_a_campaign_is_sent_by_the_real_cluster_quickly_and_once(simulator, e2e_env):
    with CrashableCluster(simulator, e2e_env / "q.log"):
        started = time.time()
        campaign = start_campaign(make_charges(20))
        first = wait_until(lambda: simulator.outbox(), timeout=20, what="the first send")
        latency = first[0]["timestamp"] / 1000 - started
        wait_until(
            lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
            timeout=60,
            what="the campaign to complete",
        )
    assert latency <= 2.0, f"start to first send took {latency:.2f}s"
    counts = outbox_per_chat(simulator)
    assert len(counts) == 20 and set(counts.values()) == {1}
    assert (
        status_counts(campaign)[DS.SENT]
        + status_counts(campaign)[DS.DELIVERED]
        + status_counts(campaign)[DS.READ]
        == 20
    )


def test_kill_9_mid_campaign_loses_nothing_and_sends_nothing_twice(simulator, e2e_env, monkeypatch):
    total = 60
    with CrashableCluster(simulator, e2e_env / "q.log", monkeypatch) as cluster:
        campaign = start_campaign(make_charges(total), delay="0.1", jitter="0.02")
        wait_until(lambda: len(simulator.outbox()) >= 10, timeout=60, what="10 sends before the crash")
        cluster.kill()
        sent_before_restart = len(simulator.outbox())
        assert sent_before_restart < total, "the campaign finished before the crash; make it longer"

        cluster.restart_on_fresh_queue()
        wait_campaign_settled(
            campaign, timeout=120, what="every dispatch sent or unknown, campaign completed"
        )

    counts = outbox_per_chat(simulator)
    assert max(counts.values()) == 1, "a debtor got the same reminder twice"
    rows = list(Dispatch.objects.filter(campaign=campaign).select_related("client"))
    statuses = collections.Counter(d.status for d in rows)
    assert set(statuses) <= {DS.SENT, DS.DELIVERED, DS.READ, DS.UNKNOWN}, statuses
    assert statuses[DS.UNKNOWN] <= 2  # at most the one in flight per killed worker (2 workers, 1 driver lane)
    for dispatch in rows:
        if dispatch.status != DS.UNKNOWN:
            assert counts[dispatch.client.chat_id] == 1
    assert sum(counts.values()) >= total - statuses[DS.UNKNOWN]
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED


def test_an_outage_pauses_the_campaign_and_it_resumes_and_completes(simulator, e2e_env):
    from whatsapp.services import session_status_apply

    total = 30
    with CrashableCluster(simulator, e2e_env / "q.log"):
        simulator.set_faults(error_rate=1.0)
        campaign = start_campaign(make_charges(total), delay="0.05", jitter="0")
        wait_until(
            lambda: Dispatch.objects.filter(campaign=campaign, attempts__gte=1, status=DS.PENDING).exists(),
            timeout=30,
            what="a 5xx retry",
        )
        simulator.set_faults(error_rate=0.0)
        simulator.set_session_status("FAILED")
        wait_until(
            lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED,
            timeout=30,
            what="the campaign to pause",
        )
        paused = Campaign.objects.get(pk=campaign.pk)
        sent_while_failed = len(simulator.outbox())

        simulator.set_session_status("WORKING")
        # What the session.status webhook does when WAHA reports WORKING again.
        session_status_apply(name="default", status="WORKING")
        wait_until(
            lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
            timeout=90,
            what="the campaign to complete",
            interval=0.2,
        )

    assert paused.pause_reason
    counts = outbox_per_chat(simulator)
    assert len(counts) == total and set(counts.values()) == {1}
    assert sent_while_failed < total
    statuses = status_counts(campaign)
    assert statuses[DS.FAILED] == 0 and statuses[DS.UNKNOWN] == 0, statuses


def test_kill_9_mid_unpaced_campaign_leaves_at_most_the_claimed_batches_unknown(
    simulator, e2e_env, monkeypatch
):
    from billing.dispatch.driver import UNPACED_BATCH

    total = 400
    with CrashableCluster(simulator, e2e_env / "q.log", monkeypatch) as cluster:
        campaign = start_campaign(make_charges(total))  # delay 0: batches, two lanes
        wait_until(lambda: len(simulator.outbox()) >= 40, timeout=60, what="40 sends before the crash")
        cluster.kill()
        assert len(simulator.outbox()) < total, "the campaign finished before the crash; make it longer"

        cluster.restart_on_fresh_queue()
        wait_campaign_settled(
            campaign, timeout=120, what="every dispatch sent or unknown, campaign completed"
        )

    counts = outbox_per_chat(simulator)
    assert max(counts.values()) == 1, "a debtor got the same reminder twice"
    rows = list(Dispatch.objects.filter(campaign=campaign).select_related("client"))
    statuses = collections.Counter(d.status for d in rows)
    assert set(statuses) <= {DS.SENT, DS.DELIVERED, DS.READ, DS.UNKNOWN}, statuses
    assert statuses[DS.UNKNOWN] <= 2 * UNPACED_BATCH  # at most the claimed batch of each of the two lanes
    for dispatch in rows:
        if dispatch.status != DS.UNKNOWN:
            assert counts[dispatch.client.chat_id] == 1
    assert sum(counts.values()) >= total - statuses[DS.UNKNOWN]
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED
