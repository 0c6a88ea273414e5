"""A Pix paid with the static BR Code of a charge (a charge without CPF gets it under api_pix; its txid is the
charge's reference, chatbot.pix.pix_txid): applied to that charge when the txid names exactly one open charge,
and an unknown-txid item of the queue can be applied to a charge by an operator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from billing.models import Charge, Payment, PaymentIssue, PixNotification
from billing.payments import pix_notifications, queue
from billing.payments.pix_notifications import pix_notification_confirm
from billing.tests.factories import ChargeFactory
from billing.tests.pix_fakes import FakePsp
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def psp(monkeypatch, settings):
    fake = FakePsp()
    settings.PIX_PROVIDER = "api_pix"
    monkeypatch.setattr(pix_notifications, "get_pix_client", lambda: fake)
    return fake


def notify(psp: FakePsp, txid: str, valor: str, n: int) -> str:
    item = psp.pay(txid, valor, n)
    stored = pix_notifications.pix_notifications_store(items=[item])
    return pix_notification_confirm(notification_id=stored.accepted[0])


def test_a_pix_paid_with_the_static_code_of_an_open_charge_pays_it(psp):
    charge = ChargeFactory(amount=D("150.00"), external_id="DEMO-001")
    assert notify(psp, "DEMO001", "150.00", 1) == "paid"
    charge.refresh_from_db()
    payment = Payment.objects.get()
    assert charge.status == Charge.Status.PAID and payment.charge == charge and payment.txid == "DEMO001"
    assert not PaymentIssue.objects.exists()


def test_a_charge_without_external_id_is_found_by_its_cob_reference(psp):
    charge = ChargeFactory(amount=D("80.00"), external_id=None)
    assert notify(psp, f"COB{charge.pk}", "30.00", 1) == "partial"
    charge.refresh_from_db()
    assert charge.balance == D("50.00")


def test_a_static_txid_of_two_open_charges_or_of_a_paid_one_goes_to_the_queue(psp):
    ChargeFactory(amount=D("10.00"), external_id="AB-12")
    ChargeFactory(amount=D("10.00"), external_id="AB12")
    assert notify(psp, "AB12", "10.00", 1) == "unknown_txid"
    ChargeFactory(amount=D("10.00"), external_id="PAGA1", status=Charge.Status.PAID)
    assert notify(psp, "PAGA1", "10.00", 2) == "unknown_txid"
    assert not Payment.objects.exists() and PaymentIssue.objects.filter(kind="unknown_txid").count() == 2


def test_an_operator_applies_an_unknown_txid_pix_to_the_charge_he_picks(psp):
    assert notify(psp, "NAOEHDENINGUEM", "40.00", 1) == "unknown_txid"
    issue = PaymentIssue.objects.get()
    charge = ChargeFactory(amount=D("40.00"))
    operator = User.objects.create_user("op", password="x")
    outcome = queue.payment_issue_apply(issue_id=issue.pk, charge_id=charge.pk, by=operator)
    issue.refresh_from_db()
    charge.refresh_from_db()
    assert outcome.status == "paid" and charge.status == Charge.Status.PAID
    payment = Payment.objects.get()
    assert payment.e2eid == PixNotification.objects.get().e2eid and payment.source == Payment.Source.PIX_API
    assert payment.amount == D("40.00") and payment.recorded_by == operator
    assert issue.status == PaymentIssue.Status.RESOLVED and issue.payment == payment
    with pytest.raises(ApplicationError):
        queue.payment_issue_apply(issue_id=issue.pk, charge_id=charge.pk, by=operator)
