"""Recording conversations and messages: the writes the rest of conversations' services build on (get or
create a conversation, store a message once, record what we sent, apply an ack)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from billing.models import Client
from chatbot.nlu.labels import INTENTS
from cobranca.exceptions import ApplicationError
from conversations.models import Conversation, Message
from conversations.selectors import conversation_for_chat
from whatsapp.client import WahaAck
from whatsapp.selectors import webhook_acks_latest

# The classifier's label set: an operator's correction must be one of them.
INTENT_LABELS = INTENTS

ACK_FROM_WAHA: dict[int, str] = {
    WahaAck.ERROR: Message.Ack.ERROR,
    WahaAck.PENDING: Message.Ack.PENDING,
    WahaAck.SERVER: Message.Ack.SENT,
    WahaAck.DEVICE: Message.Ack.DELIVERED,
    WahaAck.READ: Message.Ack.READ,
    WahaAck.PLAYED: Message.Ack.READ,
}

# Which current values each new ack may overwrite (forward-only on Message.ACK_ORDER, ERROR handled apart).
_ACK_REPLACES: dict[str, list[str]] = {
    Message.Ack.ERROR: [Message.Ack.PENDING, Message.Ack.SENT],
    Message.Ack.SENT: [Message.Ack.PENDING],
    Message.Ack.DELIVERED: [Message.Ack.PENDING, Message.Ack.SENT, Message.Ack.ERROR],
    Message.Ack.READ: [Message.Ack.PENDING, Message.Ack.SENT, Message.Ack.DELIVERED, Message.Ack.ERROR],
}

MAX_TEXT_LENGTH = 4096

# The chatbot's task: a debtor's message for the bot to answer (enqueued by `message_receive`).
BOT_TASK = "chatbot.tasks.bot_answer_inbound"
# The download of a media message's file, before the chatbot answers it.
ATTACHMENT_TASK = "conversations.tasks.attachment_download"
ATTENTION_OPTED_OUT_WROTE = "Cliente descadastrado escreveu"


def _touch(conversation_id: int, at: dt.datetime) -> None:
    # Conditional so an older message (a late webhook) never moves last_message_at back.
    Conversation.objects.filter(pk=conversation_id).filter(
        Q(last_message_at__isnull=True) | Q(last_message_at__lt=at)
    ).update(last_message_at=at)


def _touch_inbound(conversation_id: int, message_id: int) -> None:
    """Conversation.last_inbound_id moves forward only (two webhooks of one chat may commit out of order)."""
    Conversation.objects.filter(pk=conversation_id).filter(
        Q(last_inbound_id__isnull=True) | Q(last_inbound_id__lt=message_id)
    ).update(last_inbound_id=message_id)


def _get_or_create_conversation(
    *, chat_ids: list[str], client: Client | None, session_name: str
) -> Conversation:
    conversation = conversation_for_chat(chat_ids=chat_ids, client=client)
    if conversation is not None:
        if conversation.client_id is None and client is not None:
            Conversation.objects.filter(pk=conversation.pk, client__isnull=True).update(client=client)
            conversation.client = client
        return conversation
    chat_id = chat_ids[0]
    try:
        with transaction.atomic():
            return Conversation.objects.create(chat_id=chat_id, client=client, session_name=session_name)
    except IntegrityError:  # created by a concurrent webhook for the same chat
        return Conversation.objects.get(chat_id=chat_id)


def conversation_get_or_create(
    *, chat_ids: list[str], client: Client | None, session_name: str
) -> Conversation:
    """The conversation of these chat ids (else the client's latest one), created when there is none.

    Public entry point for other apps (the campaign engine, send-single); same rules as the webhooks use."""
    return _get_or_create_conversation(chat_ids=chat_ids, client=client, session_name=session_name)


# long-function: a handful of bulk statements that must run in this order
def messages_record_outbound_bulk(*, items: list[dict], author: str, session_name: str) -> int:
    """Record many messages we sent (the campaign driver, one batch) in a handful of statements.

    Each item: ``chat_id``, ``client`` (or None), ``body``, ``waha_id``, ``dispatch_id`` (optional),
    ``sent_at`` (optional), ``operator`` (optional). Same outcome as `message_record_outbound` per item: the
    conversation is found by chat id, else the client's latest one, else created; idempotent on `waha_id`;
    `last_message_at` only moves forward; acks WAHA reported before the rows existed are caught up. Returns
    how many messages were created.
    """
    if author == Message.Author.DEBTOR:
        raise ApplicationError("Mensagem enviada não pode ter o devedor como autor.", {"author": author})
    items = [item for item in items if item.get("chat_id")]
    if not items:
        return 0
    now = timezone.now()
    chats = {item["chat_id"] for item in items}
    by_chat = {c.chat_id: c for c in Conversation.objects.filter(chat_id__in=chats)}
    missing = [item for item in items if item["chat_id"] not in by_chat]
    client_ids = {item["client"].pk for item in missing if item.get("client") is not None}
    by_client: dict[int, Conversation] = {}
    if client_ids:
        for conversation in Conversation.objects.filter(client_id__in=client_ids).order_by(
            "client_id", "-last_message_at", "-pk"
        ):
            by_client.setdefault(conversation.client_id, conversation)
    to_create: dict[str, Conversation] = {}
    for item in missing:
        client = item.get("client")
        if client is not None and client.pk in by_client:
            by_chat[item["chat_id"]] = by_client[client.pk]
        elif item["chat_id"] not in to_create:
            to_create[item["chat_id"]] = Conversation(
                chat_id=item["chat_id"], client=client, session_name=session_name
            )
    if to_create:
        # ignore_conflicts: a concurrent webhook may create the same chat's conversation first.
        Conversation.objects.bulk_create(list(to_create.values()), ignore_conflicts=True)
        by_chat.update({c.chat_id: c for c in Conversation.objects.filter(chat_id__in=list(to_create))})
    for item in items:
        conversation = by_chat.get(item["chat_id"])
        client = item.get("client")
        if conversation is not None and conversation.client_id is None and client is not None:
            Conversation.objects.filter(pk=conversation.pk, client__isnull=True).update(client=client)
            conversation.client_id = client.pk
    rows = []
    for item in items:
        conversation = by_chat.get(item["chat_id"])
        if conversation is None:
            continue
        waha_id = item.get("waha_id") or None
        rows.append(
            Message(
                conversation_id=conversation.pk,
                direction=Message.Direction.OUT,
                author=author,
                body=item.get("body", ""),
                waha_id=waha_id,
                sent_at=item.get("sent_at") or now,
                dispatch_id=item.get("dispatch_id"),
                operator=item.get("operator"),
                ack=Message.Ack.SENT if waha_id else Message.Ack.PENDING,
            )
        )
    if not rows:
        return 0
    waha_ids = [row.waha_id for row in rows if row.waha_id]
    existing = set(Message.objects.filter(waha_id__in=waha_ids).values_list("waha_id", flat=True))
    rows = [row for row in rows if row.waha_id is None or row.waha_id not in existing]
    Message.objects.bulk_create(rows, ignore_conflicts=True)
    latest: dict[int, dt.datetime] = {}
    for row in rows:
        latest[row.conversation_id] = max(row.sent_at, latest.get(row.conversation_id, row.sent_at))
    if latest:
        new = Case(*[When(pk=pk, then=Value(at)) for pk, at in latest.items()], output_field=DateTimeField())
        Conversation.objects.filter(pk__in=list(latest)).update(
            last_message_at=Greatest(Coalesce(F("last_message_at"), new), new)
        )
    _catch_up_acks(waha_ids=[row.waha_id for row in rows if row.waha_id])
    return len(rows)


def _catch_up_acks(*, waha_ids: list[str]) -> None:
    """Apply the acks WAHA reported before these messages were stored (one query for all of them).

    Messages only: a campaign dispatch catches up its own acks in billing (`dispatches_catch_up_acks`)."""
    for waha_id, ack in webhook_acks_latest(waha_message_ids=waha_ids).items():
        message_ack_record(waha_id=waha_id, ack=ack)


def _create_message(**fields) -> tuple[Message, bool]:
    """Insert, or return the existing row with the same waha_id (the unique constraint decides)."""
    waha_id = fields.get("waha_id")
    try:
        with transaction.atomic():
            message = Message.objects.create(**fields)
            if message.direction == Message.Direction.IN:
                _touch_inbound(message.conversation_id, message.pk)
            return message, True
    except IntegrityError:
        if not waha_id:
            raise
        return Message.objects.select_related("conversation").get(waha_id=waha_id), False


def message_record_outbound(
    *,
    conversation: Conversation,
    body: str,
    author: str,
    waha_id: str | None,
    dispatch=None,
    operator=None,
    sent_at: dt.datetime | None = None,
) -> Message:
    """Record a message we sent (bot, campaign, operator). Idempotent on `waha_id`.

    Call it right after sendText returned, outside the send's error handling. Acks WAHA delivered before this
    row existed are caught up from the stored webhook events (the message's only; `dispatch` just links it).
    """
    if author == Message.Author.DEBTOR:
        raise ApplicationError("Mensagem enviada não pode ter o devedor como autor.", {"author": author})
    sent_at = sent_at or timezone.now()
    message, created = _create_message(
        conversation=conversation,
        direction=Message.Direction.OUT,
        author=author,
        operator=operator,
        body=body,
        waha_id=waha_id or None,
        sent_at=sent_at,
        dispatch=dispatch,
        ack=Message.Ack.SENT if waha_id else Message.Ack.PENDING,
    )
    if created:
        _touch(conversation.pk, sent_at)
        if waha_id:
            _catch_up_acks(waha_ids=[waha_id])
            message.refresh_from_db(fields=["ack"])
    return message


def message_ack_record(*, waha_id: str, ack: int) -> bool:
    """Move a message's ack forward (sent → delivered → read), never backward, whatever order acks arrive in.

    A single conditional UPDATE (the current value must be one this ack may replace) so two concurrent acks
    cannot regress it. ERROR replaces only PENDING/SENT (a message the phone received did not fail), and a
    late SERVER ack does not hide an ERROR; DEVICE/READ prove delivery and win over an ERROR. Returns True
    when the row changed."""
    new = ACK_FROM_WAHA.get(ack)
    if new is None or new == Message.Ack.PENDING:
        return False
    lower = _ACK_REPLACES[new]
    return Message.objects.filter(waha_id=waha_id, ack__in=lower).update(ack=new) > 0
