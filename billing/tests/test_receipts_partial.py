"""A receipt for part of a charge ("paguei 120, o resto dia 5"): checked as a partial payment, the charge
keeps its status and reminders, and confirming it applies the part and leaves the rest open."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services as billing_services
from billing.models import Charge, Payment, PromiseToPay, ReceiptCheck
from billing.payments.apply import PaymentFacts, apply_payment
from billing.receipts import services
from billing.receipts.checks import Expectation, expectations_for
from billing.tests.factories import ChargeFactory
from billing.tests.test_receipts_checks import (  # noqa: F401 (fixture)
    creditor_settings,
    outcomes,
    reading,
    receipt_pdf,
    run,
    stored_receipt,
    verdict,
)
from conversations.tests.factories import ConversationFactory, MessageFactory

OWED = [Expectation(Decimal("300.00"), "saldo da cobrança"), Expectation(Decimal("180.00"), "promessa")]


def part(amount: str):
    return reading(amount=Decimal(amount), amounts_seen=[Decimal(amount)])


def test_an_amount_below_the_balance_is_a_partial_payment_to_check_not_a_mismatch():
    result = verdict(part("120.00"), expected=OWED, balance=Decimal("300.00"))
    amount = next(c for c in result.checks if c.code == "amount")
    assert amount.ok is None and "pagamento parcial" in amount.message
    assert "não confere" not in amount.message


def test_an_amount_above_the_balance_still_does_not_match():
    result = verdict(part("900.00"), expected=OWED, balance=Decimal("300.00"))
    assert outcomes(result)["amount"] is False


def test_the_part_the_debtor_said_he_paid_matches():
    stated = [*OWED, Expectation(Decimal("120.00"), "pagamento parcial informado", partial=True)]
    result = verdict(part("120.00"), expected=stated, balance=Decimal("300.00"))
    amount = next(c for c in result.checks if c.code == "amount")
    assert amount.ok is True and "pagamento parcial" in amount.message


def promised_charge() -> Charge:
    charge = ChargeFactory(amount=Decimal("300.00"))
    conversation = ConversationFactory(client=charge.client)
    MessageFactory(
        conversation=conversation,
        body="paguei 120, o resto dia 5",
        intent="confirmacao_pagamento",
        entities={"amount": "120.00", "date": (timezone.localdate() + dt.timedelta(days=5)).isoformat()},
    )
    billing_services.promise_create(
        charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=5), amount=Decimal("180.00")
    )
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PROMISED
    return charge


@pytest.mark.ocr
@pytest.mark.django_db
@pytest.mark.usefixtures("creditor_settings")
def test_the_receipt_of_the_part_the_debtor_stated_passes_and_keeps_the_promise(django_user_model):
    charge = promised_charge()
    check = run(stored_receipt(charge, receipt_pdf(Decimal("120.00"))), charge)
    charge.refresh_from_db()
    amount = next(c for c in check.checks if c["code"] == "amount")
    assert amount["ok"] is True and "pagamento parcial" in amount["message"], check.checks
    assert check.status == ReceiptCheck.Status.REVIEW
    assert charge.status == Charge.Status.PROMISED  # reminders and the promise's follow-up stay
    operator = django_user_model.objects.create_user("op", password="x")
    services.receipt_confirm(check=check, by=operator)
    charge.refresh_from_db()
    assert Payment.objects.get().amount == Decimal("120.00")
    assert charge.balance == Decimal("180.00") and charge.status == Charge.Status.PROMISED
    assert charge.promises.get().status == PromiseToPay.Status.PENDING


@pytest.mark.ocr
@pytest.mark.django_db
@pytest.mark.usefixtures("creditor_settings")
def test_an_unstated_smaller_receipt_is_reviewed_as_partial_and_does_not_claim_the_charge():
    charge = ChargeFactory(amount=Decimal("500.00"))
    check = run(stored_receipt(charge, receipt_pdf(Decimal("50.00"))), charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REVIEW
    assert charge.status == Charge.Status.OPEN


@pytest.mark.django_db
@pytest.mark.parametrize("with_promise", [False, True])
def test_a_partial_payment_on_a_claimed_charge_reopens_it(with_promise):
    charge = ChargeFactory(amount=Decimal("300.00"))
    if with_promise:
        billing_services.promise_create(
            charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=5), amount=Decimal("180")
        )
    billing_services.charge_claim_payment(charge=charge)
    facts = PaymentFacts(amount=Decimal("120.00"), paid_at=timezone.now(), source="receipt", reference="r1")
    outcome = apply_payment(charge_id=charge.pk, facts=facts)
    charge.refresh_from_db()
    assert outcome.status == "partial" and charge.balance == Decimal("180.00")
    assert charge.status == (Charge.Status.PROMISED if with_promise else Charge.Status.OPEN)
    assert charge.accepts_reminders


@pytest.mark.django_db
def test_the_part_paid_before_a_rest_promise_does_not_count_toward_it():
    """ "paguei 120, o resto dia 5": the R$ 120 was paid before the promise of the R$ 180 was made, even if
    its receipt is confirmed after; only money paid since counts toward keeping the promise."""
    charge = ChargeFactory(amount=Decimal("300.00"))
    before = timezone.now() - dt.timedelta(hours=1)
    billing_services.promise_create(
        charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=5), amount=Decimal("180")
    )
    part = PaymentFacts(amount=Decimal("120"), paid_at=before, source="receipt", reference="receipt:1")
    apply_payment(charge_id=charge.pk, facts=part)
    more = PaymentFacts(amount=Decimal("60"), paid_at=timezone.now(), source="pix_api", e2eid="E" + "1" * 31)
    apply_payment(charge_id=charge.pk, facts=more)
    charge.refresh_from_db()
    assert charge.balance == Decimal("120.00")
    assert charge.promises.get().status == PromiseToPay.Status.PENDING
    rest = PaymentFacts(amount=Decimal("120"), paid_at=timezone.now(), source="pix_api", e2eid="E" + "2" * 31)
    apply_payment(charge_id=charge.pk, facts=rest)
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID


def test_the_partial_label_shows_what_would_be_left_after_this_payment():
    stated = [*OWED, Expectation(Decimal("120.00"), "pagamento informado pelo devedor", partial=True)]
    result = verdict(part("120.00"), expected=stated, balance=Decimal("300.00"))
    amount = next(c for c in result.checks if c.code == "amount")
    assert "saldo após este pagamento: R$ 180,00" in amount.message, amount.message
    assert "R$ 300,00" not in amount.message


def test_an_unannounced_part_also_shows_the_balance_after_it():
    result = verdict(part("100.00"), expected=OWED, balance=Decimal("300.00"))
    amount = next(c for c in result.checks if c.code == "amount")
    assert amount.ok is None and "saldo após este pagamento: R$ 200,00" in amount.message, amount.message


@pytest.mark.django_db
def test_the_stated_part_is_labelled_as_stated_even_when_a_promise_has_the_same_amount():
    charge = ChargeFactory(amount=Decimal("240.00"))
    billing_services.promise_create(
        charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=5), amount=Decimal("120.00")
    )
    charge.refresh_from_db()
    expected = expectations_for(charge, [Decimal("120.00")])
    result = verdict(part("120.00"), expected=expected, balance=charge.balance)
    amount = next(c for c in result.checks if c.code == "amount")
    assert amount.ok is True and "pagamento informado pelo devedor" in amount.message, amount.message
    assert "promessa" not in amount.message
    assert result.matched is not None and result.matched.partial
