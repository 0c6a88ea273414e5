"""Dialogue policy: a pure `decide` over plain snapshots, applied and sent by chatbot.services."""

from __future__ import annotations

from .decide import decide, money
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
    "Action",
    "ActionKind",
    "ChargeSnapshot",
    "ClientSnapshot",
    "Creditor",
    "Decision",
    "NegotiationLimits",
    "decide",
    "money",
]
