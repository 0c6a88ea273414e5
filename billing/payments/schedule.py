"""An agreement's installments: due dates a month apart and amounts that sum exactly to the total."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from billing.money import agreement_terms


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's end (31/01 + 1 → 28/02). Here, not in the régua's
    calendar: billing.services needs it, and conversations may not reach billing's dispatch through it."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PlannedInstallment:
    number: int
    due_date: dt.date
    amount: Decimal


def plan_installments(
    *, amount: Decimal, installments: int, first_due_date: dt.date, discount_percent: Decimal = Decimal("0")
) -> list[PlannedInstallment]:
    """The schedule the agreement's terms give: equal installments, the last one absorbing the rounding, so
    the sum is exactly the total (`billing.money.agreement_terms` is the one place that arithmetic lives)."""
    terms = agreement_terms(amount=amount, installments=installments, discount_percent=discount_percent)
    return [
        PlannedInstallment(
            number=n,
            due_date=add_months(first_due_date, n - 1),
            amount=terms.last_installment_amount if n == installments else terms.installment_amount,
        )
        for n in range(1, installments + 1)
    ]
