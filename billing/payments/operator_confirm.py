"""An operator confirms that a charge was paid (inbox "Confirmar pagamento", debtor page "Marcar como paga",
the admin's "Marcar como paga" action, the API's `POST /api/charges/{id}/mark-paid`).

He saw the money: what the charge still owed is recorded as a Payment (source `operator`) through
`apply_payment`, the one writer of payments, so the charge's balance, the Painel's figures and the debtor's
thank-you (`payment_applied` → chatbot.payment_thanks: inside the send window, once, never to a suppressed
number) follow the same rules as a Pix or a statement line. Nothing owed (a charge whose payments already
cover it): only `charge_mark_paid`, and no thank-you (no money arrived with this click). The charge's receipts
still waiting for a decision are closed with it (`receipts_settle_open`): one confirmed later would pay twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import services
from billing.models import Agreement, Charge, Installment, Payment
from billing.payments.apply import PaymentFacts, apply_payment
from billing.receipts.services import receipts_settle_open

__all__ = ["charge_confirm_payment", "owed_to_settle"]

ZERO = Decimal("0")


def owed_to_settle(charge: Charge) -> Decimal:
    """What settles the charge now: under an active agreement its open installments' balances (a discount
    already counts), else the charge's balance."""
    open_installments = Installment.objects.filter(
        agreement__charge=charge, agreement__status=Agreement.Status.ACTIVE, status=Installment.Status.OPEN
    )
    if charge.agreements.filter(status=Agreement.Status.ACTIVE).exists():
        return sum((i.balance for i in open_installments), ZERO)
    return charge.balance


@transaction.atomic
def charge_confirm_payment(
    *, charge: Charge, by, ip: str | None = None, paid_at: dt.datetime | None = None
) -> Charge:
    """Mark `charge` paid as the operator `by`, recording what it still owed as his payment (see the module
    docstring). A charge already paid is returned unchanged (a double click records nothing); one that cannot
    be paid (cancelled) raises ApplicationError like `charge_mark_paid`. Also the API's mark-paid and the
    admin's action; `paid_at` (timezone-aware, default now): when the money arrived, as the API states it."""
    locked = Charge.objects.select_for_update().get(pk=charge.pk)
    amount = owed_to_settle(locked) if locked.status in Charge.OPEN_STATUSES else ZERO
    if amount > 0:
        facts = PaymentFacts(
            amount=amount, paid_at=paid_at or timezone.now(), source=Payment.Source.OPERATOR, by=by, ip=ip
        )
        outcome = apply_payment(charge_id=locked.pk, facts=facts)
        locked = outcome.charge
    if locked.status != Charge.Status.PAID:
        locked = services.charge_mark_paid(charge=locked, by=by, ip=ip, paid_at=paid_at)
    receipts_settle_open(charge=locked, by=by)
    charge.refresh_from_db()
    return charge
