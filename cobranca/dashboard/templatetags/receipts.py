"""`{% load receipts %}{% receipt_checks conversation as checks %}`: the conversation's read receipts, for the
include `dashboard/partials/receipt_checks.html` (kept apart from the conversation view on purpose: the page
shows them without its view knowing about receipts)."""

from __future__ import annotations

from django import template

from billing.receipts.selectors import receipt_checks_for_conversation

register = template.Library()

FIELD_LABELS = (
    ("amount", "Valor"),
    ("paid_at", "Data"),
    ("e2eid", "ID do Pix"),
    ("recipient_name", "Recebedor"),
    ("recipient_document", "CNPJ/CPF ou chave"),
    ("payer_name", "Pagador"),
    ("bank", "Banco"),
)


@register.simple_tag
def receipt_checks(conversation) -> list:
    return list(receipt_checks_for_conversation(conversation_id=conversation.pk))


@register.simple_tag
def receipt_fields(check) -> list[tuple[str, object, float | None]]:
    """(label, value, confidence) of each field read, in the order a receipt shows them."""
    return [(label, getattr(check, name) or None, check.confidence.get(name)) for name, label in FIELD_LABELS]
