"""Billing domain models, one module per part; every model is imported here, so `billing.models.X` is the
name to use everywhere.

- clients.py: debtors and the suppression list;
- charges.py: import batches, charges, promises to pay, agreements, negotiation limits;
- campaigns.py: message templates, campaigns, dispatches, pacing state;
- payments.py: agreement installments, Pix charges (cobv), payments, PSP notifications, the operator queue;
- receipts.py: Pix receipts debtors sent, as read and checked.
"""

from __future__ import annotations

from billing.models.campaigns import (
    Campaign,
    CampaignStatus,
    Dispatch,
    DispatchStatus,
    MessageTemplate,
    PacingState,
)
from billing.models.charges import (
    Agreement,
    Charge,
    ChargeStatus,
    ChargeStatusChange,
    ImportBatch,
    ImportColumnMapping,
    NegotiationPolicy,
    PromiseToPay,
)
from billing.models.clients import Client, SuppressedPhone, SuppressionLift, SuppressionReason
from billing.models.payments import (
    Installment,
    Payment,
    PaymentIssue,
    PaymentSource,
    PixCatchUp,
    PixCobv,
    PixNotification,
    StatementImport,
)
from billing.models.receipts import ReceiptCheck

# The régua's models live in their own package but belong to this app: imported last, they need the above.
from billing.regua.models import Regua, ReguaEntry, ReguaStep

__all__ = [
    "Agreement",
    "Campaign",
    "CampaignStatus",
    "Charge",
    "ChargeStatus",
    "ChargeStatusChange",
    "Client",
    "Dispatch",
    "DispatchStatus",
    "ImportBatch",
    "ImportColumnMapping",
    "Installment",
    "MessageTemplate",
    "NegotiationPolicy",
    "PacingState",
    "Payment",
    "PaymentIssue",
    "PaymentSource",
    "PixCatchUp",
    "PixCobv",
    "PixNotification",
    "PromiseToPay",
    "ReceiptCheck",
    "Regua",
    "ReguaEntry",
    "ReguaStep",
    "StatementImport",
    "SuppressedPhone",
    "SuppressionLift",
    "SuppressionReason",
]
