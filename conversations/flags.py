"""Inbox "Requer atendimento" flags that an operator's act resolves, cleared by that act.

A conversation carries one flag (`needs_attention` + `attention_reason`). "Pagamento informado: conferir
comprovante" (the bot heard "já paguei") and "Comprovante recebido: conferir" (a receipt arrived) ask the
operator to check a payment; they are resolved by his confirmation of the charge's payment (inbox "Confirmar
pagamento", debtor page "Marcar como paga") and by his decision on a receipt (Confirmar / Rejeitar). A flag
raised for anything else stays, and so do these two while something is still to check: another receipt of
the conversation not decided yet, or another charge of the debtor still `payment_claimed`."""

from __future__ import annotations

from billing.models import Charge, ReceiptCheck
from chatbot.media_replies import RECEIPT_FLAG
from chatbot.policy import PAYMENT_REPORTED_FLAG
from conversations.models import Conversation

PAYMENT_FLAGS = (PAYMENT_REPORTED_FLAG, RECEIPT_FLAG)
UNDECIDED = (
    ReceiptCheck.Status.PENDING,
    ReceiptCheck.Status.READING,
    ReceiptCheck.Status.REVIEW,
    ReceiptCheck.Status.SUSPECT,
)


def _clear(conversations) -> list[int]:
    cleared = []
    for conversation in conversations.filter(needs_attention=True, attention_reason__in=PAYMENT_FLAGS):
        if ReceiptCheck.objects.filter(
            attachment__message__conversation=conversation, status__in=UNDECIDED
        ).exists():
            continue
        if (
            conversation.client_id is not None
            and Charge.objects.filter(
                client_id=conversation.client_id, status=Charge.Status.PAYMENT_CLAIMED
            ).exists()
        ):
            continue
        if Conversation.objects.filter(
            pk=conversation.pk, needs_attention=True, attention_reason__in=PAYMENT_FLAGS
        ).update(needs_attention=False, attention_reason=""):
            cleared.append(conversation.pk)
    return cleared


def flags_clear_after_payment_confirmed(*, charge: Charge) -> list[int]:
    """The operator confirmed `charge`'s payment: its debtor's conversations lose the payment flags (see the
    module docstring). Returns the ids of the conversations cleared."""
    return _clear(Conversation.objects.filter(client_id=charge.client_id))


def flags_clear_after_receipt_decided(*, check: ReceiptCheck) -> list[int]:
    """The operator confirmed or rejected `check`: its conversation loses the payment flags (see the module
    docstring). Returns the ids of the conversations cleared."""
    return _clear(Conversation.objects.filter(pk=check.attachment.message.conversation_id))
