"""The chatbot's write side: answer an inbound message, the API's dry run, promise follow-ups and model
activation.

One turn (conventions: no network call inside a transaction), one function each:
1. understand: classify the text and extract entities (CPU only, no transaction);
2. claim: `bot_silence_reason` (the one rule for "should the bot answer") and the claim of the message
   (`replied_at` set by a conditional UPDATE: a redelivered task finds it taken), the classification stored
   with it;
3. decide and apply, in one transaction with the conversation locked: the policy's `decide` on a snapshot of
   the debtor, the actions through billing's services, the context/flag/handoff through conversations';
4. deliver, after commit: the PSP's PIX codes in place of the policy's static ones (PIX_PROVIDER=api_pix,
   billing.payments.pix_charges.psp_codes_in_text), seen → typing (proportional to the reply, capped) →
   sendText, then the outbound Message.
A crash between 2 and 4 leaves the message unanswered rather than answered twice (at-most-once reply). The
chatbot changes conversations and messages only through `conversations.services`.

Consent: only the debtor's own WhatsApp message may opt him out or mark his number wrong. A message typed
through /api/chat/process (source `api`) never does, unless an operator states that he acts for the debtor
(`acting_for_debtor`), and then the change is audited with the operator as its author.

Step 3's application of the decision (consent gate, actions, audit) is in chatbot.applying; promise
follow-ups and model activation in chatbot.follow_ups (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.payments.pix_charges import psp_codes_in_text
from chatbot import media_replies
from chatbot.applying import _apply, _consent_gate
from chatbot.classification import active_classifier, entities_for
from chatbot.follow_ups import follow_ups_send_due, model_version_activate, promise_follow_up_send
from chatbot.policy import Decision, decide
from chatbot.selectors import (
    bot_client_snapshot,
    bot_focus_charge_id,
    client_by_phone,
    phone_to_e164,
)
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_chat_id
from cobranca.metrics import observe_bot_answer, observe_classification
from cobranca.roles import is_operator
from conversations import services as conversations
from conversations.models import Conversation, Message
from conversations.selectors import bot_silence_reason
from whatsapp import client as waha_api
from whatsapp.client import WahaError

# What whatsapp.services stores as the body of a media message without caption.
MEDIA_PLACEHOLDER = "[mídia]"
MAX_TEXT_LENGTH = 4096

# --- seams (tests replace these) ---------------------------------------------------------------------------


def classify(text: str) -> tuple[str, float]:
    """(intent, confidence) from the active model. The model loads lazily, once per worker process."""
    prediction = active_classifier().predict(text)
    observe_classification(prediction.intent, float(prediction.confidence))
    return prediction.intent, float(prediction.confidence)


def extract(text: str, now: dt.datetime) -> dict[str, Any]:
    return entities_for(text, now)


def typing_sleep(seconds: float) -> None:
    time.sleep(seconds)


# --- helpers -----------------------------------------------------------------------------------------------


def typing_seconds(reply: str) -> float:
    """A pause that looks like typing: proportional to the reply, capped (CHATBOT_TYPING_MAX_SECONDS)."""
    per_char = float(settings.CHATBOT_TYPING_SECONDS_PER_CHAR)
    cap = float(settings.CHATBOT_TYPING_MAX_SECONDS)
    return max(0.0, min(len(reply) * per_char, cap))


def entities_to_json(entities: dict[str, Any]) -> dict[str, Any]:
    """Message.entities is JSON: amounts as strings (never floats), dates ISO."""
    out: dict[str, Any] = {}
    for key, value in (entities or {}).items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, (dt.date, dt.datetime)):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def _classify_text(text: str, now: dt.datetime) -> tuple[str, float, dict[str, Any]]:
    """Classify and extract; a broken model or extractor degrades to `desconhecido` (the policy then asks to
    rephrase and hands over at the second miss) instead of leaving the debtor without any answer."""
    try:
        intent, confidence = classify(text)
    except (OSError, RuntimeError, ValueError, KeyError):
        logger.exception("chatbot.classify_failed")
        intent, confidence = "desconhecido", 0.0
    try:
        entities = extract(text, now)
    except (ValueError, TypeError, OverflowError, KeyError):
        logger.exception("chatbot.entities_failed")
        entities = {}
    return intent, confidence, entities


def _needs_limits(intent: str, context: dict[str, Any]) -> bool:
    """Only a negotiation (or the answer to an offer) reads the NegotiationPolicy: spare its query."""
    return intent in ("negociacao", "dificuldade_financeira") or context.get("pending") in (
        "plan_choice",
        "charge_choice",  # "which charge?" may have been asked for a negotiation
    )


@dataclass
class Understanding:
    """What the bot understood of one inbound message."""

    text: str
    intent: str
    confidence: float
    entities: dict[str, Any]
    stored: bool  # the message already carried this classification (a redelivered task)

    def classification(self) -> dict[str, Any]:
        """The fields to store on the message ({} when it already has them)."""
        if self.stored:
            return {}
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "entities": entities_to_json(self.entities),
        }


@dataclass
class TurnResult:
    intent: str = ""
    confidence: float | None = None
    entities: dict[str, Any] = field(default_factory=dict)
    response: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False
    sent: bool = False
    skipped: str = ""
    message_id: int | None = None
    conversation_id: int | None = None
    # Consent actions the policy chose but that were not carried out (an API message is not his word).
    refused_actions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "entities": self.entities,
            "response": self.response,
            "actions": self.actions,
            "handoff": self.handoff,
            "sent": self.sent,
            "skipped": self.skipped,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "refused_actions": self.refused_actions,
        }


# --- the turn ----------------------------------------------------------------------------------------------


def bot_handle_inbound(*, message_id: int) -> None:
    """Answer one inbound message. Called by the chatbot's task (`chatbot.tasks.bot_answer_inbound`), which
    conversations enqueues when a debtor's message arrives. Safe to run twice: the second run finds the
    message claimed and does nothing."""
    message = (
        Message.objects.select_related("conversation", "conversation__client", "attachment")
        .filter(pk=message_id, direction=Message.Direction.IN)
        .first()
    )
    if message is None:
        logger.warning("chatbot.inbound_missing message_id={}", message_id)
        return
    _run_turn(message, now=timezone.now(), send=True)


def bot_process_text(
    *,
    phone: str,
    text: str,
    now: dt.datetime | None = None,
    send: bool = False,
    by=None,
    acting_for_debtor: bool = False,
) -> dict:
    """Run the bot for `phone` on `text` typed by an API caller (`by`; the API's /api/chat/process).

    The inbound is recorded with source `api` and its user, apart from the debtor's WhatsApp messages, with
    the bot's answer, in the phone's conversation. The policy's charge actions (promises, agreements...)
    really happen; consent actions (opt-out, wrong number) only when `acting_for_debtor` and `by` is an
    operator (audited), otherwise they come back in `refused_actions`. `send=False` (default) does not call
    WAHA: the answer is returned and recorded without a WAHA id. `send=True` delivers it like a
    webhook-triggered turn.
    """
    if acting_for_debtor and not is_operator(by):
        raise ApplicationError(
            "Só um operador pode agir em nome do devedor.", {"acting_for_debtor": True}, status_code=403
        )
    text = (text or "").strip()
    if not text:
        raise ApplicationError("Mensagem vazia.", {"field": "message"})
    if len(text) > MAX_TEXT_LENGTH:
        raise ApplicationError("Mensagem longa demais.", {"field": "message", "max": MAX_TEXT_LENGTH})
    e164 = phone_to_e164(phone)
    now = now or timezone.now()
    client = client_by_phone(phone=e164)
    chat_id = (client.chat_id if client and client.chat_id else "") or f"{e164.lstrip('+')}@c.us"
    with transaction.atomic():
        conversation = conversations.conversation_get_or_create(
            chat_ids=[chat_id], client=client, session_name=settings.WAHA_SESSION_NAME
        )
        message = conversations.message_record_inbound(
            conversation=conversation, body=text, sent_at=now, source=Message.Source.API, source_user=by
        )
    acting_for = by if acting_for_debtor else None
    return _run_turn(message, now=now, send=send, acting_for=acting_for).as_dict()


def _run_turn(message: Message, *, now: dt.datetime, send: bool, acting_for=None) -> TurnResult:
    """understand → claim → (under the conversation's lock) decide → apply → deliver.

    A crash between the claim and the delivery leaves the message unanswered rather than answered twice."""
    understood = _understand(message, now)
    result = TurnResult(
        message_id=message.pk,
        conversation_id=message.conversation_id,
        intent=understood.intent,
        confidence=understood.confidence,
        entities=entities_to_json(understood.entities),
    )
    if reason := _claim(message, understood, now):
        result.skipped = reason
        return result
    with transaction.atomic():
        conversation = conversations.conversation_lock(conversation=message.conversation)
        if reason := bot_silence_reason(conversation):  # an operator took over meanwhile
            conversations.message_release_reply(message=message)
            result.skipped = reason
            return result
        context = dict(conversation.context or {})
        decision = _decide(conversation, understood, context=context, now=now, message=message)
        decision, result.refused_actions = _consent_gate(decision, message=message, acting_for=acting_for)
        decision = _apply(
            decision,
            conversation=conversation,
            message=message,
            context=context,
            now=now,
            acting_for=acting_for,
        )
    reply = _with_psp_codes(conversation, decision.reply)
    result.response = reply
    result.actions = [action.as_dict() for action in decision.actions]
    result.handoff = decision.handoff
    logger.bind(conversation_id=conversation.pk, message_id=message.pk).info(
        "chatbot.turn intent={} confidence={:.2f} actions={} handoff={}",
        understood.intent,
        understood.confidence,
        decision.action_kinds(),
        decision.handoff,
    )
    if reply:
        result.sent = _deliver(conversation, reply, reply_to=message.waha_id, send=send)
        # From the debtor's message reaching us (its row) to the reply handed to WAHA / recorded.
        observe_bot_answer((timezone.now() - message.created_at).total_seconds())
    return result


def _understand(message: Message, now: dt.datetime) -> Understanding:
    """The message's intent, confidence and entities: the stored ones when a previous run classified it, else
    from the classifier. Classified even when the bot will not answer: the inbox shows intents in human mode
    too. A media message without text is `desconhecido`."""
    text = message.body or ""
    if text.strip() in ("", MEDIA_PLACEHOLDER):
        text = ""
    if message.intent:
        return Understanding(
            text=text,
            intent=message.intent,
            confidence=message.confidence or 0.0,
            entities=dict(message.entities or {}),
            stored=True,
        )
    intent, confidence, entities = _classify_text(text, now) if text else ("desconhecido", 0.0, {})
    return Understanding(text=text, intent=intent, confidence=confidence, entities=entities, stored=False)


def _claim(message: Message, understood: Understanding, now: dt.datetime) -> str:
    """Take the message for this run's reply; returns "" when this run answers, else why not. The
    classification is stored either way."""
    conversation = message.conversation
    if reason := bot_silence_reason(conversation):
        if not understood.stored:
            conversations.message_store_classification(message=message, **understood.classification())
        conversations.conversation_note_bot_silence(conversation=conversation, reason=reason)
        return reason
    if not conversations.message_claim_reply(
        message=message, at=now, classification=understood.classification()
    ):
        return "mensagem já respondida"
    return ""


def _decide(
    conversation: Conversation,
    understood: Understanding,
    *,
    context: dict[str, Any],
    now: dt.datetime,
    message: Message | None = None,
) -> Decision:
    """The dialogue policy's decision on the debtor as he is now (the conversation row is locked); a file
    the debtor sent is answered by `chatbot.media_replies` (`media_turn`)."""
    attachment = media_replies.attachment_of(message)
    if attachment is not None and not understood.text:
        return media_replies.media_turn(conversation, attachment, context=context, now=now)
    decision = _policy_decision(conversation, understood, context=context, now=now)
    if attachment is None:
        return decision
    return media_replies.with_file_flag(
        decision, attachment, intent=understood.intent, context=context, now=now
    )


def _policy_decision(
    conversation: Conversation, understood: Understanding, *, context: dict[str, Any], now: dt.datetime
) -> Decision:
    return decide(
        intent=understood.intent,
        confidence=understood.confidence,
        entities=understood.entities,
        text=understood.text,
        context=context,
        client_snapshot=bot_client_snapshot(
            client=conversation.client,
            with_limits=_needs_limits(understood.intent, context),
            focus_charge_id=bot_focus_charge_id(conversation=conversation, context=context)
            if conversation.client_id
            else None,
        ),
        now=now,
        tz=timezone.get_current_timezone(),
        confirm_ttl=dt.timedelta(minutes=settings.CHATBOT_CONFIRM_TTL_MINUTES),
        opt_out_confirm_below=settings.CHATBOT_OPT_OUT_CONFIRM_BELOW,
    )


def _with_psp_codes(conversation: Conversation, text: str) -> str:
    """The policy writes static PIX codes (it is pure); with PIX_PROVIDER=api_pix they become the cobvs' codes
    here, after the turn committed (a PSP call, bounded by the client's timeout). A code that stays static
    (PSP down, debtor without CPF/CNPJ) is still sent, and the conversation flagged with why."""
    text, reasons = psp_codes_in_text(text=text, client=conversation.client)
    if reasons:
        conversations.conversation_flag(conversation=conversation, reason=f"PIX estático: {reasons[0]}")
    return text


def _deliver(conversation: Conversation, text: str, *, reply_to: str | None, send: bool) -> bool:
    """Send the reply (after commit: no network inside the turn's transaction) and record it. A reply WAHA
    refused is recorded with an error ack and the conversation flagged for a person. True when sent."""
    waha_id = _send_reply(conversation, text, reply_to=reply_to) if send else None
    outbound = conversations.message_record_outbound(
        conversation=conversation, body=text, author=Message.Author.BOT, waha_id=waha_id
    )
    if send and not waha_id:
        conversations.message_mark_send_failed(message=outbound)
        conversations.conversation_flag(
            conversation=conversation, reason="Falha ao enviar a resposta do assistente"
        )
    return bool(waha_id)


def _send_reply(conversation: Conversation, text: str, *, reply_to: str | None) -> str | None:
    """seen → typing → text. Only sendText matters: seen/typing failures are logged and ignored."""
    client = waha_api.get_client()
    chat_id, session = conversation.chat_id, conversation.session_name
    try:
        client.send_seen(chat_id, message_ids=[reply_to] if reply_to else None, session=session)
        pause = typing_seconds(text)
        if pause > 0:
            client.start_typing(chat_id, session=session)
            typing_sleep(pause)
            client.stop_typing(chat_id, session=session)
    except WahaError as exc:
        logger.info("chatbot.typing_failed chat={} reason={}", mask_chat_id(chat_id), exc.reason)
    try:
        return client.send_text(chat_id, text, session=session)
    except WahaError as exc:
        logger.warning(
            "chatbot.send_failed chat={} reason={} permanent={}",
            mask_chat_id(chat_id),
            exc.reason,
            exc.permanent,
        )
        return None


__all__ = [
    "bot_handle_inbound",
    "bot_process_text",
    "follow_ups_send_due",
    "model_version_activate",
    "promise_follow_up_send",
]
