"""Reads of receipts for the inbox."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import ReceiptCheck

SHOWN = 5


def receipt_checks_for_conversation(*, conversation_id: int) -> QuerySet[ReceiptCheck]:
    """The latest receipts of one conversation (newest first), with their charge and file."""
    return (
        ReceiptCheck.objects.filter(attachment__message__conversation_id=conversation_id)
        .select_related("charge", "attachment", "decided_by", "payment")
        .order_by("-created_at", "-pk")[:SHOWN]
    )
