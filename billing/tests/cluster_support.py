"""The crash-and-restart loop of the end-to-end tests (test_e2e_dispatch.py, test_e2e_regua.py): a real
`qcluster` against the WAHA simulator, killed with -9 mid-send, restarted on a fresh queue, then waited on
until every dispatch of the campaign settled. Waits are on conditions with timeouts, never fixed sleeps."""

from __future__ import annotations

import collections
import time

from billing.models import Campaign, Dispatch
from cobranca.testing import QCluster, use_fresh_queue, wait_cluster_ready, wait_until

DS = Dispatch.Status


class CrashableCluster:
    """A `manage.py qcluster` subprocess pointed at the simulator; a context manager that stops whichever
    cluster runs when the block ends (the first one, or the one started after the kill)."""

    def __init__(self, simulator, log_path, monkeypatch=None) -> None:
        self.simulator = simulator
        self.log_path = log_path
        self.monkeypatch = monkeypatch
        self.cluster: QCluster | None = None

    def start(self, extra_env: dict[str, str] | None = None) -> CrashableCluster:
        self.cluster = QCluster(
            waha_url=self.simulator.base_url,
            waha_key=self.simulator.api_key,
            log_path=self.log_path,
            extra_env=extra_env,
        ).start()
        try:
            wait_cluster_ready()
        except BaseException:
            self.cluster.stop()  # a cluster that never got ready is not left running behind the test
            raise
        return self

    def kill(self) -> None:
        """kill -9 of the whole cluster (master and workers)."""
        self.cluster.kill()

    def restart_on_fresh_queue(self) -> None:
        """A new cluster on a queue of its own (cobranca.testing.use_fresh_queue), so that after the crash it
        does not start behind what the dead one left half-taken."""
        queue = use_fresh_queue(self.monkeypatch)
        self.start(extra_env={"Q_CLUSTER_NAME": queue})

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()

    def __enter__(self) -> CrashableCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_campaign_settled(campaign: Campaign, *, timeout: float, what: str, tick_every: float = 3.0) -> None:
    """Wait until no dispatch of `campaign` is pending or sending and the campaign is completed.

    Meanwhile it enqueues `billing.tasks.dispatch_tick` every `tick_every` seconds: what the every-minute
    "dispatch-tick" schedule does, at a faster cadence so the test needs no minute-long waits (the dead
    driver's lease expires after a few seconds and a tick takes over). The campaign is marked completed by the
    driver/tick after its last dispatch settles: that is waited for too, or the cluster may be stopped between
    the two."""
    from django_q.tasks import async_task

    ticks = {"last": 0.0}

    def settled() -> bool:
        if time.monotonic() - ticks["last"] > tick_every:
            async_task("billing.tasks.dispatch_tick")
            ticks["last"] = time.monotonic()
        counts = collections.Counter(
            Dispatch.objects.filter(campaign=campaign).values_list("status", flat=True)
        )
        done = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.COMPLETED).exists()
        return counts[DS.PENDING] == 0 and counts[DS.SENDING] == 0 and done

    wait_until(settled, timeout=timeout, what=what, interval=0.2)
