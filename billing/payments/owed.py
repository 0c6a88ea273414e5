"""What a debtor still owes, as the pages show it (issue #15).

A charge owes its balance (`Charge.balance`: the amount less the payments received); under an active agreement
it owes what the agreement's open installments still owe (their balances: a discount already counts). These
are SQL expressions, so a page reads the figure in the query that lists its charges or clients.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from billing.models import Agreement, Charge, Installment
from billing.payments.pix_charges import PAYABLE_STATUSES, amount_owed

MONEY = DecimalField(max_digits=12, decimal_places=2)
ZERO = Value(Decimal("0"), output_field=MONEY)


def _left(prefix: str = "") -> ExpressionWrapper:
    return ExpressionWrapper(F(f"{prefix}amount") - F(f"{prefix}amount_paid"), output_field=MONEY)


def _installments_owed(charge_ref: str) -> Subquery:
    rows = (
        Installment.objects.filter(
            agreement__charge=OuterRef(charge_ref),
            agreement__status=Agreement.Status.ACTIVE,
            status=Installment.Status.OPEN,
        )
        .values("agreement__charge")
        .annotate(s=Sum(_left()))
        .values("s")
    )
    return Subquery(rows[:1], output_field=MONEY)


def _has_active_agreement(charge_ref: str) -> Exists:
    return Exists(Agreement.objects.filter(charge=OuterRef(charge_ref), status=Agreement.Status.ACTIVE))


def owed_expression() -> Case:
    """For a Charge row: its open installments' balances under an active agreement, else its balance."""
    return Case(
        When(_has_active_agreement("pk"), then=Coalesce(_installments_owed("pk"), ZERO)),
        When(amount_paid__gte=F("amount"), then=ZERO),
        default=_left(),
        output_field=MONEY,
    )


def with_owed(charges: QuerySet[Charge]) -> QuerySet[Charge]:
    """`owed` on every charge (what is still owed, see `owed_expression`), in the same query."""
    return charges.annotate(owed=owed_expression())


def client_owed_expression(client_ref: str = "pk") -> Coalesce:
    """For a Client row: what his open charges still owe (balances, or open installments under an active
    agreement). Two scalar subqueries."""
    open_charges = Charge.objects.filter(client=OuterRef(client_ref), status__in=Charge.OPEN_STATUSES)
    plain = (
        open_charges.exclude(agreements__status=Agreement.Status.ACTIVE)
        .filter(amount__gt=F("amount_paid"))
        .values("client")
        .annotate(s=Sum(_left()))
        .values("s")
    )
    in_agreements = (
        Installment.objects.filter(
            agreement__charge__client=OuterRef(client_ref),
            agreement__charge__status__in=Charge.OPEN_STATUSES,
            agreement__status=Agreement.Status.ACTIVE,
            status=Installment.Status.OPEN,
        )
        .values("agreement__charge__client")
        .annotate(s=Sum(_left()))
        .values("s")
    )
    return ExpressionWrapper(
        Coalesce(Subquery(plain[:1], output_field=MONEY), ZERO)
        + Coalesce(Subquery(in_agreements[:1], output_field=MONEY), ZERO),
        output_field=MONEY,
    )


def amount_now(charge: Charge) -> Decimal:
    """What {amount} says: what the debtor owes now, the amount {pix} carries (`amount_owed`: the next open
    installment's balance under an active agreement, else the charge's balance). A charge no longer payable
    (paid, cancelled) keeps its amount. An open charge has no agreement in force (an agreement moves it to
    negotiation, and breaking it cancels the agreement before reopening): its balance, with no query, so a
    campaign costs nothing more; any other payable status asks `amount_owed` (one or two queries)."""
    if charge.status not in PAYABLE_STATUSES:
        return charge.amount
    if charge.status == Charge.Status.OPEN:
        return charge.balance
    _installment, amount = amount_owed(charge)
    return amount
