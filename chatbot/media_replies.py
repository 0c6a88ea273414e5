"""The bot's answer to a picture, PDF or audio the debtor sent without text: one function, apart from the
dialogue policy (chatbot/policy/) and its reply wording, because the classifier has nothing to read.

- audio: the bot cannot listen yet; it asks politely for text, and a person is flagged to listen;
- a picture or PDF when a receipt was asked for (the policy's pending "receipt" after "já paguei") or the
  debtor's recent messages claimed a payment: acknowledged as the receipt, flagged for a person to check it;
- any other picture or PDF: acknowledged, flagged for a person to look.

The file's kind is the one its own bytes showed (`conversations.media.sniff`), or what WAHA announced when the
file could not be kept. The texts are in the reply catalogue (chatbot/replies.toml) with every other reply."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chatbot.policy import Action, ActionKind, Decision, reply
from chatbot.policy.decide import PENDING_RECEIPT, PENDING_TTL
from conversations.models import Attachment

# The texts live in the reply catalogue (chatbot/replies.toml, [respostas]).
AUDIO_REPLY_KEY = "audio_recebido"
RECEIPT_REPLY_KEY = "comprovante_recebido"
FILE_REPLY_KEY = "arquivo_recebido"
AUDIO_FLAG = "Áudio recebido: ouvir"
RECEIPT_FLAG = "Comprovante recebido: conferir"
FILE_FLAG = "Arquivo recebido: conferir"
FILE_WITH_TEXT_FLAG = "Arquivo recebido com texto: conferir"
# How many of the debtor's last intents may show the payment claim the file answers.
CLAIM_LOOKBACK = 3


def receipt_expected(context: dict[str, Any], now: dt.datetime) -> bool:
    """A receipt was asked for (pending "receipt", not expired) or the debtor just said he paid."""
    if context.get("pending") == PENDING_RECEIPT:
        try:
            since = dt.datetime.fromisoformat(context.get("pending_at") or "")
        except (TypeError, ValueError):
            since = None
        if since is not None and now - since <= PENDING_TTL:
            return True
    recent = list(context.get("last_intents") or [])[-CLAIM_LOOKBACK:]
    return "confirmacao_pagamento" in recent


def media_decision(
    *, kind: str, context: dict[str, Any], now: dt.datetime, opted_out: bool, attachment_id: int | None = None
) -> Decision:
    """The turn for a media message without text. `kind` is "image", "pdf", "audio" or "other". A stored
    picture or PDF taken as the receipt is also queued for reading (`billing.receipts`)."""
    if opted_out or context.get("opted_out"):
        return Decision(reply="")
    if kind == "audio":
        return Decision(
            reply=reply(AUDIO_REPLY_KEY), actions=[Action(ActionKind.FLAG, {"reason": AUDIO_FLAG})]
        )
    if receipt_expected(context, now):
        updates: dict[str, Any] = {}
        if context.get("pending") == PENDING_RECEIPT:
            updates = {"pending": None, "pending_at": None, "pending_data": {}}
        actions = [Action(ActionKind.FLAG, {"reason": RECEIPT_FLAG})]
        if attachment_id is not None and kind in ("image", "pdf"):
            params = {"attachment_id": attachment_id, "charge_id": context.get("focus_charge_id")}
            actions.append(Action(ActionKind.CHECK_RECEIPT, params))
        return Decision(reply=reply(RECEIPT_REPLY_KEY), actions=actions, context_updates=updates)
    return Decision(reply=reply(FILE_REPLY_KEY), actions=[Action(ActionKind.FLAG, {"reason": FILE_FLAG})])


def with_file_flag(
    decision: Decision,
    attachment=None,
    *,
    intent: str = "",
    context: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Decision:
    """A file with a caption: the policy answers the caption; a person still looks at the file. A caption
    claiming the payment ("paguei, segue o comprovante", `intent` confirmacao_pagamento), or a file sent when
    a receipt was expected, makes the picture/PDF the receipt: it is read too. When the policy only said the
    payment is already being checked and asked for the receipt, the answer is the receipt's acknowledgement
    (the debtor has just sent it)."""
    actions = list(decision.actions)
    text = decision.reply
    claim = next((a for a in actions if a.kind == ActionKind.CLAIM_PAYMENT), None)
    expected = context is not None and now is not None and receipt_expected(context, now)
    if (claim is not None or intent == "confirmacao_pagamento" or expected) and _readable(attachment):
        charge_id = claim.params.get("charge_id") if claim else (context or {}).get("focus_charge_id")
        actions.append(
            Action(ActionKind.CHECK_RECEIPT, {"attachment_id": attachment.pk, "charge_id": charge_id})
        )
        if claim is None and text == reply("sem_cobranca_em_conferencia"):
            text = reply(RECEIPT_REPLY_KEY)
            actions.append(Action(ActionKind.FLAG, {"reason": RECEIPT_FLAG}))
    if not any(a.kind in (ActionKind.FLAG, ActionKind.HANDOFF) for a in actions):
        actions.append(Action(ActionKind.FLAG, {"reason": FILE_WITH_TEXT_FLAG}))
    return Decision(
        reply=text,
        actions=actions,
        context_updates=decision.context_updates,
        handoff=decision.handoff,
        acted_as=decision.acted_as,
    )


def _readable(attachment) -> bool:
    return (
        attachment is not None
        and attachment.status == Attachment.Status.STORED
        and attachment.kind in (Attachment.Kind.IMAGE, Attachment.Kind.PDF)
    )


def attachment_of(message):
    """The message's Attachment (a picture, PDF or audio it carries), None for a text message or none."""
    if message is None:
        return None
    try:
        return message.attachment
    except Attachment.DoesNotExist:
        return None


def media_turn(conversation, attachment, *, context: dict[str, Any], now: dt.datetime) -> Decision:
    """A picture, PDF or audio without text: acknowledged (as the receipt when one was asked for) or, for
    audio, a polite request to write; a person is flagged either way."""
    client = conversation.client
    return media_decision(
        kind=attachment.effective_kind,
        context=context,
        now=now,
        opted_out=bool(client is not None and client.opted_out_at),
        attachment_id=attachment.pk if _readable(attachment) else None,
    )
