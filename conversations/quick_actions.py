"""The quick actions of the inbox's chat: send the PIX of a charge, send a canned reply, confirm a payment,
register a promise. Each is a thin composition of existing services: the PIX text is the bot's own answer to
"pix" for that charge (chatbot.policy), money goes through billing.services, and every message leaves through
`conversations.operators.operator_send` (suppression rules, WAHA, recording)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from django.utils import timezone

from billing.models import Charge
from billing.payments.operator_confirm import charge_confirm_payment
from billing.payments.pix_charges import amount_owed, psp_codes_in_text
from billing.services import promise_create
from billing.templating import template_context, template_render, variables_without_fallback
from chatbot.pix import PixError, pix_payload_for
from chatbot.policy import ActionKind, decide
from chatbot.selectors import bot_client_snapshot
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations.flags import flags_clear_after_payment_confirmed
from conversations.inbox import CANNED_EXTRA_VARIABLES
from conversations.models import CannedReply, Conversation, Message
from conversations.operators import conversation_check_sendable, operator_send


def _charge_of(conversation: Conversation, charge: Charge | None) -> Charge:
    """The charge must be the conversation's debtor's: an id typed into a form cannot reach another one."""
    if charge is None:
        raise ApplicationError("Escolha a cobrança.", {"field": "charge"})
    if conversation.client_id is None or charge.client_id != conversation.client_id:
        raise ApplicationError(
            "Esta cobrança não é do cliente desta conversa.", {"charge": charge.pk}, status_code=404
        )
    return charge


def _pix_code(charge: Charge, amount: Decimal) -> str:
    try:
        return pix_payload_for(amount=amount, reference=charge.external_id or f"COB{charge.pk}")
    except PixError as exc:
        raise ApplicationError(
            "O PIX não está configurado (PIX_KEY, CREDITOR_NAME, CREDITOR_CITY): envie os dados de "
            "pagamento por mensagem.",
            {"reason": str(exc)},
            status_code=409,
        ) from None


def pix_message_text(*, conversation: Conversation, charge: Charge, now: dt.datetime | None = None) -> str:
    """What the bot answers when this debtor asks for the PIX of this charge (the installment under an active
    agreement, the creditor's identification, the copy-and-paste code): the same words, chosen by a person."""
    charge = _charge_of(conversation, charge)
    conversation_check_sendable(conversation)
    now = now or timezone.now()
    snapshot = bot_client_snapshot(client=conversation.client, with_limits=False, focus_charge_id=charge.pk)
    if not any(c.id == charge.pk for c in snapshot.actionable_charges):
        if charge.status != Charge.Status.PAYMENT_CLAIMED or amount_owed(charge)[1] <= 0:
            raise ApplicationError(
                "Esta cobrança não está em aberto para pagamento.",
                {"charge": charge.pk, "status": charge.status},
                status_code=409,
            )
        # A payment being checked never stops the debtor from paying what is still owed (the bot sends that
        # PIX too): the bot's words for this charge alone, so its open siblings do not take its place.
        only = tuple(c for c in snapshot.charges if c.id == charge.pk)
        snapshot = replace(snapshot, charges=only, recent_payment=None, recent_paid=())
    decision = decide(
        intent="informacoes_pagamento",
        confidence=1.0,
        entities={},
        text="pix",
        context={"focus_charge_id": charge.pk, "focus_at": now.isoformat()},
        client_snapshot=snapshot,
        now=now,
    )
    if ActionKind.FLAG in decision.action_kinds() or not decision.reply.strip():
        _pix_code(charge, charge.amount)  # raises the reason the bot could not build a code
        raise ApplicationError("Não foi possível montar o PIX desta cobrança.", {"charge": charge.pk})
    return decision.reply


def conversation_send_pix(*, conversation: Conversation, charge: Charge, by) -> Message:
    """Send the PIX of `charge` to the debtor (quick action)."""
    text = pix_message_text(conversation=conversation, charge=charge)
    # PIX_PROVIDER=api_pix: the cobv's code in place of the static one (a PSP call, outside any transaction).
    text, _static_reasons = psp_codes_in_text(text=text, client=conversation.client)
    return operator_send(conversation=conversation, text=text, by=by)


# --- canned replies -----------------------------------------------------------------------------------------


def _would_be_empty(count: int) -> str:
    return "ficariam vazias" if count > 1 else "ficaria vazia"


def canned_reply_render(
    *, canned: CannedReply, conversation: Conversation, charge: Charge | None = None
) -> str:
    """The canned reply's text for this conversation's debtor and `charge` (needed when the body uses a
    charge's variables). Refused, with the variables named, when any would reach the debtor empty: an unknown
    number has no {name}, a charge without a description has no {description} unless the body gives a
    fallback (`{description|"sua mensalidade"}`)."""
    if not canned.is_active:
        raise ApplicationError("Esta resposta pronta está desativada.", {"canned_reply": canned.pk})
    conversation_check_sendable(conversation)
    if charge is not None:
        charge = _charge_of(conversation, charge)
    client = conversation.client
    values = template_context(charge=charge, client=client)
    used = variables_without_fallback(canned.body, extra=CANNED_EXTRA_VARIABLES)
    if "pix" in used:
        values["pix"] = _pix_code(charge, amount_owed(charge)[1]) if charge is not None else ""
    empty = [name for name in used if not str(values.get(name, "")).strip()]
    if empty:
        names = ", ".join("{" + name + "}" for name in empty)
        why = "escolha uma cobrança" if charge is None and client is not None else "não há valor para elas"
        if client is None:
            why = "o número não está cadastrado"
        raise ApplicationError(
            f"A resposta não pode ser enviada: {names} {_would_be_empty(len(empty))} ({why}).",
            {"empty": empty, "canned_reply": canned.pk},
        )
    return template_render(
        body=canned.body, charge=charge, client=client, context=values, extra=CANNED_EXTRA_VARIABLES
    )


def conversation_send_canned_reply(
    *, conversation: Conversation, canned: CannedReply, charge: Charge | None, by
) -> Message:
    """Render the canned reply for this debtor (`canned_reply_render`) and send it (`operator_send`)."""
    text = canned_reply_render(canned=canned, conversation=conversation, charge=charge)
    # A {pix} in it: the cobv's code with PIX_PROVIDER=api_pix (a PSP call, outside any transaction).
    text, _static_reasons = psp_codes_in_text(text=text, client=conversation.client)
    return operator_send(conversation=conversation, text=text, by=by)


# --- money --------------------------------------------------------------------------------------------------


def conversation_confirm_payment(
    *, conversation: Conversation, charge: Charge, by, ip: str | None = None
) -> Charge:
    """The operator saw the payment: `billing.payments.operator_confirm.charge_confirm_payment` records
    what was still owed as his payment and marks the charge paid (promises kept, agreements fulfilled,
    audited); the debtor gets the usual thank-you (`payment_applied`). The "Pagamento informado" and
    "Comprovante recebido" flags are what this resolves: they are cleared (`conversations.flags`; a flag
    raised for something else stays)."""
    charge = _charge_of(conversation, charge)
    charge = charge_confirm_payment(charge=charge, by=by, ip=ip)
    if conversation.pk in flags_clear_after_payment_confirmed(charge=charge):
        conversation.needs_attention, conversation.attention_reason = False, ""
    return charge


def conversation_register_promise(
    *,
    conversation: Conversation,
    charge: Charge,
    promised_date: dt.date,
    amount: Decimal | None,
    by,
    ip: str | None = None,
):
    """The debtor promised, to the operator, to pay on `promised_date` (all of it, or `amount`):
    `billing.services.promise_create` (its rules, its follow-up), audited as the operator's act."""
    charge = _charge_of(conversation, charge)
    promise = promise_create(charge=charge, promised_date=promised_date, amount=amount)
    audit_record(
        action="promise.create",
        actor=by,
        target=promise,
        details={
            "charge": charge.pk,
            "conversation": conversation.pk,
            "promised_date": promised_date.isoformat(),
            "amount": str(promise.amount) if promise.amount is not None else None,
        },
        ip=ip,
    )
    return promise
