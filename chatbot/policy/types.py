"""Plain data the dialogue policy reads and returns: no ORM objects, so `decide` is testable without a
database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Charge statuses, repeated as plain strings so this module does not import the ORM.
OPEN, PROMISED, NEGOTIATING = "open", "promised", "negotiating"
PAYMENT_CLAIMED, DISPUTED = "payment_claimed", "disputed"
ACTIONABLE = (OPEN, PROMISED, NEGOTIATING)


class ActionKind:
    CLAIM_PAYMENT = "claim_payment"
    CREATE_PROMISE = "create_promise"
    CREATE_AGREEMENT = "create_agreement"
    DISPUTE = "dispute"
    OPT_OUT = "opt_out"
    MARK_WRONG_NUMBER = "mark_wrong_number"
    FLAG = "flag"  # needs_attention for an operator, the bot keeps answering
    HANDOFF = "handoff"  # conversation → human, the bot goes silent
    CHECK_RECEIPT = "check_receipt"  # a picture/PDF taken as the receipt: read and checked by a worker


@dataclass(frozen=True)
class Action:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (API responses, logs): dates ISO, money as strings."""
        return {"type": self.kind, **{key: _jsonable(value) for key, value in self.params.items()}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Decision:
    """What to say (empty: stay silent), what to do, what to remember, and whether a person takes over."""

    reply: str
    actions: list[Action] = field(default_factory=list)
    context_updates: dict[str, Any] = field(default_factory=dict)
    handoff: bool = False
    # The intent the message acted as when it is not the classified one: a "sim" that confirmed an agreement
    # acted as `negociacao`, a "1" that picked the charge of a PIX request as `informacoes_pagamento`.
    acted_as: str = ""

    def action_kinds(self) -> list[str]:
        return [action.kind for action in self.actions]


@dataclass(frozen=True)
class ChargeSnapshot:
    id: int
    amount: Decimal
    due_date: dt.date
    description: str = ""
    status: str = OPEN
    reference: str = ""  # the charge's external id: the PIX txid
    agreement_installments: int | None = None
    # What the agreement's next open installment still owes (its amount until money arrives for it).
    agreement_installment_amount: Decimal | None = None
    agreement_first_due_date: dt.date | None = None
    # What is still owed after the payments received (None: the whole amount).
    balance: Decimal | None = None
    # A charge paid lately (ClientSnapshot.recent_paid): what was received and the local day it was paid.
    paid_amount: Decimal | None = None
    paid_on: dt.date | None = None

    @property
    def under_agreement(self) -> bool:
        """An active agreement covers this charge: no new negotiation, its PIX is the installment's."""
        return self.agreement_installments is not None

    @property
    def is_actionable(self) -> bool:
        return self.status in ACTIONABLE

    @property
    def owed(self) -> Decimal:
        """What is still owed after the payments received: what totals add up."""
        return self.balance if self.balance is not None and self.balance > 0 else self.amount

    @property
    def amount_due_now(self) -> Decimal:
        """What a PIX for this charge should ask: the installment under an active agreement, else what is
        still owed (billing.payments.pix_charges.amount_owed gives the same figure)."""
        if self.agreement_installment_amount:
            return self.agreement_installment_amount
        return self.balance if self.balance is not None and self.balance > 0 else self.amount


@dataclass(frozen=True)
class NegotiationLimits:
    max_installments: int = 6
    min_installment_amount: Decimal = Decimal("50.00")
    max_discount_percent: Decimal = Decimal("10.00")


@dataclass(frozen=True)
class Creditor:
    name: str
    document: str = ""
    address: str = ""
    city: str = ""
    pix_key: str = ""


@dataclass(frozen=True)
class ClientSnapshot:
    """The debtor as the policy sees him. `client_id` None: the number is not linked to any client."""

    client_id: int | None
    creditor: Creditor
    first_name: str = ""
    wrong_number: bool = False
    opted_out: bool = False
    charges: tuple[ChargeSnapshot, ...] = ()
    limits: NegotiationLimits = field(default_factory=NegotiationLimits)
    # The charge the conversation is about, as the caller knows it: the charge of the reminder the debtor
    # quoted, or of the last reminder when it is newer than the focus kept in the conversation's context.
    focus_charge_id: int | None = None
    # The latest charge paid in the last days (amount received, local day paid): "já caiu?" is acknowledged.
    recent_payment: tuple[Decimal, dt.date] | None = None
    # Charges paid in the last weeks (status paid, newest first): a debtor who names one of them ("já paguei a
    # de novembro") hears it is paid instead of having his words put on another open charge.
    recent_paid: tuple[ChargeSnapshot, ...] = ()

    @property
    def is_known(self) -> bool:
        """Only the client's own number may hear amounts and creditor details."""
        return self.client_id is not None and not self.wrong_number

    @property
    def actionable_charges(self) -> list[ChargeSnapshot]:
        """Oldest first (the order the policy lists them in when it asks which one)."""
        return sorted((c for c in self.charges if c.is_actionable), key=lambda c: (c.due_date, c.id))
