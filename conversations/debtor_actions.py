"""What the debtor page (/painel/devedores/<id>/) does in a debtor's conversation: find or start it, and send
the PIX of one of his charges. The PIX is the inbox's quick action (`conversations.quick_actions`: the bot's
own payment text, sent through `operator_send`), reached from the debtor instead of from a chat."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from billing.models import Charge, Client
from billing.suppression import client_suppression_reason
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations.models import Conversation, Message
from conversations.quick_actions import conversation_send_pix
from conversations.recording import conversation_get_or_create


def client_conversation(*, client: Client) -> Conversation:
    """The client's conversation (by its chat id, else its latest one), created when there is none: where an
    operator writes to a debtor who has not written yet."""
    chat_id = client.chat_id or f"{client.phone.lstrip('+')}@c.us"
    return conversation_get_or_create(
        chat_ids=[chat_id], client=client, session_name=settings.WAHA_SESSION_NAME
    )


def charge_send_pix(*, charge: Charge, by, ip: str | None = None) -> Message:
    """Send the PIX of `charge` to its debtor as the operator `by`, and audit it (`charge.send_pix`).

    Refused (ApplicationError) before any conversation is created when the debtor must not be messaged; then
    by the quick action when the charge is not open for payment or no PIX code can be built. WAHA is called
    outside any transaction; a refusal by WAHA records nothing."""
    reason = client_suppression_reason(charge.client)
    if reason:
        raise ApplicationError(
            f"Não enviamos mensagens a este cliente: {reason}.", {"client": charge.client_id}, status_code=409
        )
    conversation = client_conversation(client=charge.client)
    message = conversation_send_pix(conversation=conversation, charge=charge, by=by)
    audit_record(
        action="charge.send_pix",
        actor=by,
        target=charge,
        details={"amount": str(Decimal(charge.amount)), "message_id": message.pk},
        ip=ip,
    )
    return message
