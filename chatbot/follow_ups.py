"""Promise follow-ups (a reminder on the promised day) and model activation, beside the bot's turn."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.dispatch.window import parse_window
from billing.models import Charge, PromiseToPay
from billing.payments.lifecycle import promises_mark_broken
from chatbot.models import ModelVersion
from chatbot.policy import charge_label, day, money, phrase, reply
from chatbot.selectors import creditor_from_settings, promises_due_follow_up
from conversations import services as conversations
from conversations.models import Conversation, Message
from whatsapp import client as waha_api
from whatsapp.client import WahaError

# --- promise follow-ups ------------------------------------------------------------------------------------

# A follow-up goes to a promise still pending at its time, or one the lifecycle already marked broken.
FOLLOWED_UP = (PromiseToPay.Status.PENDING, PromiseToPay.Status.BROKEN)


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
        pk=promise_id, status__in=FOLLOWED_UP, follow_up_sent_at__isnull=True
    ).update(follow_up_sent_at=now):
        return "already"
    promise = PromiseToPay.objects.select_related("charge", "charge__client").get(pk=promise_id)
    charge, client = promise.charge, promise.charge.client
    # A broken promise reopened its charge (billing.payments.lifecycle); paid/claimed/disputed ones say no.
    if charge.status not in (Charge.Status.PROMISED, Charge.Status.OPEN):
        return f"skipped: cobrança {charge.status}"
    text = follow_up_text(promise=promise, first_name=client.first_name)
    outcome = bot_send_to_client(
        client=client,
        text=text,
        human_reason="Promessa de pagamento vencida sem confirmação",
        fail_reason="Falha ao enviar lembrete de promessa",
    )
    if outcome == "sent":
        logger.info("chatbot.follow_up_sent promise={}", promise.pk)
    return outcome


def bot_send_to_client(*, client, text: str, human_reason: str, fail_reason: str) -> str:
    """Send a bot message to a client's latest conversation (created on its chat id when there is none).

    Returns "sent" or "skipped: …": a suppressed client gets nothing; a conversation with a person is only
    flagged with `human_reason` (the person decides what to say); a failed send flags it with `fail_reason`.
    """
    if client.is_suppressed or client.forgotten_at:
        return "skipped: cliente suprimido"
    conversation = client.conversations.order_by("-last_message_at", "-pk").first()
    if conversation is None:
        chat_id = client.chat_id or f"{client.phone.lstrip('+')}@c.us"
        conversation = conversations.conversation_get_or_create(
            chat_ids=[chat_id], client=client, session_name=settings.WAHA_SESSION_NAME
        )
    if conversation.state != Conversation.State.BOT:
        conversations.conversation_flag(conversation=conversation, reason=human_reason)
        return "skipped: conversa com atendente"
    try:
        waha_id = waha_api.get_client().send_text(
            conversation.chat_id, text, session=conversation.session_name
        )
    except WahaError as exc:
        logger.bind(conversation_id=conversation.pk).warning("chatbot.bot_send_failed reason={}", exc.reason)
        conversations.conversation_flag(conversation=conversation, reason=fail_reason)
        return f"skipped: {exc.reason}"
    conversations.message_record_outbound(
        conversation=conversation, body=text, author=Message.Author.BOT, waha_id=waha_id
    )
    return "sent"


def follow_ups_send_due(*, now: dt.datetime | None = None) -> int:
    """Send every due follow-up, inside the send window only (the next run picks up the rest)."""
    now = now or timezone.now()
    if not parse_window(settings.SEND_WINDOW).is_open(now):
        return 0
    # Promises whose day has passed are broken first, so the follow-up and the Painel agree.
    promises_mark_broken(today=timezone.localdate(now))
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
