"""The chatbot's write side: answer an inbound message, the API's dry run, promise follow-ups and model
activation.

One turn (conventions: no network call inside a transaction), one function each:
1. understand: classify the text and extract entities (CPU only, no transaction);
2. claim: `bot_silence_reason` (the one rule for "should the bot answer") and the claim of the message
   (`replied_at` set by a conditional UPDATE: a redelivered task finds it taken), the classification stored
   with it;
3. decide and apply, in one transaction with the conversation locked: the policy's `decide` on a snapshot of
   the debtor, the actions through billing's services, the context/flag/handoff through conversations';
4. deliver, after commit: seen → typing (proportional to the reply, capped) → sendText, then the outbound
   Message.
A crash between 2 and 4 leaves the message unanswered rather than answered twice (at-most-once reply). The
chatbot changes conversations and messages only through `conversations.services`.

Consent: only the debtor's own WhatsApp message may opt him out or mark his number wrong. A message typed
through /api/chat/process (source `api`) never does, unless an operator states that he acts for the debtor
(`acting_for_debtor`), and then the change is audited with the operator as its author.
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

from billing import services as billing
from billing import suppression
from billing.dispatch.window import parse_window
from billing.models import Charge, PromiseToPay
from chatbot import media_replies
from chatbot.classification import active_classifier, entities_for
from chatbot.models import ModelVersion
from chatbot.policy import Action, ActionKind, Decision, charge_label, day, decide, money, phrase, reply
from chatbot.selectors import (
    bot_client_snapshot,
    bot_focus_charge_id,
    client_by_phone,
    creditor_from_settings,
    phone_to_e164,
    promises_due_follow_up,
)
from cobranca.audit import audit_record
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
# What only the debtor himself may decide: actions, and the context keys that carry the same decision.
CONSENT_ACTIONS = (ActionKind.OPT_OUT, ActionKind.MARK_WRONG_NUMBER)
CONSENT_CONTEXT_KEYS = ("opted_out",)

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
    result.response = decision.reply
    result.actions = [action.as_dict() for action in decision.actions]
    result.handoff = decision.handoff
    logger.bind(conversation_id=conversation.pk, message_id=message.pk).info(
        "chatbot.turn intent={} confidence={:.2f} actions={} handoff={}",
        understood.intent,
        understood.confidence,
        decision.action_kinds(),
        decision.handoff,
    )
    if decision.reply:
        result.sent = _deliver(conversation, decision.reply, reply_to=message.waha_id, send=send)
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
    return media_replies.with_file_flag(decision) if attachment is not None else decision


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


def _consent_gate(decision: Decision, *, message: Message, acting_for) -> tuple[Decision, list[str]]:
    """The decision without its consent changes when the message is not the debtor's own word (an API
    message, unless an operator acts for the debtor); returns it and the kinds taken out."""
    if message.source == Message.Source.WHATSAPP or acting_for is not None:
        return decision, []
    refused = [a.kind for a in decision.actions if a.kind in CONSENT_ACTIONS]
    if (
        any(decision.context_updates.get(key) for key in CONSENT_CONTEXT_KEYS)
        and ActionKind.OPT_OUT not in refused
    ):
        refused.append(ActionKind.OPT_OUT)
    if not refused:
        return decision, []
    logger.bind(message_id=message.pk).warning(
        "chatbot.consent_refused source={} actions={}", message.source, refused
    )
    kept = Decision(
        reply=decision.reply,
        actions=[a for a in decision.actions if a.kind not in CONSENT_ACTIONS],
        context_updates={k: v for k, v in decision.context_updates.items() if k not in CONSENT_CONTEXT_KEYS},
        handoff=decision.handoff,
    )
    return kept, [str(kind) for kind in refused]


def _apply(
    decision: Decision,
    *,
    conversation: Conversation,
    message: Message,
    context: dict[str, Any],
    now: dt.datetime,
    acting_for=None,
) -> Decision:
    """Carry out the decision: its actions through billing's services (in a savepoint), then the
    conversation's context, flag and handoff through conversations' services. Returns the decision as
    carried out: when billing refuses an action (the charge changed under us: paid meanwhile, an operator's
    edit) nothing of it stays, the debtor hears something safe and a person looks."""
    try:
        with transaction.atomic():
            _apply_actions(
                decision.actions, conversation=conversation, message=message, acting_for=acting_for
            )
            if decision.context_updates.get("opted_out") and conversation.client is None:
                # A number without a client (it wrote first, or was forgotten): the list keeps its wish.
                suppression.suppress(conversation.chat_id, reason=suppression.Reason.OPT_OUT, by=acting_for)
                _audit_for_debtor("chat.opt_out_for_debtor", acting_for, message=message, target=conversation)
    except ApplicationError as exc:
        logger.warning("chatbot.action_refused conversation={} error={}", conversation.pk, exc.message)
        decision = Decision(
            reply=reply("nao_consegui_registrar"),
            actions=[Action(ActionKind.FLAG, {"reason": f"Assistente não conseguiu: {exc.message}"})],
        )
    context.update(decision.context_updates)
    reasons = [
        a.params.get("reason", "")
        for a in decision.actions
        if a.kind in (ActionKind.FLAG, ActionKind.HANDOFF)
    ]
    conversations.conversation_record_bot_turn(
        conversation=conversation,
        context=context,
        attention_reason=reasons[-1] if reasons else "",
        handoff=decision.handoff,
        at=now,
        message=message,
        acted_as=decision.acted_as,
    )
    return decision


def _audit_for_debtor(action: str, operator, *, message: Message, target) -> None:
    """A consent change an operator made for the debtor through the API: recorded with him as its author."""
    if operator is not None:
        audit_record(
            action=action,
            actor=operator,
            target=target,
            details={"source": message.source, "message_id": message.pk, "acting_for_debtor": True},
        )


def _apply_actions(
    actions: list[Action], *, conversation: Conversation, message: Message, acting_for=None
) -> None:
    client = conversation.client
    for action in actions:
        params = action.params
        if action.kind in (ActionKind.FLAG, ActionKind.HANDOFF):
            continue  # conversation fields, saved by conversation_record_bot_turn
        if action.kind == ActionKind.OPT_OUT:
            if client is not None:
                billing.client_opt_out(client=client, by=acting_for)
                _audit_for_debtor("client.opt_out_for_debtor", acting_for, message=message, target=client)
            continue
        if action.kind == ActionKind.MARK_WRONG_NUMBER:
            if client is not None:
                billing.client_mark_wrong_number(client=client)
                _audit_for_debtor(
                    "client.wrong_number_for_debtor", acting_for, message=message, target=client
                )
            continue
        # Every charge action names a charge of this conversation's client, never another one.
        charge = Charge.objects.select_for_update().filter(pk=params.get("charge_id"), client=client).first()
        if charge is None:
            raise ApplicationError("Cobrança não encontrada.", {"charge_id": params.get("charge_id")})
        if action.kind == ActionKind.CLAIM_PAYMENT:
            billing.charge_claim_payment(charge=charge, source_message=message)
        elif action.kind == ActionKind.DISPUTE:
            billing.charge_dispute(charge=charge, reason=f"contestação pelo WhatsApp (mensagem {message.pk})")
        elif action.kind == ActionKind.CREATE_PROMISE:
            billing.promise_create(
                charge=charge,
                promised_date=params["promised_date"],
                amount=params.get("amount"),
                source_message=message,
            )
        elif action.kind == ActionKind.CREATE_AGREEMENT:
            billing.agreement_create(
                charge=charge,
                installments=params["installments"],
                discount_percent=params.get("discount_percent") or Decimal("0"),
                first_due_date=params["first_due_date"],
            )
        else:  # pragma: no cover - a new ActionKind without its applier is a programming error
            raise ValueError(f"unknown action {action.kind}")


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


# --- promise follow-ups ------------------------------------------------------------------------------------


def follow_up_text(*, promise: PromiseToPay, first_name: str) -> str:
    charge = promise.charge
    return reply(
        "lembrete_promessa",
        saudacao=phrase("saudacao_nome", nome=first_name) if first_name else phrase("saudacao"),
        credor=creditor_from_settings().name,
        valor=money(promise.amount or charge.amount),
        cobranca=charge_label(amount=charge.amount, due_date=charge.due_date, description=charge.description),
        data=day(promise.promised_date),
    )


def promise_follow_up_send(*, promise_id: int, now: dt.datetime | None = None) -> str:
    """Send one promise's follow-up. Returns what happened ("sent", "skipped: …", "already").

    Claimed with a conditional UPDATE on `follow_up_sent_at`, so two workers never both send it. The claim
    stays even when the send fails: a reminder is not worth a duplicate (an operator sees the flag).
    """
    now = now or timezone.now()
    if not PromiseToPay.objects.filter(
        pk=promise_id, status=PromiseToPay.Status.PENDING, follow_up_sent_at__isnull=True
    ).update(follow_up_sent_at=now):
        return "already"
    promise = PromiseToPay.objects.select_related("charge", "charge__client").get(pk=promise_id)
    charge, client = promise.charge, promise.charge.client
    if charge.status != Charge.Status.PROMISED:
        return f"skipped: cobrança {charge.status}"
    if client.is_suppressed:
        return "skipped: cliente suprimido"
    conversation = client.conversations.order_by("-last_message_at", "-pk").first()
    if conversation is None:
        chat_id = client.chat_id or f"{client.phone.lstrip('+')}@c.us"
        conversation = conversations.conversation_get_or_create(
            chat_ids=[chat_id], client=client, session_name=settings.WAHA_SESSION_NAME
        )
    if conversation.state != Conversation.State.BOT:
        conversations.conversation_flag(
            conversation=conversation, reason="Promessa de pagamento vencida sem confirmação"
        )
        return "skipped: conversa com atendente"
    text = follow_up_text(promise=promise, first_name=client.first_name)
    try:
        waha_id = waha_api.get_client().send_text(
            conversation.chat_id, text, session=conversation.session_name
        )
    except WahaError as exc:
        logger.warning("chatbot.follow_up_failed promise={} reason={}", promise.pk, exc.reason)
        conversations.conversation_flag(
            conversation=conversation, reason="Falha ao enviar lembrete de promessa"
        )
        return f"skipped: {exc.reason}"
    conversations.message_record_outbound(
        conversation=conversation, body=text, author=Message.Author.BOT, waha_id=waha_id
    )
    logger.bind(conversation_id=conversation.pk).info("chatbot.follow_up_sent promise={}", promise.pk)
    return "sent"


def follow_ups_send_due(*, now: dt.datetime | None = None) -> int:
    """Send every due follow-up, inside the send window only (the next run picks up the rest)."""
    now = now or timezone.now()
    if not parse_window(settings.SEND_WINDOW).is_open(now):
        return 0
    sent = 0
    for promise_id in promises_due_follow_up(now=now):
        sent += promise_follow_up_send(promise_id=promise_id, now=now) == "sent"
    return sent


# --- model versions ----------------------------------------------------------------------------------------


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion, by=None) -> ModelVersion:
    """Make this version the one the bot uses (exactly one active: a partial unique constraint guards it).

    Workers pick it up on their next message (the classifier cache is keyed by path)."""
    ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk).update(
        is_active=False
    )
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True)
    model_version.is_active = True
    logger.info("chatbot.model_activated version={} by={}", model_version.version, getattr(by, "pk", None))
    return model_version


__all__ = [
    "bot_handle_inbound",
    "bot_process_text",
    "follow_ups_send_due",
    "model_version_activate",
    "promise_follow_up_send",
]
