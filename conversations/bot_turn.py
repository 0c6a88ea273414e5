"""The chatbot's writes on conversations and messages (its turn: classify, claim, apply, deliver)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q

from conversations.models import Conversation, Message
from conversations.recording import ATTENTION_OPTED_OUT_WROTE
from conversations.selectors import SILENT_OPTED_OUT

# --- the chatbot's writes (its turn: classify, claim, apply, deliver) ---------------------------------------


def message_store_classification(*, message: Message, intent: str, confidence: float, entities: dict) -> None:
    """Store what the classifier said about an inbound message, unless it was already classified."""
    Message.objects.filter(pk=message.pk, intent="").update(
        intent=intent, confidence=confidence, entities=entities
    )


def message_claim_reply(*, message: Message, at: dt.datetime, classification: dict | None = None) -> bool:
    """Claim an inbound message for the bot's reply: one conditional UPDATE decides which of two concurrent
    deliveries of the same message answers (and stores the classification with it: one write instead of
    two on the hot path). False when it was already claimed."""
    return (
        Message.objects.filter(pk=message.pk, replied_at__isnull=True).update(
            replied_at=at, **(classification or {})
        )
        > 0
    )


def message_release_reply(*, message: Message) -> None:
    """Give a claimed message back (the bot did not answer it after all)."""
    Message.objects.filter(pk=message.pk).update(replied_at=None)


def message_mark_send_failed(*, message: Message) -> None:
    """A message we recorded could not be sent (WAHA refused it): its ack shows the error."""
    Message.objects.filter(pk=message.pk).update(ack=Message.Ack.ERROR)
    message.ack = Message.Ack.ERROR


def conversation_focus_quoted(*, conversation: Conversation, quoted_id: str, at: dt.datetime) -> int | None:
    """The debtor quoted one of our messages: when it was a reminder (a message with a Dispatch), its charge
    becomes the charge in focus (`context["focus_charge_id"]`, `context["focus_at"]`), which the chatbot's
    policy acts on. WAHA's `replyTo.id` is the bare message id; ours are stored serialized
    (`true_<chat>_<id>`). Returns the charge id, or None when the quoted message is no reminder of ours."""
    quoted_id = (quoted_id or "").strip()
    if not quoted_id:
        return None
    charge_id = (
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.OUT, dispatch__isnull=False
        )
        .filter(Q(waha_id=quoted_id) | Q(waha_id__endswith=f"_{quoted_id}"))
        .values_list("dispatch__charge_id", flat=True)
        .first()
    )
    if charge_id is None:
        return None
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        context = dict(locked.context or {})
        context.update(focus_charge_id=charge_id, focus_at=at.isoformat())
        Conversation.objects.filter(pk=conversation.pk).update(context=context)
    conversation.context = context
    return charge_id


def conversation_flag(*, conversation: Conversation, reason: str) -> None:
    """A person should look at this conversation (the inbox's "requer atendimento")."""
    Conversation.objects.filter(pk=conversation.pk).update(
        needs_attention=True, attention_reason=reason[:200]
    )


def conversation_note_bot_silence(*, conversation: Conversation, reason: str) -> None:
    """The bot stays silent (`bot_silence_reason`); when the debtor opted out, a person should still see that
    he wrote."""
    if reason == SILENT_OPTED_OUT:
        conversation_flag(conversation=conversation, reason=ATTENTION_OPTED_OUT_WROTE)


def conversation_lock(*, conversation: Conversation) -> Conversation:
    """The conversation row re-read under a row lock (with its client), for the bot's turn. Call inside a
    transaction: the lock holds until it ends."""
    return (
        Conversation.objects.select_for_update(of=("self",)).select_related("client").get(pk=conversation.pk)
    )


def conversation_record_bot_turn(
    *,
    conversation: Conversation,
    context: dict,
    attention_reason: str = "",
    handoff: bool = False,
    at: dt.datetime,
    message: Message | None = None,
    acted_as: str = "",
) -> Conversation:
    """Save what a bot turn changed: its context, a flag for a person, a handoff to human mode, and the intent
    the debtor's `message` acted as when it answered a question of the bot (`acted_as`)."""
    if message is not None and acted_as:
        Message.objects.filter(pk=message.pk).update(acted_as_intent=acted_as[:40])
        message.acted_as_intent = acted_as[:40]
    fields = ["context"]
    if attention_reason:
        conversation.needs_attention = True
        conversation.attention_reason = attention_reason[:200]
        fields += ["needs_attention", "attention_reason"]
    if handoff:
        conversation.state = Conversation.State.HUMAN
        context["handoff_at"] = at.isoformat()
        fields.append("state")
    conversation.context = context
    conversation.save(update_fields=fields)
    return conversation
