"""What operators do in a conversation: answer from the phone or the dashboard, take over, give back, correct
an intent."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from loguru import logger

from billing.suppression import REASON_LISTED, client_suppression_reason, is_suppressed
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations.models import Conversation, Message
from conversations.recording import (
    INTENT_LABELS,
    MAX_TEXT_LENGTH,
    _create_message,
    _get_or_create_conversation,
    _touch,
    message_record_outbound,
)
from conversations.selectors import client_for_chat
from whatsapp import client as waha_api
from whatsapp.client import WahaError


def operator_message_from_phone(
    *, chat_id: str, body: str, waha_id: str, sent_at: dt.datetime, session_name: str
) -> tuple[Message, bool]:
    """Someone answered from the phone itself (WAHA `message.any`, fromMe, source "app"): record it as an
    operator message and switch the conversation to human mode so the bot stops talking over the person."""
    client = client_for_chat(chat_id=chat_id, lid=chat_id if chat_id.endswith("@lid") else "")
    with transaction.atomic():
        conversation = _get_or_create_conversation(
            chat_ids=[chat_id], client=client, session_name=session_name
        )
        message, created = _create_message(
            conversation=conversation,
            direction=Message.Direction.OUT,
            author=Message.Author.OPERATOR,
            body=body,
            waha_id=waha_id,
            sent_at=sent_at,
            ack=Message.Ack.SENT,
        )
        if created:
            _touch(conversation.pk, sent_at)
            Conversation.objects.filter(pk=conversation.pk).exclude(state=Conversation.State.HUMAN).update(
                state=Conversation.State.HUMAN
            )
    if created:
        logger.bind(conversation_id=conversation.pk).info("conversation.human_from_phone")
    return message, created


def _audit_owner_change(*, conversation: Conversation, by, before: int | None, after: int | None, via: str):
    audit_record(
        action="conversation.assign",
        actor=by,
        target=conversation,
        details={"from_user": before, "to_user": after, "via": via},
    )


@transaction.atomic
def conversation_take_over(*, conversation: Conversation, by) -> Conversation:
    """An operator takes the conversation: the bot stays silent until it is given back. An unassigned
    conversation becomes his (audited like `conversations.inbox.conversation_assign`); one another operator
    owns keeps its owner: changing the owner is the explicit "Atribuir" (race-safe, conditional)."""
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.HUMAN, needs_attention=False
    )
    by_id = getattr(by, "pk", None)
    if by_id and Conversation.objects.filter(pk=conversation.pk, assigned_to__isnull=True).update(
        assigned_to=by
    ):
        _audit_owner_change(conversation=conversation, by=by, before=None, after=by_id, via="take_over")
    conversation.refresh_from_db(fields=["state", "assigned_to", "needs_attention"])
    logger.bind(conversation_id=conversation.pk, user_id=by_id).info("conversation.take_over")
    return conversation


@transaction.atomic
def conversation_give_back(*, conversation: Conversation, by) -> Conversation:
    """Hand the conversation back to the assistant; it leaves its owner (audited when it had one)."""
    before = (
        Conversation.objects.select_for_update()
        .filter(pk=conversation.pk)
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.BOT, assigned_to=None, needs_attention=False, attention_reason=""
    )
    if before is not None:
        _audit_owner_change(conversation=conversation, by=by, before=before, after=None, via="give_back")
    conversation.refresh_from_db(fields=["state", "assigned_to", "needs_attention", "attention_reason"])
    logger.bind(conversation_id=conversation.pk, user_id=getattr(by, "pk", None)).info(
        "conversation.give_back"
    )
    return conversation


def conversation_send_refusal(conversation: Conversation) -> str:
    """Why an operator may not write to this chat now, or "": the suppression rules every send follows
    (billing.suppression: forgotten, opted out, wrong number, not on WhatsApp, listed number). A chat
    without a client is checked against the suppression list by its number."""
    if conversation.client is not None:
        # `client_listed`: annotated by conversations.selectors.conversation_for_page (saves a query).
        return client_suppression_reason(
            conversation.client, listed=getattr(conversation, "client_listed", None)
        )
    if is_suppressed(conversation.chat_id):
        return REASON_LISTED
    return ""


def conversation_check_sendable(conversation: Conversation) -> None:
    """Raise (409, with the reason) when the suppression rules forbid writing to this chat."""
    refusal = conversation_send_refusal(conversation)
    if refusal:
        raise ApplicationError(
            f"Esta conversa não pode receber mensagens: {refusal}.", {"reason": refusal}, status_code=409
        )


def operator_send(*, conversation: Conversation, text: str, by) -> Message:
    """Send an operator's text to the debtor through WAHA and record it; the conversation goes to human mode.

    The one outbound path of the inbox (a typed reply, a canned reply, a PIX): the suppression rules are
    checked first (`conversation_send_refusal`, 409). Not atomic on purpose: the WAHA call must not hold a
    transaction open (conventions). If WAHA refuses, nothing is recorded and the operator sees the error."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError("Escreva a mensagem antes de enviar.", {"field": "text"})
    if len(text) > MAX_TEXT_LENGTH:
        raise ApplicationError(
            f"A mensagem passa de {MAX_TEXT_LENGTH} caracteres.", {"field": "text", "max": MAX_TEXT_LENGTH}
        )
    conversation_check_sendable(conversation)
    try:
        waha_id = waha_api.get_client().send_text(
            conversation.chat_id, text, session=conversation.session_name
        )
    except WahaError as exc:
        logger.bind(conversation_id=conversation.pk).warning(
            "conversation.operator_reply_failed reason={}", exc.reason
        )
        raise ApplicationError(
            "Não foi possível enviar a mensagem pelo WhatsApp.",
            {"reason": exc.reason, "retry": not exc.permanent},
            status_code=502,
        ) from exc
    with transaction.atomic():
        message = message_record_outbound(
            conversation=conversation, body=text, author=Message.Author.OPERATOR, waha_id=waha_id, operator=by
        )
        Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.HUMAN)
        # Whoever answers an unassigned conversation owns it; an assigned one keeps its owner.
        Conversation.objects.filter(pk=conversation.pk, assigned_to__isnull=True).update(assigned_to=by)
    conversation.refresh_from_db(fields=["state", "assigned_to", "last_message_at"])
    return message


def operator_reply(*, conversation: Conversation, text: str, by) -> Message:
    """An operator's typed reply (dashboard, API): `operator_send`."""
    return operator_send(conversation=conversation, text=text, by=by)


def message_correct_intent(*, message: Message, intent: str, by) -> Message:
    """An operator fixes the intent the classifier gave an inbound message (training feedback)."""
    if intent not in INTENT_LABELS:
        raise ApplicationError("Intenção inválida.", {"intent": intent, "allowed": list(INTENT_LABELS)})
    if message.direction != Message.Direction.IN:
        raise ApplicationError("Só mensagens recebidas do devedor têm intenção.", {"message_id": message.pk})
    message.corrected_intent = intent
    message.corrected_by = by
    message.save(update_fields=["corrected_intent", "corrected_by"])
    logger.bind(message_id=message.pk, user_id=getattr(by, "pk", None)).info(
        "conversation.intent_corrected from={} to={}", message.intent, intent
    )
    return message
