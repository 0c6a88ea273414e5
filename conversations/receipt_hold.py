"""A receipt the debtor sends while the bot is silent (an operator holds the conversation): still read.

After an operator rejects a receipt the debtor is asked for the complete one, and the operator's reply puts
the conversation in human mode, where the chatbot does not run. The picture/PDF he sends next must still get
a ReceiptCheck of its own (read by the worker, shown to the operator beside the file), like the first one: the
bot's reply is what the hold suppresses, not the reading."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from billing.receipts import services as receipts
from chatbot.media_replies import RECEIPT_FLAG, attachment_of, receipt_expected
from chatbot.policy.decide import PENDING_RECEIPT
from conversations.models import Attachment, Conversation, Message


def conversation_expect_receipt(*, conversation: Conversation, at: dt.datetime | None = None) -> None:
    """The debtor was asked (by an operator) to send a receipt: the next picture/PDF is taken as one."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        context = dict(locked.context or {})
        context.update(pending=PENDING_RECEIPT, pending_at=at.isoformat(), pending_data={})
        Conversation.objects.filter(pk=conversation.pk).update(context=context)
    conversation.context = context


def receipt_take_while_silent(message: Message) -> bool:
    """Queue the reading of `message`'s picture/PDF when a receipt is expected in its conversation (the same
    rule as the bot's, `receipt_expected`), flag the conversation for the operator, and consume the request
    (one receipt per request, as the bot does). Returns whether it was taken. Idempotent per attachment."""
    attachment = attachment_of(message)
    readable = (
        attachment is not None
        and attachment.status == Attachment.Status.STORED
        and attachment.kind in (Attachment.Kind.IMAGE, Attachment.Kind.PDF)
    )
    if not readable:
        return False
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
        context = dict(conversation.context or {})
        if not receipt_expected(context, timezone.now()):
            return False
        if context.get("pending") == PENDING_RECEIPT:
            context.update(pending=None, pending_at=None, pending_data={})
        Conversation.objects.filter(pk=conversation.pk).update(
            context=context, needs_attention=True, attention_reason=RECEIPT_FLAG
        )
        receipts.receipt_check_request(attachment_id=attachment.pk, charge_id=context.get("focus_charge_id"))
    return True
