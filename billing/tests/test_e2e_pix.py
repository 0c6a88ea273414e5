"""End to end: the PSP simulator pays a txid → its webhook reaches the live server → a real `manage.py
qcluster` confirms the Pix at the simulator → the charge is paid. Embedded default: SQLite and the ORM broker.
Everything waits on conditions with timeouts; nothing sleeps a fixed time."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Charge, Payment, PixNotification
from billing.payments.pix_charges import cobv_ensure
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.testing import QCluster, wait_cluster_ready, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
D = Decimal
TOKEN = "e2e-token-do-webhook-pix-0123456789abcdef"


def test_a_pix_paid_at_the_psp_pays_the_charge_through_the_real_worker(
    pix_settings, pix_simulator, live_server, tmp_path
):
    pix_settings.PIX_WEBHOOK_TOKEN = TOKEN
    call_command("pix_register_webhook", base_url=live_server.url)
    charges = [
        ChargeFactory(client=ClientFactory(document=f"{n:011d}"), amount=D("100.00") + n) for n in range(1, 6)
    ]
    cobvs = [cobv_ensure(charge=charge) for charge in charges]
    cluster = QCluster(
        waha_url="http://127.0.0.1:9",  # the thank-you message has nowhere to go: not what this test is about
        waha_key="",
        log_path=tmp_path / "q.log",
        extra_env={
            "PIX_PROVIDER": "api_pix",
            "PIX_API_BASE_URL": pix_simulator.base_url,
            "PIX_OAUTH_URL": pix_simulator.oauth_url,
            "PIX_CLIENT_ID": pix_simulator.client_id,
            "PIX_CLIENT_SECRET": pix_simulator.client_secret,
            "PIX_WEBHOOK_TOKEN": TOKEN,
        },
    ).start()
    latencies = []
    try:
        wait_cluster_ready()
        for n, (charge, cobv) in enumerate(zip(charges, cobvs, strict=True)):
            started = time.monotonic()
            paid = pix_simulator.pay(cobv.txid, times=2 if n == 0 else 1)  # the first one notified twice
            assert {d["status"] for d in paid["deliveries"]} == {200}
            wait_until(
                lambda c=charge: Charge.objects.filter(pk=c.pk, status=Charge.Status.PAID).exists(),
                timeout=30,
                what=f"charge {charge.pk} paid",
            )
            latencies.append(time.monotonic() - started)
        wait_until(
            lambda: not PixNotification.objects.filter(status="pending").exists(),
            timeout=30,
            what="every notification confirmed",
        )
    finally:
        cluster.stop()
    assert Payment.objects.count() == 5 and PixNotification.objects.count() == 5
    assert set(PixNotification.objects.values_list("status", flat=True)) == {"confirmed"}
    for charge, cobv in zip(charges, cobvs, strict=True):
        payment = Payment.objects.get(charge=charge)
        assert payment.txid == cobv.txid and payment.amount == charge.amount
    assert max(latencies) < 10, latencies


def test_kill_9_while_confirming_loses_nothing_and_pays_once(
    pix_settings, pix_simulator, live_server, tmp_path, monkeypatch
):
    """The worker is inside `GET /pix/{e2eid}` (the PSP answers late) when the whole cluster is killed: the
    notification stays pending, nothing is paid; a new cluster, handed the notification by the sweep, pays the
    charge once."""
    from billing.payments.pix_notifications import pix_notifications_sweep
    from cobranca.testing import use_fresh_queue

    pix_settings.PIX_WEBHOOK_TOKEN = TOKEN
    call_command("pix_register_webhook", base_url=live_server.url)
    charge = ChargeFactory(client=ClientFactory(document="52998224725"), amount=D("99.90"))
    cobv = cobv_ensure(charge=charge)
    env = {
        "PIX_PROVIDER": "api_pix",
        "PIX_API_BASE_URL": pix_simulator.base_url,
        "PIX_OAUTH_URL": pix_simulator.oauth_url,
        "PIX_CLIENT_ID": pix_simulator.client_id,
        "PIX_CLIENT_SECRET": pix_simulator.client_secret,
        "PIX_WEBHOOK_TOKEN": TOKEN,
    }
    log = tmp_path / "q.log"
    cluster = QCluster(waha_url="http://127.0.0.1:9", waha_key="", log_path=log, extra_env=env).start()
    try:
        wait_cluster_ready()
        pix_simulator.faults(timeout=1, timeout_seconds=8)  # the next API call answers 8 s late
        e2eid = pix_simulator.pay(cobv.txid)["pix"]["endToEndId"]
        wait_until(
            lambda: any(e2eid in str(r) for r in pix_simulator.snapshot()["requests"]),
            timeout=30,
            what="the worker asking the PSP about the Pix",
        )
        cluster.kill()
        assert Charge.objects.get(pk=charge.pk).status == Charge.Status.OPEN
        assert PixNotification.objects.get().status == "pending" and not Payment.objects.exists()

        queue = use_fresh_queue(monkeypatch)
        cluster = QCluster(
            waha_url="http://127.0.0.1:9",
            waha_key="",
            log_path=log,
            extra_env={**env, "Q_CLUSTER_NAME": queue},
        ).start()
        wait_cluster_ready()
        notification = PixNotification.objects.get()
        assert pix_notifications_sweep(now=notification.next_attempt_at) == 1  # what the minute's sweep does
        wait_until(
            lambda: Charge.objects.filter(pk=charge.pk, status=Charge.Status.PAID).exists(),
            timeout=60,
            what="the charge paid after the restart",
        )
    finally:
        cluster.stop()
    assert Payment.objects.count() == 1 and PixNotification.objects.get().status == "confirmed"
