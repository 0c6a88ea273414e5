"""Dialogue policy: a pure `decide` over plain snapshots, applied and sent by chatbot.services."""

from __future__ import annotations

from .decide import PAYMENT_REPORTED_FLAG, charge_label, day, decide, money
from .replies import ReplyCatalogueError, phrase, reply
from .types import (
    Action,
    ActionKind,
    ChargeSnapshot,
    ClientSnapshot,
    Creditor,
    Decision,
    NegotiationLimits,
)

__all__ = [
    "PAYMENT_REPORTED_FLAG",
    "Action",
    "ActionKind",
    "ChargeSnapshot",
    "ClientSnapshot",
    "Creditor",
    "Decision",
    "NegotiationLimits",
    "ReplyCatalogueError",
    "charge_label",
    "day",
    "decide",
    "money",
    "phrase",
    "reply",
]
