"""A receipt left over after the operator confirmed the charge's payment: it cannot be confirmed again (no
made-up overpayment), and the confirmation closes it and its "Comprovante suspeito" queue item."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Charge, Payment, PaymentIssue, ReceiptCheck
from billing.payments.operator_confirm import charge_confirm_payment
from billing.receipts import services
from billing.tests.factories import ChargeFactory
from cobranca.exceptions import ApplicationError
from conversations.models import Attachment
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def suspect_receipt(charge: Charge, amount: str = "100.00") -> ReceiptCheck:
    conversation = charge.client.conversations.first() or ConversationFactory(client=charge.client)
    message = MessageFactory(conversation=conversation, body="")
    attachment = Attachment.objects.create(
        message=message, status=Attachment.Status.STORED, kind="pdf", content_type="application/pdf"
    )
    check = ReceiptCheck.objects.create(
        attachment=attachment,
        charge=charge,
        status=ReceiptCheck.Status.SUSPECT,
        amount=Decimal(amount),
        paid_at=timezone.now(),
        checks=[{"code": "date", "ok": False, "message": "data estranha"}],
    )
    PaymentIssue.objects.create(
        key=f"receipt:{check.pk}",
        kind=PaymentIssue.Kind.SUSPECT_RECEIPT,
        charge=charge,
        amount=check.amount,
        details={"receipt_check": check.pk},
    )
    return check


def test_confirming_the_charge_closes_its_open_receipts_and_their_queue_items(django_user_model):
    operator = django_user_model.objects.create_user("op")
    charge = ChargeFactory(amount=Decimal("250.00"))
    check = suspect_receipt(charge)
    charge_confirm_payment(charge=charge, by=operator)
    check.refresh_from_db()
    issue = PaymentIssue.objects.get(key=f"receipt:{check.pk}")
    assert check.status == ReceiptCheck.Status.SETTLED
    assert not check.decidable
    assert check.decided_by == operator
    assert any(c["code"] == "settled" for c in check.checks)
    assert issue.status == PaymentIssue.Status.RESOLVED and "paga" in issue.note
    assert Payment.objects.filter(charge=charge).count() == 1


def test_a_receipt_for_a_charge_with_nothing_owed_cannot_be_confirmed(django_user_model):
    operator = django_user_model.objects.create_user("op")
    charge = ChargeFactory(amount=Decimal("250.00"))
    check = suspect_receipt(charge)
    charge_confirm_payment(charge=charge, by=operator)
    # Even if it was left decidable (e.g. an older confirmation), confirming changes nothing.
    ReceiptCheck.objects.filter(pk=check.pk).update(status=ReceiptCheck.Status.SUSPECT)
    check.refresh_from_db()
    with pytest.raises(ApplicationError) as raised:
        services.receipt_confirm(check=check, by=operator)
    assert "já está paga" in raised.value.message
    check.refresh_from_db()
    assert check.status == ReceiptCheck.Status.SUSPECT
    assert Payment.objects.filter(charge=charge).count() == 1
    assert not PaymentIssue.objects.filter(kind=PaymentIssue.Kind.OVERPAYMENT).exists()


def test_a_receipt_on_a_cancelled_charge_cannot_be_confirmed(django_user_model):
    operator = django_user_model.objects.create_user("op")
    charge = ChargeFactory(amount=Decimal("250.00"))
    check = suspect_receipt(charge)
    Charge.objects.filter(pk=charge.pk).update(status=Charge.Status.CANCELLED)
    with pytest.raises(ApplicationError):
        services.receipt_confirm(check=check, by=operator)
    assert not Payment.objects.filter(charge=charge).exists()


def test_a_receipt_confirmation_that_pays_the_charge_closes_the_other_receipts(django_user_model):
    operator = django_user_model.objects.create_user("op")
    charge = ChargeFactory(amount=Decimal("100.00"))
    first, second = suspect_receipt(charge), suspect_receipt(charge)
    services.receipt_confirm(check=first, by=operator)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ReceiptCheck.Status.CONFIRMED
    assert second.status == ReceiptCheck.Status.SETTLED
    assert PaymentIssue.objects.get(key=f"receipt:{second.pk}").status == PaymentIssue.Status.RESOLVED
