"""End to end: the régua plans the day and the real `qcluster` sends it to the WAHA simulator; a kill -9 of
the whole cluster mid-send loses nothing and sends nothing twice, and planning again plans nothing twice.

The crash rules are the dispatch engine's (docs/dispatch.md): at most the in-flight message per killed lane
ends `unknown` (never resent automatically); everything else is sent exactly once.
"""

from __future__ import annotations

import collections

import pytest

from billing.models import Campaign, Dispatch
from billing.regua.models import Regua, ReguaEntry
from billing.tests import dispatch_support as support
from billing.tests.cluster_support import CrashableCluster, wait_campaign_settled
from billing.tests.factories import ChargeFactory
from cobranca.testing import wait_until

sibling_modules = support.sibling_modules  # fixture

DS = Dispatch.Status
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulator():
    from whatsapp.simulator.testing import running_simulator

    with running_simulator(ack_delay_seconds=0.05) as handle:
        yield handle


def test_kill_9_during_a_regua_send_loses_nothing_and_sends_nothing_twice(
    simulator, settings, tmp_path, monkeypatch
):
    from django.utils import timezone

    from billing.regua.run import regua_plan_run
    from billing.regua.services import regua_enable

    settings.SEND_WINDOW = "always"
    settings.DISPATCH_PER_DEBTOR_DAILY_CAP = 1
    total = 60
    today = timezone.localdate()
    regua = support.ensure_default_regua()
    Regua.objects.filter(pk=regua.pk).update(
        send_window="always", skip_carnival=False, delay_seconds="0.1", jitter_seconds="0.02"
    )
    regua_enable(regua=regua)
    for _ in range(total):
        ChargeFactory(due_date=today)  # D0 for 60 debtors

    with CrashableCluster(simulator, tmp_path / "q.log", monkeypatch) as cluster:
        summary = regua_plan_run()  # commits, then enqueues the session's driver on the cluster
        assert summary["planned"] == total and summary["messages"] == total
        campaign = Campaign.objects.get(regua=regua, regua_day=today)
        wait_until(lambda: len(simulator.outbox()) >= 10, timeout=60, what="10 sends before the crash")
        cluster.kill()
        assert len(simulator.outbox()) < total, "the day was sent before the crash; make it longer"

        # The schedule runs again after the crash (a restart, a second worker): nothing is planned twice.
        again = regua_plan_run()
        assert again["planned"] == 0 and again["messages"] == 0

        cluster.restart_on_fresh_queue()
        wait_campaign_settled(campaign, timeout=150, what="every régua message sent or unknown")

    per_chat = collections.Counter(item["chatId"] for item in simulator.outbox())
    assert max(per_chat.values()) == 1, "a debtor got the same reminder twice"
    rows = list(Dispatch.objects.filter(campaign=campaign).select_related("client"))
    assert len(rows) == total
    statuses = collections.Counter(d.status for d in rows)
    assert set(statuses) <= {DS.SENT, DS.DELIVERED, DS.READ, DS.UNKNOWN}, statuses
    assert statuses[DS.UNKNOWN] <= 2  # at most the one in flight per killed worker
    assert sum(per_chat.values()) >= total - statuses[DS.UNKNOWN]
    assert ReguaEntry.objects.filter(status=ReguaEntry.Status.PLANNED).count() == total
    assert all("Hoje é o dia do vencimento" in item["text"] for item in simulator.outbox())
