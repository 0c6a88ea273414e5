"""Promises kept/broken, agreements broken by overdue installments, payment claims that expire."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import Agreement, Charge, Installment, Payment, PaymentIssue, PromiseToPay
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.lifecycle import (
    agreements_break_overdue,
    claims_expire,
    payments_lifecycle_run,
    promises_mark_broken,
)
from billing.tasks import payments_lifecycle_task
from billing.tests.factories import ChargeFactory
from cobranca.provisioning import SCHEDULES

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate()


def test_a_promise_is_broken_the_day_after_its_date_and_the_charge_reopens():
    charge = ChargeFactory(amount=D("100.00"))
    promise = services.promise_create(charge=charge, promised_date=TODAY + dt.timedelta(days=1))
    assert promises_mark_broken(today=TODAY + dt.timedelta(days=1)) == []  # its own day: still pending
    assert promises_mark_broken(today=TODAY + dt.timedelta(days=2)) == [promise.pk]
    assert promises_mark_broken(today=TODAY + dt.timedelta(days=2)) == []  # idempotent
    promise.refresh_from_db()
    charge.refresh_from_db()
    assert promise.status == PromiseToPay.Status.BROKEN and charge.status == Charge.Status.OPEN


def test_a_promise_paid_by_its_date_is_kept_and_never_broken():
    charge = ChargeFactory(amount=D("100.00"))
    promise = services.promise_create(charge=charge, promised_date=TODAY + dt.timedelta(days=1))
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("100.00"), paid_at=timezone.now(), source=Payment.Source.STATEMENT, reference="x1"
        ),
    )
    assert promises_mark_broken(today=TODAY + dt.timedelta(days=5)) == []
    promise.refresh_from_db()
    assert promise.status == PromiseToPay.Status.KEPT


def _agreement(charge, first_due):
    agreement = services.agreement_create(
        charge=charge, installments=3, first_due_date=TODAY + dt.timedelta(days=1)
    )
    # Move the schedule as if the agreement had been made months ago.
    for row in agreement.schedule.all():
        row.due_date = first_due + dt.timedelta(days=30 * (row.number - 1))
        row.save(update_fields=["due_date"])
    return agreement


def test_two_installments_overdue_break_the_agreement_and_reopen_the_balance():
    charge = ChargeFactory(amount=D("300.00"))
    agreement = _agreement(charge, TODAY - dt.timedelta(days=60))
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("100.00"), paid_at=timezone.now(), source=Payment.Source.STATEMENT, reference="x2"
        ),
    )
    # One installment paid, the 2nd overdue 30 days, the 3rd overdue 0 days: only one late → not broken.
    assert agreements_break_overdue(today=TODAY, days=5) == []
    assert agreements_break_overdue(today=TODAY + dt.timedelta(days=6), days=5) == [agreement.pk]
    agreement.refresh_from_db()
    charge.refresh_from_db()
    assert agreement.status == Agreement.Status.BROKEN
    assert charge.status == Charge.Status.OPEN and charge.balance == D("200.00")
    assert list(agreement.schedule.values_list("status", flat=True)) == [
        Installment.Status.PAID,
        Installment.Status.CANCELLED,
        Installment.Status.CANCELLED,
    ]
    assert agreements_break_overdue(today=TODAY + dt.timedelta(days=60), days=5) == []


def test_a_stale_claim_goes_to_the_operator_queue_once():
    charge = ChargeFactory(amount=D("100.00"))
    services.charge_claim_payment(charge=charge)
    now = timezone.now()
    assert claims_expire(now=now + dt.timedelta(days=1), days=5) == []
    made = claims_expire(now=now + dt.timedelta(days=6), days=5)
    assert len(made) == 1 and claims_expire(now=now + dt.timedelta(days=7), days=5) == []
    issue = PaymentIssue.objects.get()
    assert issue.kind == PaymentIssue.Kind.CLAIM_EXPIRED and issue.charge == charge


def test_a_claim_is_confirmed_when_the_payment_arrives():
    charge = ChargeFactory(amount=D("100.00"))
    services.charge_claim_payment(charge=charge)
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("100.00"), paid_at=timezone.now(), source=Payment.Source.PIX_API, e2eid="E1"
        ),
    )
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert claims_expire(now=timezone.now() + dt.timedelta(days=30), days=5) == []


def test_the_lifecycle_runs_every_step_and_is_scheduled():
    charge = ChargeFactory(amount=D("100.00"))
    services.promise_create(charge=charge, promised_date=TODAY)
    result = payments_lifecycle_run(now=timezone.now() + dt.timedelta(days=2))
    assert result == {"promises_broken": 1, "agreements_broken": 0, "claims_expired": 0}
    assert SCHEDULES["payments-lifecycle"][0] == "billing.tasks.payments_lifecycle_task"
    assert payments_lifecycle_task() == {"promises_broken": 0, "agreements_broken": 0, "claims_expired": 0}
