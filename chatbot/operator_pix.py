"""An operator's "enviar o PIX" for one charge (the debtor page, the inbox): the bot's own payment
instructions for that charge, sent through the operator's path (`conversations.services.operator_reply`),
so it lands in the debtor's conversation like any operator message."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from billing.models import Charge, Client
from billing.suppression import client_suppression_reason
from chatbot.policy import payment_reply
from chatbot.selectors import bot_client_snapshot
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations import services as conversations
from conversations.models import Conversation, Message


def client_conversation(*, client: Client) -> Conversation:
    """The client's conversation (by its chat id, else its latest one), created when there is none: where an
    operator writes to a debtor who has not written yet."""
    chat_id = client.chat_id or f"{client.phone.lstrip('+')}@c.us"
    return conversations.conversation_get_or_create(
        chat_ids=[chat_id], client=client, session_name=settings.WAHA_SESSION_NAME
    )


def charge_send_pix(*, charge: Charge, by, ip: str | None = None) -> Message:
    """Send the PIX of `charge` to its debtor as the operator `by`, and audit it.

    Refused (ApplicationError) when the debtor must not be messaged (opt-out, wrong number, suppression list),
    the charge is not open for payment, or no PIX code can be built. Talks to WAHA outside any transaction
    (operator_reply); a refusal by WAHA records nothing."""
    client = charge.client
    reason = client_suppression_reason(client)
    if reason:
        raise ApplicationError(f"Não enviamos mensagens a este cliente: {reason}.", {"client": client.pk})
    snapshot = bot_client_snapshot(client=client, with_limits=False, focus_charge_id=charge.pk)
    text = payment_reply(client_snapshot=snapshot, charge_id=charge.pk, now=timezone.now())
    if text is None:
        if not any(c.id == charge.pk for c in snapshot.actionable_charges):
            raise ApplicationError(
                "Esta cobrança não está aberta para pagamento.",
                {"charge": charge.pk, "status": charge.status},
            )
        raise ApplicationError("PIX não configurado: defina PIX_KEY, CREDITOR_NAME e CREDITOR_CITY.", {})
    conversation = client_conversation(client=client)
    message = conversations.operator_reply(conversation=conversation, text=text, by=by)
    amount = next(c.amount_due_now for c in snapshot.charges if c.id == charge.pk)
    audit_record(
        action="charge.send_pix",
        actor=by,
        target=charge,
        details={"amount": str(Decimal(amount)), "message_id": message.pk},
        ip=ip,
    )
    return message
