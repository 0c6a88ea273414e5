"""The one writer of Payment rows: apply money that arrived to a charge or to an agreement's installments.

Idempotent by the Pix end-to-end id (and by `(source, reference)`, e.g. a statement line's FITID): applying
the payment twice records it once and changes nothing the second time. Runs under the charge's row lock, so
two workers confirming the same Pix (webhook and catch-up) cannot both apply it.

- Under an active agreement the money pays the earliest open installment(s); an amount above what is owed
  goes to the operator queue (PaymentIssue OVERPAYMENT). When every installment is paid the agreement is kept
  and the charge paid.
- Without an agreement a partial payment leaves the balance open (`Charge.balance`); the full amount pays the
  charge (`billing.services.charge_mark_paid`: pending promises kept, reminders stop).
- A charge already paid or cancelled still records the money (it arrived) and queues it for an operator.

`payment_applied` is sent after the transaction commits (thank-you message, receipts, Painel) with
`payment` and `outcome`. Inside `payments_applied_batched()` (a statement import) the signals are held and
sent by `payments_applied_flush()` together, in one transaction: with the ORM broker on the same database
the thank-you tasks they enqueue are then one commit instead of one each. A crash before the flush loses no
thank-you: the "payment-thanks" schedule sends the ones a recent payment is still owed.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.dispatch import Signal
from django.utils import timezone
from loguru import logger

from billing import services
from billing.models import (
    Agreement,
    Charge,
    Installment,
    Payment,
    PaymentIssue,
    PixCobv,
    PromiseToPay,
)
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

__all__ = [
    "ApplyOutcome",
    "PaymentFacts",
    "apply_payment",
    "payment_applied",
    "payments_applied_batched",
    "payments_applied_flush",
]

ZERO = Decimal("0")
CENT = Decimal("0.01")

payment_applied = Signal()
# The outcomes whose `payment_applied` is held until `payments_applied_flush` (None: not batching).
_held: contextvars.ContextVar[list[ApplyOutcome] | None] = contextvars.ContextVar(
    "payments_applied_held", default=None
)


@dataclass(frozen=True)
class PaymentFacts:
    """What is known about money that arrived. `paid_at` must be timezone-aware."""

    amount: Decimal
    paid_at: dt.datetime
    source: str
    e2eid: str | None = None
    txid: str = ""
    reference: str = ""
    payer_name: str = ""
    payer_document: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    by: Any = None
    ip: str | None = None  # an operator's request (his manual confirmation): kept in the audit entries


@dataclass(frozen=True)
class ApplyOutcome:
    """`status`: "paid" (the charge or the installment is settled), "partial" (a balance is left open),
    "overpaid" (settled, and the excess queued for an operator), "not_payable" (the charge was already paid or
    cancelled: recorded and queued) or "already_applied" (applied before: nothing changed)."""

    status: str
    payment: Payment
    charge: Charge
    installment: Installment | None = None
    balance: Decimal = ZERO
    excess: Decimal = ZERO


def _existing(facts: PaymentFacts) -> Payment | None:
    if facts.e2eid:
        found = Payment.objects.filter(e2eid=facts.e2eid).first()
        if found:
            return found
    if facts.reference:
        return Payment.objects.filter(source=facts.source, reference=facts.reference).first()
    return None


def _validate(facts: PaymentFacts) -> Decimal:
    amount = Decimal(facts.amount).quantize(CENT)
    if amount <= 0:
        raise ApplicationError("Valor de pagamento inválido.", {"amount": str(facts.amount)})
    if timezone.is_naive(facts.paid_at):
        raise ApplicationError("Data do pagamento sem fuso horário.", {"paid_at": facts.paid_at.isoformat()})
    return amount


def apply_payment(*, charge_id: int, facts: PaymentFacts, installment_id: int | None = None) -> ApplyOutcome:
    """Record and apply one payment (see the module docstring). Raises ApplicationError for an amount ≤ 0 or a
    naive `paid_at`, Charge.DoesNotExist for an unknown charge."""
    amount = _validate(facts)
    with transaction.atomic():
        charge = Charge.objects.select_for_update().get(pk=charge_id)
        existing = _existing(facts)
        if existing is not None:
            return ApplyOutcome("already_applied", existing, charge, existing.installment, charge.balance)
        payment = _record(charge, facts, amount, installment_id)
        if payment is None:  # lost a race with another worker applying the same payment
            existing = _existing(facts)
            return ApplyOutcome("already_applied", existing, charge, existing.installment, charge.balance)
        outcome = _settle(charge, payment, installment_id, facts)
        if charge.status == Charge.Status.PAYMENT_CLAIMED and charge.balance > 0:
            # Only part of what the claim announced: money is still owed, so reminders resume.
            services.charge_resume_collection(
                charge=charge, by=facts.by, reason=f"pagamento parcial {payment.pk}: ainda há saldo"
            )
        if facts.txid:
            PixCobv.objects.filter(txid=facts.txid, status=PixCobv.Status.ACTIVE).filter(
                charge=charge
            ).update(status=PixCobv.Status.PAID if outcome.status != "partial" else PixCobv.Status.ACTIVE)
        audit_record(
            action="payment.apply",
            actor=facts.by,
            target=charge,
            details={
                "payment": payment.pk,
                "amount": str(amount),
                "source": facts.source,
                "outcome": outcome.status,
                "excess": str(outcome.excess),
            },
            ip=facts.ip,
        )
        transaction.on_commit(lambda: _announce(outcome))
    logger.info(
        "payment.apply charge={} payment={} source={} outcome={}",
        charge.pk,
        payment.pk,
        facts.source,
        outcome.status,
    )
    return outcome


def _announce(outcome: ApplyOutcome) -> None:
    held = _held.get()
    if held is None:
        payment_applied.send(sender=Payment, payment=outcome.payment, outcome=outcome)
    else:
        held.append(outcome)


@contextmanager
def payments_applied_batched() -> Iterator[None]:
    """Hold the `payment_applied` signals of the payments applied inside (see the module docstring); what
    is held when the block ends is flushed."""
    token = _held.set([])
    try:
        yield
    finally:
        try:
            payments_applied_flush()
        finally:
            _held.reset(token)


def payments_applied_flush() -> int:
    """Send the held `payment_applied` signals in one transaction; returns how many."""
    held = _held.get()
    if not held:
        return 0
    outcomes, held[:] = list(held), []
    with transaction.atomic():
        for outcome in outcomes:
            payment_applied.send(sender=Payment, payment=outcome.payment, outcome=outcome)
    return len(outcomes)


def _record(
    charge: Charge, facts: PaymentFacts, amount: Decimal, installment_id: int | None
) -> Payment | None:
    try:
        with transaction.atomic():
            return Payment.objects.create(
                charge=charge,
                installment_id=installment_id,
                source=facts.source,
                amount=amount,
                paid_at=facts.paid_at,
                e2eid=facts.e2eid or None,
                txid=facts.txid,
                reference=facts.reference,
                payer_name=facts.payer_name[:200],
                payer_document=facts.payer_document[:18],
                raw=facts.raw,
                recorded_by=facts.by,
            )
    except IntegrityError:
        return None


def _settle(
    charge: Charge, payment: Payment, installment_id: int | None, facts: PaymentFacts
) -> ApplyOutcome:
    if charge.status in (Charge.Status.PAID, Charge.Status.CANCELLED):
        charge.amount_paid += payment.amount
        charge.save(update_fields=["amount_paid", "updated_at"])
        _queue_excess(charge, payment, payment.amount, reason=f"cobrança {charge.get_status_display()}")
        return ApplyOutcome("not_payable", payment, charge, None, ZERO, payment.amount)
    # Every agreement of the charge in one query (most have none): the active one is the plan, and none at
    # all spares charge_mark_paid its agreement and installment UPDATEs.
    agreements = list(charge.agreements.order_by("-pk"))
    agreement = next((a for a in agreements if a.status == Agreement.Status.ACTIVE), None)
    schedule = list(agreement.schedule.select_for_update().order_by("number")) if agreement else []
    if schedule:
        return _settle_installments(charge, payment, agreement, schedule, installment_id, facts)
    return _settle_charge(charge, payment, facts, has_agreements=bool(agreements))


def _settle_charge(
    charge: Charge, payment: Payment, facts: PaymentFacts, *, has_agreements: bool
) -> ApplyOutcome:
    owed = charge.balance
    charge.amount_paid += payment.amount
    if payment.amount < owed:
        charge.save(update_fields=["amount_paid", "updated_at"])
        _keep_promises(charge, payment)
        return ApplyOutcome("partial", payment, charge, None, owed - payment.amount)
    services.charge_mark_paid(
        charge=charge,
        by=facts.by,
        ip=facts.ip,
        paid_at=payment.paid_at,
        save_also=("amount_paid",),
        has_agreements=has_agreements,
    )
    excess = payment.amount - owed
    if excess > 0:
        _queue_excess(charge, payment, excess, reason="valor acima do devido")
        return ApplyOutcome("overpaid", payment, charge, None, ZERO, excess)
    return ApplyOutcome("paid", payment, charge)


def _settle_installments(
    charge: Charge,
    payment: Payment,
    agreement: Agreement,
    schedule: list[Installment],
    installment_id: int | None,
    facts: PaymentFacts,
) -> ApplyOutcome:
    """The money pays the named installment first, then the earliest open ones; what is left is excess."""
    open_ones = [i for i in schedule if i.status == Installment.Status.OPEN]
    open_ones.sort(key=lambda i: (i.pk != installment_id, i.number))
    left = payment.amount
    first_touched: Installment | None = None
    for installment in open_ones:
        if left <= 0:
            break
        take = min(left, installment.balance)
        installment.amount_paid += take
        left -= take
        first_touched = first_touched or installment
        if installment.balance == 0:
            installment.status = Installment.Status.PAID
            installment.paid_at = payment.paid_at
        installment.save(update_fields=["amount_paid", "status", "paid_at"])
    if first_touched and payment.installment_id != first_touched.pk:
        payment.installment = first_touched
        payment.save(update_fields=["installment"])
    charge.amount_paid += payment.amount
    charge.save(update_fields=["amount_paid", "updated_at"])
    if all(i.status != Installment.Status.OPEN for i in schedule):
        services.charge_mark_paid(charge=charge, by=facts.by, ip=facts.ip, paid_at=payment.paid_at)
        agreement.refresh_from_db(fields=["status"])
    if left > 0:
        _queue_excess(charge, payment, left, reason="valor acima das parcelas em aberto")
        return ApplyOutcome("overpaid", payment, charge, first_touched, ZERO, left)
    target = first_touched
    if target is not None and target.status == Installment.Status.OPEN:
        return ApplyOutcome("partial", payment, charge, target, target.balance)
    return ApplyOutcome("paid", payment, charge, target)


def _keep_promises(charge: Charge, payment: Payment) -> None:
    """A promise of a partial amount is kept when what arrived since it was made covers it by its date."""
    for promise in charge.promises.filter(status=PromiseToPay.Status.PENDING, amount__isnull=False):
        if timezone.localdate(payment.paid_at) > promise.promised_date:
            continue
        # Money recorded since the promise, except a Pix or receipt whose exact time shows it was paid before
        # it ("paguei 120, o resto dia 5": the R$ 120 confirmed later is not part of the promised rest). A
        # statement line's time is only its posting day: it counts by when it was recorded.
        since = charge.payments.filter(created_at__gte=promise.created_at).exclude(
            source__in=(Payment.Source.PIX_API, Payment.Source.RECEIPT), paid_at__lt=promise.created_at
        )
        received = since.aggregate(s=Sum("amount"))["s"]
        if (received or ZERO) >= promise.amount:
            promise.status = PromiseToPay.Status.KEPT
            promise.save(update_fields=["status"])


def _queue_excess(charge: Charge, payment: Payment, excess: Decimal, *, reason: str) -> None:
    PaymentIssue.objects.get_or_create(
        key=f"overpayment:{payment.pk}",
        defaults={
            "kind": PaymentIssue.Kind.OVERPAYMENT,
            "charge": charge,
            "payment": payment,
            "amount": excess,
            "details": {"reason": reason, "payment_amount": str(payment.amount), "excess": str(excess)},
        },
    )
