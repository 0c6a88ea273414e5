"""The PSP's payment webhook and what follows: intake (token, size, JSON, dedupe), confirmation at the PSP
(forged, unknown txid, partial/over/double payment, PSP down, crash between confirmation and marking), the
sweep and the catch-up. The PSP is a fake at the client seam; test_pix_e2e.py runs the real simulator."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from billing.models import Charge, Payment, PaymentIssue, PixCatchUp, PixNotification
from billing.payments import pix_charges, pix_notifications
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.pix_charges import cobv_ensure
from billing.payments.pix_notifications import (
    CONFIRM_TASK,
    pix_catch_up,
    pix_notification_confirm,
    pix_notifications_confirm,
    pix_notifications_sweep,
)
from billing.pix_api import PixApiError
from billing.tasks import pix_confirm_task
from billing.tests.factories import ChargeFactory, ClientFactory
from billing.tests.pix_fakes import FakePsp, e2eid, transient

pytestmark = pytest.mark.django_db
D = Decimal
TOKEN = "t0k3n-pix-webhook-secreto-0123456789"
URL = f"/webhook/pix/{TOKEN}/pix"


@pytest.fixture
def psp(monkeypatch, settings):
    fake = FakePsp()
    settings.PIX_PROVIDER = "api_pix"
    settings.PIX_WEBHOOK_TOKEN = TOKEN
    monkeypatch.setattr(pix_charges, "get_pix_client", lambda: fake)
    monkeypatch.setattr(pix_notifications, "get_pix_client", lambda: fake)
    return fake


@pytest.fixture
def enqueued(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: calls.append((func, *args)))
    return calls


def cobv_for(amount="100.00", **kw):
    client = ClientFactory(document="12.345.678/0001-95")
    charge = ChargeFactory(client=client, amount=D(amount), **kw)
    return charge, cobv_ensure(charge=charge)


def post(client, items, url=URL, **extra):
    # With Redis as the broker the confirmation is enqueued on commit (cobranca.tasks.enqueue_with_rows): the
    # callbacks run here as the request's real commit would run them (the ORM broker enqueues inline).
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data=json.dumps({"pix": items}), content_type="application/json", **extra)


def run_enqueued(enqueued):
    """What the worker would do with every task the intake enqueued."""
    outcomes = {}
    while enqueued:
        func, *args = enqueued.pop(0)
        if func != CONFIRM_TASK:
            continue  # e.g. the thank-you message payment_applied's receiver enqueues
        for key, value in pix_confirm_task(*args).items():
            outcomes[key] = outcomes.get(key, 0) + value
    return outcomes


# --- intake -------------------------------------------------------------------------------------------------


def test_a_notification_is_stored_raw_and_its_confirmation_enqueued(client, psp, enqueued):
    charge, cobv = cobv_for()
    item = psp.pay(cobv.txid, "100.00", 1)
    response = post(client, [item])
    assert response.status_code == 200 and response.json() == {"status": "ok", "accepted": 1, "duplicates": 0}
    row = PixNotification.objects.get()
    assert row.raw == item and row.status == "pending" and row.txid == cobv.txid
    assert enqueued == [(CONFIRM_TASK, [row.pk])]
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN  # nothing believed before the PSP confirms


def test_a_replayed_notification_is_stored_once_and_enqueued_once(client, psp, enqueued):
    _, cobv = cobv_for()
    item = psp.pay(cobv.txid, "100.00", 1)
    post(client, [item])
    again = post(client, [item, item])
    assert again.status_code == 200 and again.json()["accepted"] == 0 and again.json()["duplicates"] == 2
    assert PixNotification.objects.count() == 1 and len(enqueued) == 1


@pytest.mark.parametrize("token", ["errado", TOKEN[:-1], TOKEN + "x", ""])
def test_a_wrong_token_is_an_ordinary_404_and_stores_nothing(client, psp, enqueued, token):
    response = post(client, [psp.pay("x" * 30, "1.00", 1)], url=f"/webhook/pix/{token}/pix")
    assert response.status_code == 404 and b"token" not in response.content.lower()
    assert not PixNotification.objects.exists() and not enqueued


def test_the_webhook_is_off_without_a_configured_token(client, psp, settings):
    settings.PIX_WEBHOOK_TOKEN = ""
    assert (
        client.post("/webhook/pix/qualquer/pix", data="{}", content_type="application/json").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "malformed_json"),
        (b'{"pix": NaN}', "non_standard_json"),
        (
            b'{"pix": [{"endToEndId": "E18236120202612070600ABCDEFGHJK1", "valor": 1e400}]}',
            "number_out_of_range",
        ),
        (b'{"pix": [{"valor": -1E+999}]}', "number_out_of_range"),
        (b'{"outra": []}', "missing_pix_list"),
        (b"[]", "missing_pix_list"),
        (b'{"pix": [{"endToEndId": "\\u0000"}]}', "nul_character"),
        (b'{"pix": [{"x": "\\ud800"}]}', "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    ],
)
def test_invalid_json_is_a_400_that_stores_nothing(client, psp, body, reason):
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["reason"] == reason
    assert not PixNotification.objects.exists()


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, psp, settings):
    settings.PIX_WEBHOOK_MAX_BYTES = 2048
    body = json.dumps({"pix": [{"endToEndId": e2eid(n), "valor": "1.00"} for n in range(100)]})
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 413 and not PixNotification.objects.exists()


def test_items_without_a_valid_e2eid_are_ignored(client, psp, enqueued):
    response = post(client, [{"endToEndId": "curto"}, {"valor": "1.00"}, "texto", {"endToEndId": e2eid(3)}])
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert list(PixNotification.objects.values_list("e2eid", flat=True)) == [e2eid(3)]


def test_get_is_not_allowed(client, psp):
    assert client.get(URL).status_code == 405


# --- confirmation -------------------------------------------------------------------------------------------


def test_a_confirmed_pix_pays_the_charge_with_the_psp_facts(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    item = psp.pay(cobv.txid, "100.00", 1)
    forged_view = {**item, "valor": "999.99", "horario": "2020-01-01T00:00:00Z"}  # the body lies
    post(client, [forged_view])
    assert run_enqueued(enqueued) == {"paid": 1}
    charge.refresh_from_db()
    payment = Payment.objects.get()
    assert charge.status == Charge.Status.PAID and charge.balance == 0
    assert payment.amount == D("100.00") and payment.e2eid == item["endToEndId"] and payment.txid == cobv.txid
    assert payment.source == Payment.Source.PIX_API and payment.paid_at.year != 2020
    row = PixNotification.objects.get()
    assert row.status == "confirmed" and row.payment == payment and row.processed_at
    cobv.refresh_from_db()
    assert cobv.status == "paid"


def test_a_forged_notification_changes_nothing(client, psp, enqueued):
    charge, cobv = cobv_for()
    post(
        client,
        [{"endToEndId": e2eid(77), "txid": cobv.txid, "valor": "100.00", "horario": "2026-12-07T10:00:00Z"}],
    )
    assert run_enqueued(enqueued) == {"forged": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN and not Payment.objects.exists()
    assert PixNotification.objects.get().status == "rejected"


def test_a_partial_payment_leaves_the_balance_open(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "40.00", 1)])
    assert run_enqueued(enqueued) == {"partial": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN and charge.balance == D("60.00")


def test_an_overpayment_pays_and_queues_the_excess(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "130.00", 1)])
    assert run_enqueued(enqueued) == {"overpaid": 1}
    charge.refresh_from_db()
    issue = PaymentIssue.objects.get()
    assert charge.status == Charge.Status.PAID and issue.kind == "overpayment" and issue.amount == D("30.00")


def test_a_second_pix_for_a_paid_charge_is_recorded_and_queued(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "100.00", 1), psp.pay(cobv.txid, "100.00", 2)])
    assert run_enqueued(enqueued) == {"paid": 1, "not_payable": 1}
    charge.refresh_from_db()
    assert charge.amount_paid == D("200.00") and Payment.objects.count() == 2
    assert PaymentIssue.objects.get().kind == "overpayment"


def test_a_pix_for_an_unknown_txid_goes_to_the_operator_queue(client, psp, enqueued):
    item = psp.pay("TXIDQUENAOEHNOSSO0000000000000", "55.00", 1)
    post(client, [item])
    assert run_enqueued(enqueued) == {"unknown_txid": 1}
    issue = PaymentIssue.objects.get()
    assert (
        issue.kind == "unknown_txid"
        and issue.amount == D("55.00")
        and issue.key == f"unknown_txid:{e2eid(1)}"
    )
    assert PixNotification.objects.get().status == "confirmed" and not Payment.objects.exists()
    pix_notification_confirm(notification_id=PixNotification.objects.get().pk)
    assert PaymentIssue.objects.count() == 1


def test_a_pix_with_an_unknown_txid_already_applied_through_a_receipt_is_not_queued(client, psp, enqueued):
    charge = ChargeFactory(amount=D("55.00"))
    facts = PaymentFacts(amount=D("55.00"), paid_at=timezone.now(), source="receipt", e2eid=e2eid(1))
    payment = apply_payment(charge_id=charge.pk, facts=facts).payment
    post(client, [psp.pay("TXIDQUENAOEHNOSSO0000000000000", "55.00", 1)])
    assert run_enqueued(enqueued) == {"already_applied": 1}
    assert not PaymentIssue.objects.exists()
    assert PixNotification.objects.get().payment == payment


def test_psp_down_during_confirmation_retries_with_backoff_and_loses_nothing(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "100.00", 1)])
    psp.failures += [transient(), transient("timeout")]
    assert run_enqueued(enqueued) == {"retry": 1}
    row = PixNotification.objects.get()
    assert row.status == "pending" and row.attempts == 1 and "server_error" in row.last_error
    assert row.next_attempt_at > timezone.now()
    # The sweep only hands it out once its backoff passed; the PSP is still down once more.
    assert pix_notifications_sweep() == 0
    assert pix_notifications_sweep(now=row.next_attempt_at + dt.timedelta(seconds=1)) == 1
    assert run_enqueued(enqueued) == {"retry": 1}
    row.refresh_from_db()
    assert row.attempts == 2 and "timeout" in row.last_error
    pix_notifications_sweep(now=row.next_attempt_at + dt.timedelta(seconds=1))
    assert run_enqueued(enqueued) == {"paid": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID and PixNotification.objects.get().status == "confirmed"


def test_an_expired_token_mid_run_is_retried_not_lost(client, psp, enqueued):
    """The client renews a token the PSP refused once; a PSP that keeps refusing it makes a permanent
    'unauthorized' error, which is a setup problem: the notification waits, it is not rejected."""
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "100.00", 1), psp.pay(cobv.txid, "1.00", 2)])
    psp.failures.append(PixApiError("unauthorized", "token expirado", permanent=True, status=401))
    assert run_enqueued(enqueued) == {"retry": 1, "partial": 1}
    statuses = sorted(PixNotification.objects.values_list("status", flat=True))
    assert statuses == ["confirmed", "pending"]
    pix_notifications_sweep(now=timezone.now() + dt.timedelta(hours=1))
    assert run_enqueued(enqueued) == {"overpaid": 1}
    charge.refresh_from_db()
    assert set(PixNotification.objects.values_list("status", flat=True)) == {"confirmed"}
    assert charge.status == Charge.Status.PAID and charge.amount_paid == D("101.00")


def test_a_crash_after_the_payment_before_the_mark_is_finished_by_the_rerun(client, psp, enqueued):
    """kill -9 between confirmation and state change: the payment was applied, the notification is still
    PENDING. The sweep hands it out again after STALE_MINUTES; the rerun finds the payment and marks it."""
    charge, cobv = cobv_for("100.00")
    item = psp.pay(cobv.txid, "100.00", 1)
    post(client, [item])
    enqueued.clear()  # the worker took the task and died
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("100.00"),
            paid_at=timezone.now(),
            source=Payment.Source.PIX_API,
            e2eid=item["endToEndId"],
            txid=cobv.txid,
        ),
    )
    row = PixNotification.objects.get()
    assert row.status == "pending"
    assert pix_notifications_sweep() == 0  # not stale yet
    assert pix_notifications_sweep(now=row.next_attempt_at) == 1
    assert run_enqueued(enqueued) == {"already_applied": 1}
    row.refresh_from_db()
    charge.refresh_from_db()
    assert row.status == "confirmed" and row.payment_id == Payment.objects.get().pk
    assert charge.amount_paid == D("100.00") and Payment.objects.count() == 1


def test_a_pix_already_applied_to_another_charge_is_queued_not_moved(client, psp, enqueued):
    """The receipt path (an operator's confirm) applied this e2eid to another charge first: one payment, an
    open issue, no 500."""
    charge, cobv = cobv_for("100.00")
    item = psp.pay(cobv.txid, "100.00", 1)
    other = ChargeFactory(amount=D("100.00"))
    facts = PaymentFacts(
        amount=D("100.00"), paid_at=timezone.now(), source=Payment.Source.RECEIPT, e2eid=item["endToEndId"]
    )
    apply_payment(charge_id=other.pk, facts=facts)
    post(client, [item])
    assert run_enqueued(enqueued) == {"applied_elsewhere": 1}
    assert Payment.objects.get().charge == other
    issue = PaymentIssue.objects.get(key=f"unknown_txid:{item['endToEndId']}")
    assert (
        issue.status == PaymentIssue.Status.OPEN and issue.details["applied_to"] == Payment.objects.get().pk
    )
    charge.refresh_from_db()
    assert charge.amount_paid == 0 and PixNotification.objects.get().status == "confirmed"


def test_running_the_task_twice_applies_once(client, psp, enqueued):
    _, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "100.00", 1)])
    ids = enqueued[0][1]
    assert pix_notifications_confirm(notification_ids=ids) == {"paid": 1}
    assert pix_notifications_confirm(notification_ids=ids) == {"done": 1}
    assert Payment.objects.count() == 1


def test_a_psp_answer_for_another_pix_is_refused(client, psp, enqueued):
    _, cobv = cobv_for("100.00")
    item = psp.pay(cobv.txid, "100.00", 1)
    psp.pix[item["endToEndId"]] = {**item, "endToEndId": e2eid(999)}
    post(client, [item])
    assert run_enqueued(enqueued) == {"invalid": 1}
    assert PixNotification.objects.get().status == "failed" and not Payment.objects.exists()


# --- catch-up -----------------------------------------------------------------------------------------------


def test_the_catch_up_applies_what_no_webhook_announced_and_remembers_where_it_stopped(psp):
    charge, cobv = cobv_for("100.00")
    psp.pay(cobv.txid, "100.00", 1)
    now = timezone.now().replace(microsecond=0)  # the window is in whole seconds
    assert pix_catch_up(now=now) == {"found": 1, "paid": 1}
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert PixNotification.objects.get().origin == "catch_up"
    assert PixCatchUp.objects.get().last_seen == now
    # The next run lists it again (overlap) and changes nothing.
    assert pix_catch_up(now=now + dt.timedelta(minutes=10)) == {"found": 1, "known": 1}
    assert Payment.objects.count() == 1


def test_the_catch_up_and_the_webhook_apply_one_pix_once(client, psp, enqueued):
    charge, cobv = cobv_for("100.00")
    post(client, [psp.pay(cobv.txid, "100.00", 1)])
    pix_catch_up()
    run_enqueued(enqueued)
    charge.refresh_from_db()
    assert Payment.objects.count() == 1 and charge.amount_paid == D("100.00")


def test_a_psp_failure_keeps_the_catch_up_window(psp):
    start = timezone.now().replace(microsecond=0)
    pix_catch_up(now=start)
    psp.failures.append(transient())
    assert pix_catch_up(now=start + dt.timedelta(minutes=10))["error"] == "server_error"
    state = PixCatchUp.objects.get()
    assert state.last_seen == start and state.last_error


def test_the_catch_up_does_nothing_with_the_static_provider(settings):
    settings.PIX_PROVIDER = "static"
    assert "skipped" in pix_catch_up()
