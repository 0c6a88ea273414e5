"""An operator's "Confirmar pagamento" (inbox quick action, debtor page "Marcar como paga"): the money he
saw is recorded as a Payment (source operator) through apply_payment, so the debtor is thanked by the same
rules as a Pix or a statement line (payment_applied → chatbot.payment_thanks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from billing import services as billing_services
from billing.models import Charge, Payment, PaymentIssue
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.operator_confirm import charge_confirm_payment
from billing.tests.factories import ChargeFactory
from conversations import quick_actions
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def thanked(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(
        "chatbot.payment_thanks.enqueue_with_rows", lambda task, payment_id, **kw: calls.append(payment_id)
    )
    return calls


@pytest.fixture
def operator() -> User:
    return User.objects.create_user("ana", password="x")


def test_the_quick_action_records_what_was_owed_and_the_debtor_is_thanked(
    operator, thanked, django_capture_on_commit_callbacks
):
    charge = ChargeFactory(amount=Decimal("300.00"))
    part = PaymentFacts(amount=Decimal("100"), paid_at=timezone.now(), source="statement", reference="x1")
    apply_payment(charge_id=charge.pk, facts=part)
    thanked.clear()
    conversation = ConversationFactory(client=charge.client)
    with django_capture_on_commit_callbacks(execute=True):
        quick_actions.conversation_confirm_payment(conversation=conversation, charge=charge, by=operator)
    charge.refresh_from_db()
    payment = Payment.objects.get(source=Payment.Source.OPERATOR)
    assert charge.status == Charge.Status.PAID and charge.balance == 0
    assert payment.amount == Decimal("200.00") and payment.recorded_by == operator
    assert thanked == [payment.pk]


def test_under_a_discounted_agreement_what_the_installments_owe_is_recorded_with_no_excess(operator, thanked):
    charge = ChargeFactory(amount=Decimal("300.00"))
    billing_services.agreement_create(
        charge=charge,
        installments=1,
        discount_percent=Decimal("10"),
        first_due_date=timezone.localdate() + dt.timedelta(days=3),
    )
    charge_confirm_payment(charge=charge, by=operator)
    charge.refresh_from_db()
    payment = Payment.objects.get()
    assert charge.status == Charge.Status.PAID and payment.amount == Decimal("270.00")
    assert not PaymentIssue.objects.exists()


def test_confirming_twice_records_one_payment(operator, thanked):
    charge = ChargeFactory(amount=Decimal("50.00"))
    charge_confirm_payment(charge=charge, by=operator)
    charge_confirm_payment(charge=charge, by=operator)
    assert Payment.objects.count() == 1
