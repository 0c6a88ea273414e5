"""apply_payment: the one writer of payments (full, partial, over, double, installments, promises)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import services
from billing.models import Agreement, Charge, Installment, Payment, PaymentIssue, PromiseToPay
from billing.payments.apply import (
    PaymentFacts,
    apply_payment,
    payment_applied,
    payments_applied_batched,
    payments_applied_flush,
)
from billing.payments.schedule import add_months, plan_installments
from billing.tests.factories import ChargeFactory
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

D = Decimal


def facts(amount, e2eid=None, **kw):
    kw.setdefault("paid_at", timezone.now())
    kw.setdefault("source", Payment.Source.PIX_API)
    return PaymentFacts(amount=D(amount), e2eid=e2eid, **kw)


def test_add_months_clamps_to_the_last_day():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2028, 1, 31), 1) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 11, 15), 3) == dt.date(2027, 2, 15)


def test_plan_sums_exactly_to_the_total():
    plan = plan_installments(amount=D("100.00"), installments=3, first_due_date=dt.date(2026, 12, 10))
    assert [p.amount for p in plan] == [D("33.33"), D("33.33"), D("33.34")]
    assert sum(p.amount for p in plan) == D("100.00")
    assert [p.due_date for p in plan] == [dt.date(2026, 12, 10), dt.date(2027, 1, 10), dt.date(2027, 2, 10)]


def test_full_payment_pays_the_charge_and_keeps_the_promise():
    charge = ChargeFactory(amount=D("189.90"))
    services.promise_create(charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=3))
    outcome = apply_payment(charge_id=charge.pk, facts=facts("189.90", "E12345678202612051432abcdefghijk"))
    charge.refresh_from_db()
    assert outcome.status == "paid"
    assert charge.status == Charge.Status.PAID and charge.amount_paid == D("189.90") and charge.balance == 0
    assert charge.promises.get().status == PromiseToPay.Status.KEPT


def test_same_e2eid_twice_changes_nothing():
    charge = ChargeFactory(amount=D("50.00"))
    apply_payment(charge_id=charge.pk, facts=facts("20.00", "E1"))
    again = apply_payment(charge_id=charge.pk, facts=facts("20.00", "E1"))
    charge.refresh_from_db()
    assert again.status == "already_applied"
    assert Payment.objects.count() == 1 and charge.amount_paid == D("20.00")


def test_partial_payment_leaves_the_balance_open():
    charge = ChargeFactory(amount=D("100.00"))
    outcome = apply_payment(charge_id=charge.pk, facts=facts("40.00", "E2"))
    charge.refresh_from_db()
    assert outcome.status == "partial" and outcome.balance == D("60.00")
    assert charge.status == Charge.Status.OPEN and charge.balance == D("60.00")
    apply_payment(charge_id=charge.pk, facts=facts("60.00", "E3"))
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID


def test_overpayment_pays_and_queues_the_excess():
    charge = ChargeFactory(amount=D("100.00"))
    outcome = apply_payment(charge_id=charge.pk, facts=facts("130.00", "E4"))
    assert outcome.status == "overpaid" and outcome.excess == D("30.00")
    issue = PaymentIssue.objects.get()
    assert issue.kind == PaymentIssue.Kind.OVERPAYMENT and issue.amount == D("30.00")


def test_payment_for_a_paid_charge_is_recorded_and_queued():
    charge = ChargeFactory(amount=D("100.00"))
    apply_payment(charge_id=charge.pk, facts=facts("100.00", "E5"))
    second = apply_payment(charge_id=charge.pk, facts=facts("100.00", "E6"))
    assert second.status == "not_payable"
    assert Payment.objects.count() == 2
    assert PaymentIssue.objects.get().amount == D("100.00")


def test_statement_reference_deduplicates():
    charge = ChargeFactory(amount=D("100.00"))
    kw = {"source": Payment.Source.STATEMENT, "reference": "acct1:FIT001"}
    apply_payment(charge_id=charge.pk, facts=facts("10.00", **kw))
    assert apply_payment(charge_id=charge.pk, facts=facts("10.00", **kw)).status == "already_applied"


def test_installments_are_paid_in_order_and_finish_the_agreement():
    charge = ChargeFactory(amount=D("300.00"))
    agreement = services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate() + dt.timedelta(days=5)
    )
    rows = list(agreement.schedule.all())
    assert [r.amount for r in rows] == [D("100.00")] * 3
    first = apply_payment(charge_id=charge.pk, facts=facts("100.00", "E7"))
    assert first.status == "paid" and first.installment.number == 1
    charge.refresh_from_db()
    assert charge.status == Charge.Status.NEGOTIATING and charge.amount_paid == D("100.00")
    # Two installments at once: both settle, the agreement is kept, the charge paid.
    apply_payment(charge_id=charge.pk, facts=facts("200.00", "E8"))
    charge.refresh_from_db()
    agreement.refresh_from_db()
    assert charge.status == Charge.Status.PAID and agreement.status == Agreement.Status.KEPT
    assert set(agreement.schedule.values_list("status", flat=True)) == {Installment.Status.PAID}


def test_a_named_installment_is_paid_first():
    charge = ChargeFactory(amount=D("300.00"))
    agreement = services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate() + dt.timedelta(days=5)
    )
    third = agreement.schedule.get(number=3)
    outcome = apply_payment(charge_id=charge.pk, facts=facts("100.00", "E9"), installment_id=third.pk)
    third.refresh_from_db()
    assert outcome.installment == third and third.status == Installment.Status.PAID


def test_partial_installment_payment():
    charge = ChargeFactory(amount=D("300.00"))
    services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate() + dt.timedelta(days=5)
    )
    outcome = apply_payment(charge_id=charge.pk, facts=facts("30.00", "E10"))
    assert outcome.status == "partial" and outcome.balance == D("70.00")


def test_new_agreement_cancels_the_old_schedule():
    charge = ChargeFactory(amount=D("300.00"))
    due = timezone.localdate() + dt.timedelta(days=5)
    old = services.agreement_create(charge=charge, installments=3, first_due_date=due)
    services.agreement_create(charge=charge, installments=2, first_due_date=due)
    assert set(old.schedule.values_list("status", flat=True)) == {Installment.Status.CANCELLED}


def test_partial_amount_promise_is_kept_when_covered():
    charge = ChargeFactory(amount=D("300.00"))
    promise = services.promise_create(
        charge=charge, promised_date=timezone.localdate() + dt.timedelta(days=2), amount=D("100.00")
    )
    apply_payment(charge_id=charge.pk, facts=facts("100.00", "E11"))
    promise.refresh_from_db()
    assert promise.status == PromiseToPay.Status.KEPT


def test_signal_fires_after_commit(django_capture_on_commit_callbacks):
    charge = ChargeFactory(amount=D("10.00"))
    seen = []

    def receiver(sender, payment, outcome, **kwargs):
        seen.append(outcome.status)

    payment_applied.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            apply_payment(charge_id=charge.pk, facts=facts("10.00", "E12"))
    finally:
        payment_applied.disconnect(receiver)
    assert seen == ["paid"]


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_bad_amount_is_refused(amount):
    charge = ChargeFactory()
    with pytest.raises(ApplicationError):
        apply_payment(charge_id=charge.pk, facts=facts(amount))


def test_naive_time_is_refused():
    charge = ChargeFactory()
    with pytest.raises(ApplicationError):
        apply_payment(charge_id=charge.pk, facts=facts("1.00", paid_at=dt.datetime(2026, 12, 1, 10)))


# Issue #15: a statement of 50,000 lines applies its payments one by one; these are the statements each costs.
# 21 before: two savepoint pairs, two more UPDATEs of the charge, the agreement and installment UPDATEs.
APPLY_MAX_QUERIES = 13


def test_a_full_payment_without_agreement_takes_at_most_the_measured_statements():
    charge = ChargeFactory(amount=D("80.00"))
    statement_line = facts("80.00", source=Payment.Source.STATEMENT, reference="0001:FIT1")
    with CaptureQueriesContext(connection) as ctx:
        outcome = apply_payment(charge_id=charge.pk, facts=statement_line)
    sql = [q["sql"] for q in ctx.captured_queries]
    charge.refresh_from_db()
    assert outcome.status == "paid" and charge.status == Charge.Status.PAID
    assert charge.amount_paid == D("80.00") and charge.paid_at == statement_line.paid_at
    assert len(sql) <= APPLY_MAX_QUERIES, "\n".join(sql)
    # No agreement: neither agreements nor installments are updated; status, paid_at and amount in one UPDATE.
    assert not any("billing_installment" in s or 'UPDATE "billing_agreement"' in s for s in sql)
    assert sum(s.startswith('UPDATE "billing_charge"') for s in sql) == 1


def test_a_charge_with_a_past_agreement_still_has_its_open_installments_cancelled_when_paid():
    charge = ChargeFactory(amount=D("300.00"))
    agreement = services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate() + dt.timedelta(days=5)
    )
    Agreement.objects.filter(pk=agreement.pk).update(status=Agreement.Status.BROKEN)
    apply_payment(charge_id=charge.pk, facts=facts("300.00", "E300"))
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert set(agreement.schedule.values_list("status", flat=True)) == {Installment.Status.CANCELLED}


@pytest.mark.django_db(transaction=True)  # each apply really commits, as in a statement import
def test_batched_payments_announce_themselves_together_at_the_flush():
    first, second = ChargeFactory(amount=D("10.00")), ChargeFactory(amount=D("20.00"))
    seen = []

    def receiver(sender, payment, outcome, **kwargs):
        seen.append((outcome.status, payment.charge_id))

    payment_applied.connect(receiver)
    try:
        with payments_applied_batched():
            apply_payment(charge_id=first.pk, facts=facts("10.00", "EB1"))
            apply_payment(charge_id=second.pk, facts=facts("5.00", "EB2"))
            assert seen == []
            assert payments_applied_flush() == 2
            assert seen == [("paid", first.pk), ("partial", second.pk)]
            apply_payment(charge_id=second.pk, facts=facts("15.00", "EB3"))
        # What is still held when the block ends is flushed too.
    finally:
        payment_applied.disconnect(receiver)
    assert seen[-1] == ("paid", second.pk)
