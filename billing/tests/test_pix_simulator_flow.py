"""The payment loop over real HTTP against the PSP simulator: the cobv is PUT there (the simulator checks it
against the spec), `pix_register_webhook` registers this server, the simulator pays and posts the webhook to
the live server, and the confirmation task (run here, in place of the worker) asks the simulator before
anything is applied. test_e2e_pix.py does the same with a real qcluster."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Charge, Payment, PaymentIssue, PixCobv, PixNotification
from billing.payments.pix_charges import cobv_ensure, pix_code_for
from billing.payments.pix_notifications import CONFIRM_TASK, pix_catch_up, pix_notifications_sweep
from billing.tasks import pix_confirm_task
from billing.tests.factories import ChargeFactory, ClientFactory

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
TOKEN = "simulador-token-do-webhook-0123456789abcdef"


@pytest.fixture
def wired(pix_settings, pix_simulator, live_server, monkeypatch):
    """api_pix at the simulator, the webhook registered at the live server, tasks recorded (not run)."""
    pix_settings.PIX_WEBHOOK_TOKEN = TOKEN
    pix_settings.PIX_KEY = "pix@cobranca.example"
    call_command("pix_register_webhook", base_url=live_server.url)
    tasks: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: tasks.append((func, *args)))
    return pix_simulator, tasks


def run_tasks(tasks) -> dict:
    outcomes: dict = {}
    while tasks:
        func, *args = tasks.pop(0)
        if func != CONFIRM_TASK:
            continue  # e.g. the thank-you message payment_applied's receiver enqueues
        for key, value in pix_confirm_task(*args).items():
            outcomes[key] = outcomes.get(key, 0) + value
    return outcomes


def open_charge(amount="150.00"):
    client = ClientFactory(document="529.982.247-25", name="Ana Lima")
    return ChargeFactory(client=client, amount=D(amount), description="Plano Internet")


def test_the_webhook_is_registered_at_the_psp_with_the_secret_path(wired, live_server):
    simulator, _ = wired
    webhooks = simulator.snapshot()["webhooks"]
    assert f"{live_server.url}/webhook/pix/{TOKEN}" in str(webhooks)


def test_a_paid_cobv_pays_the_charge_through_webhook_and_confirmation(wired):
    simulator, tasks = wired
    charge = open_charge()
    code = pix_code_for(charge)
    cobv = PixCobv.objects.get()
    assert code == cobv.pix_copia_e_cola and code.startswith("000201")
    paid = simulator.pay(cobv.txid)
    assert [d["status"] for d in paid["deliveries"]] == [200]
    assert run_tasks(tasks) == {"paid": 1}
    charge.refresh_from_db()
    payment = Payment.objects.get()
    assert charge.status == Charge.Status.PAID and payment.e2eid == paid["pix"]["endToEndId"]
    assert payment.amount == D("150.00") and PixNotification.objects.get().status == "confirmed"


def test_a_pix_notified_twice_is_applied_once(wired):
    simulator, tasks = wired
    charge = open_charge()
    cobv = cobv_ensure(charge=charge)
    paid = simulator.pay(cobv.txid, times=2)
    assert [d["status"] for d in paid["deliveries"]] == [200, 200]
    assert run_tasks(tasks) == {"paid": 1}
    assert Payment.objects.count() == 1 and PixNotification.objects.count() == 1


def test_a_partial_pix_leaves_the_balance_and_the_next_code_is_a_new_cobv(wired):
    simulator, tasks = wired
    charge = open_charge("150.00")
    first = cobv_ensure(charge=charge)
    simulator.pay(first.txid, partial=True)
    assert run_tasks(tasks) == {"partial": 1}
    charge.refresh_from_db()
    assert charge.balance == D("75.00") and charge.status == Charge.Status.OPEN
    second = cobv_ensure(charge=charge)
    assert second.txid != first.txid and second.amount == D("75.00")
    simulator.pay(second.txid)
    assert run_tasks(tasks) == {"paid": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID and charge.amount_paid == D("150.00")


def test_an_overpayment_goes_to_the_operator_queue(wired):
    simulator, tasks = wired
    charge = open_charge("150.00")
    cobv = cobv_ensure(charge=charge)
    simulator.pay(cobv.txid, valor="200.00")
    assert run_tasks(tasks) == {"overpaid": 1}
    assert PaymentIssue.objects.get().amount == D("50.00")


def test_a_forged_notification_changes_nothing(wired):
    simulator, tasks = wired
    charge = open_charge()
    cobv = cobv_ensure(charge=charge)
    forged = simulator.notify_forged(txid=cobv.txid, valor="150.00", chave="pix@cobranca.example")
    assert forged["deliveries"][0]["status"] == 200
    assert run_tasks(tasks) == {"forged": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN and not Payment.objects.exists()
    assert PixNotification.objects.get().status == "rejected"


def test_a_pix_for_an_unknown_txid_is_queued(wired):
    simulator, tasks = wired
    simulator.pay("TXIDDEOUTROSISTEMA000000000001", valor="42.00")
    assert run_tasks(tasks) == {"unknown_txid": 1}
    assert PaymentIssue.objects.get().kind == "unknown_txid"


def test_psp_down_and_token_expiry_during_confirmation_lose_nothing(wired, pix_settings):
    simulator, tasks = wired
    charge = open_charge()
    cobv = cobv_ensure(charge=charge)
    simulator.pay(cobv.txid)
    # Every token ends now (the client renews it on the 401) and the PSP answers 503 more times than the
    # client retries: the notification stays pending with its error, and a later run applies it.
    simulator.faults(expire_tokens=True, status_5xx=10)
    assert run_tasks(tasks) == {"retry": 1}
    row = PixNotification.objects.get()
    assert row.status == "pending" and row.attempts == 1 and "server_error" in row.last_error
    simulator.faults(status_5xx=0)  # the PSP is back
    pix_notifications_sweep(now=row.next_attempt_at)
    outcome = run_tasks(tasks)
    assert outcome == {"paid": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID and Payment.objects.count() == 1


def test_the_catch_up_repairs_a_missed_webhook(wired):
    simulator, tasks = wired
    charge = open_charge()
    cobv = cobv_ensure(charge=charge)
    simulator.pay(cobv.txid, times=0)  # paid at the PSP, the webhook never came
    assert not tasks and not PixNotification.objects.exists()
    later = timezone.now() + dt.timedelta(seconds=2)  # the window's end is a whole second after the Pix
    assert pix_catch_up(now=later) == {"found": 1, "paid": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert pix_catch_up(now=later + dt.timedelta(minutes=10)) == {"found": 1, "known": 1}
    assert Payment.objects.count() == 1
