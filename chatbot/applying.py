"""Applying the policy's decision: the consent gate, the actions through billing's and conversations'
services, the audit of an operator acting for the debtor. Part of the turn in chatbot.services (step 3)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from loguru import logger

from billing import services as billing
from billing import suppression
from billing.models import Charge
from billing.receipts import services as receipts
from chatbot.policy import Action, ActionKind, Decision, reply
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations import services as conversations
from conversations.models import Conversation, Message

# What only the debtor himself may decide: actions, and the context keys that carry the same decision.
CONSENT_ACTIONS = (ActionKind.OPT_OUT, ActionKind.MARK_WRONG_NUMBER)
CONSENT_CONTEXT_KEYS = ("opted_out",)


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
        if action.kind == ActionKind.CHECK_RECEIPT:
            receipts.receipt_check_request(
                attachment_id=params["attachment_id"], charge_id=params.get("charge_id")
            )
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
