"""The same Pix (e2eid) in the queue and applied (#15): applying a payment with an e2eid resolves the open
issues about it, with the reason in the note; the queue refuses to apply a line whose e2eid is applied."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLog
from billing.models import Payment, PaymentIssue
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.queue import payment_issue_apply
from billing.tests.factories import ChargeFactory
from billing.tests.pix_fakes import e2eid
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db
E2E = e2eid(7)


def _apply(charge, *, e2e=E2E, source=Payment.Source.RECEIPT):
    facts = PaymentFacts(amount=Decimal("50.00"), paid_at=timezone.now(), source=source, e2eid=e2e)
    return apply_payment(charge_id=charge.pk, facts=facts)


def test_applying_the_pix_resolves_its_unknown_txid_issue(django_capture_on_commit_callbacks):
    issue = PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.UNKNOWN_TXID,
        key=f"unknown_txid:{E2E}",
        amount=Decimal("50.00"),
        details={"e2eid": E2E, "txid": ""},
    )
    other = PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.UNKNOWN_TXID, key=f"unknown_txid:{e2eid(8)}", details={"e2eid": e2eid(8)}
    )
    charge = ChargeFactory(amount=Decimal("100.00"))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = _apply(charge)
    issue.refresh_from_db(), other.refresh_from_db()
    assert issue.status == PaymentIssue.Status.RESOLVED and issue.payment == outcome.payment
    assert _note(charge.pk) in issue.note
    assert other.status == PaymentIssue.Status.OPEN
    assert AuditLog.objects.filter(action="payment_issue.auto_resolve").count() == 1


def _note(charge_id: int) -> str:
    return f"Resolvida automaticamente: o Pix {E2E} foi aplicado à cobrança nº {charge_id}"


def test_a_conflict_with_this_payment_stays_open(django_capture_on_commit_callbacks):
    conflict = PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.UNKNOWN_TXID,
        key=f"unknown_txid:{E2E}",
        details={"e2eid": E2E, "applied_to": 1},
    )
    with django_capture_on_commit_callbacks(execute=True):
        _apply(ChargeFactory(amount=Decimal("100.00")))
    conflict.refresh_from_db()
    assert conflict.status == PaymentIssue.Status.OPEN


def test_the_queue_refuses_a_line_whose_pix_is_already_applied(django_capture_on_commit_callbacks):
    charge = ChargeFactory(amount=Decimal("100.00"))
    with django_capture_on_commit_callbacks(execute=True):
        applied = _apply(charge).payment
    facts = {
        "amount": "50.00",
        "paid_at": timezone.now().isoformat(),
        "reference": "acc:1",
        "account": "acc",
        "fitid": "1",
        "fingerprint": "f",
        "trntype": "CREDIT",
        "name": "MARIA",
        "memo": f"PIX RECEBIDO {E2E} MARIA",
        "payer_name": "MARIA",
        "payer_document": "",
        "txid": "",
    }
    issue = PaymentIssue.objects.create(
        kind=PaymentIssue.Kind.UNMATCHED,
        key="statement:acc:1",
        amount=Decimal("50.00"),
        details={"source": "statement", "facts": facts},
    )
    with pytest.raises(ApplicationError) as refused:
        payment_issue_apply(issue_id=issue.pk, charge_id=charge.pk, by=None)
    assert f"já foi aplicado à cobrança nº {charge.pk} (pagamento #{applied.pk})" in str(refused.value)
    assert Payment.objects.count() == 1
    issue.refresh_from_db()
    assert issue.status == PaymentIssue.Status.OPEN
    # Without an applied e2eid in it, the same line applies.
    facts["memo"] = "PIX RECEBIDO MARIA"
    PaymentIssue.objects.filter(pk=issue.pk).update(details={"source": "statement", "facts": facts})
    assert payment_issue_apply(issue_id=issue.pk, charge_id=charge.pk, by=None).status == "paid"
