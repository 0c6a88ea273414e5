"""Write-side of conversations: inbound messages, outbound records, acks, operator handoff and feedback.

Callers: whatsapp.services (webhooks), the chatbot (every change it makes to a conversation or a message goes
through here), billing's sends through its
`messages_sent` signal (`conversations.receivers` → `messages_record_outbound_bulk`), and the conversations
API (operators). Nothing here imports billing's services: acks reach campaign dispatches through the webhook
and billing's own catch-up."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from loguru import logger

from billing.models import Client
from chatbot.nlu.labels import INTENTS
from cobranca.exceptions import ApplicationError
from cobranca.tasks import enqueue_on_commit
from conversations import media
from conversations.models import Attachment, Conversation, Message
from conversations.selectors import (
    SILENT_OPTED_OUT,
    bot_silence_reason,
    client_for_chat,
    conversation_for_chat,
)
from whatsapp import client as waha_api
from whatsapp.client import WahaAck, WahaError
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
            return Message.objects.create(**fields), True
    except IntegrityError:
        if not waha_id:
            raise
        return Message.objects.select_related("conversation").get(waha_id=waha_id), False


def message_receive(
    *,
    chat_id: str,
    body: str,
    waha_id: str,
    sent_at: dt.datetime,
    session_name: str,
    lid: str = "",
    phone_chat_id: str = "",
    reply_to: str = "",
    media: dict | None = None,
) -> tuple[Message, bool]:
    """Record a debtor's message in the conversation of its chat; returns (message, created).

    `media` (WAHA's WAMedia: ``url``, ``mimetype``, ``filename``) makes it a media message: an Attachment is
    recorded and a worker task downloads the file (`attachment_download`), which then hands the message to the
    chatbot; `body` is the caption ("" without one).

    `reply_to` is the id of the message the debtor quoted (WAHA's `replyTo.id`); when it is one of our
    reminders, its charge becomes the conversation's charge in focus (`conversation_focus_quoted`).

    `chat_id` is WAHA's `from` (…@c.us or …@lid); for an @lid sender the caller passes the resolved phone chat
    id (`phone_chat_id`, from WAHA's lids API, looked up outside any transaction). The client is linked by
    chat id, lid or phone; a newly learnt lid / chat id is stored on the client. A second call with the same
    `waha_id` returns the first message and `created=False` (webhooks arrive more than once)."""
    client = client_for_chat(chat_id=chat_id, lid=lid, phone_chat_id=phone_chat_id)
    # A conversation is keyed by the phone chat id when we know it, so campaign messages (sent to @c.us) and
    # replies from the hidden @lid id end up in the same thread.
    chat_ids = [c for c in (phone_chat_id, chat_id) if c] if chat_id.endswith("@lid") else [chat_id]
    with transaction.atomic():
        conversation = _get_or_create_conversation(
            chat_ids=chat_ids, client=client, session_name=session_name
        )
        message, created = _record_inbound(
            conversation=conversation, body=body, waha_id=waha_id, sent_at=sent_at
        )
        if not created:
            return message, False
        if media is not None:
            _record_attachment(message, media)
        if reply_to:
            conversation_focus_quoted(conversation=conversation, quoted_id=reply_to, at=sent_at)
        if client is not None:
            if lid:
                Client.objects.filter(pk=client.pk, lid="").update(lid=lid)
            known_chat = phone_chat_id or (chat_id if chat_id.endswith("@c.us") else "")
            if known_chat:
                # Only fill a blank: the campaign engine's check-exists result stays authoritative.
                Client.objects.filter(pk=client.pk, chat_id="").update(chat_id=known_chat)
    message.conversation = conversation
    if media is not None:
        enqueue_on_commit(ATTACHMENT_TASK, message.attachment.pk)
    else:
        _hand_to_bot(message)
    return message, True


def _record_attachment(message: Message, media: dict) -> Attachment:
    def text(key: str, limit: int) -> str:
        value = media.get(key)
        return value[:limit] if isinstance(value, str) else ""

    return Attachment.objects.create(
        message=message,
        url=text("url", 2000),
        declared_mimetype=text("mimetype", 120),
        filename=text("filename", 255),
    )


def attachment_download(*, attachment_id: int) -> Attachment | None:
    """Download a media message's file from WAHA (the one client, `whatsapp.client.get_client`), check it and
    keep it, then hand the message to the chatbot. Runs in a worker, never in the webhook request.

    Kept only when its first bytes say it is a picture, a PDF or audio (`conversations.media.sniff`) and it is
    within WAHA_MEDIA_MAX_BYTES; otherwise the attachment records why (rejected, failed) and the conversation
    is flagged for a person. One try: a debtor waiting for an answer is worth more than the file, which stays
    in WAHA (its URL is kept). Safe to run twice: only a pending attachment is downloaded, and the chatbot
    answers a message once."""
    attachment = Attachment.objects.select_related("message__conversation").filter(pk=attachment_id).first()
    if attachment is None:
        logger.warning("conversations.attachment_missing attachment_id={}", attachment_id)
        return None
    if attachment.status == Attachment.Status.PENDING:
        _attachment_fetch_and_store(attachment)
    message = attachment.message
    if attachment.status != Attachment.Status.STORED:
        conversation_flag(
            conversation=message.conversation, reason=f"Arquivo do cliente não guardado: {attachment.error}"
        )
    _hand_to_bot(message)
    return attachment


def _attachment_fetch_and_store(attachment: Attachment) -> None:
    """The network call and the storage write, outside any transaction; the row changes at the end, once."""
    limit = settings.WAHA_MEDIA_MAX_BYTES
    try:
        content, _declared = waha_api.get_client().download_media(attachment.url, max_bytes=limit)
    except WahaError as exc:
        status = Attachment.Status.REJECTED if exc.reason == "too_large" else Attachment.Status.FAILED
        error = (
            f"arquivo maior que {limit // (1024 * 1024)} MB"
            if exc.reason == "too_large"
            else f"WAHA não entregou o arquivo ({exc.reason})"
        )
        _attachment_finish(attachment, status=status, error=error)
        return
    found = media.sniff(content)
    if found is not None and found[2] == "m4a" and not attachment.declared_mimetype.startswith("audio/"):
        found = None  # an MP4 container WAHA did not announce as audio: a video, not kept
    if found is None:
        _attachment_finish(
            attachment,
            status=Attachment.Status.REJECTED,
            error="tipo de arquivo não aceito",
            size=len(content),
        )
        return
    kind, content_type, extension = found
    stored = default_storage.save(
        f"conversations/attachments/{timezone.now():%Y/%m}/{secrets.token_hex(16)}.{extension}",
        ContentFile(content),
    )
    _attachment_finish(
        attachment,
        status=Attachment.Status.STORED,
        kind=kind,
        content_type=content_type,
        file=stored,
        size=len(content),
    )


def _attachment_finish(attachment: Attachment, *, status: str, error: str = "", **fields) -> None:
    updated = Attachment.objects.filter(pk=attachment.pk, status=Attachment.Status.PENDING).update(
        status=status, error=error[:200], downloaded_at=timezone.now(), **fields
    )
    if not updated and fields.get("file"):
        default_storage.delete(fields["file"])  # a concurrent run stored it first
    attachment.refresh_from_db()
    logger.bind(message_id=attachment.message_id).info(
        "conversations.attachment status={} kind={} size={}",
        attachment.status,
        attachment.kind,
        attachment.size,
    )


def _record_inbound(
    *,
    conversation: Conversation,
    body: str,
    waha_id: str | None,
    sent_at: dt.datetime,
    source: str = Message.Source.WHATSAPP,
    source_user=None,
) -> tuple[Message, bool]:
    message, created = _create_message(
        conversation=conversation,
        direction=Message.Direction.IN,
        author=Message.Author.DEBTOR,
        body=body or "",
        waha_id=waha_id or None,
        sent_at=sent_at,
        source=source,
        source_user=source_user,
    )
    if created:
        _touch(conversation.pk, sent_at)
    return message, created


def _hand_to_bot(message: Message) -> None:
    """The chatbot answers in a task of its own when the rule lets it (`bot_silence_reason`): classification
    and the reply (seen, typing, sendText) are slow and may fail; the message is already stored, and a bot
    failure must not fail the webhook event."""
    conversation = message.conversation
    reason = bot_silence_reason(conversation)
    if not reason:
        enqueue_on_commit(BOT_TASK, message.pk)
    else:
        conversation_note_bot_silence(conversation=conversation, reason=reason)


def message_record_inbound(
    *,
    conversation: Conversation,
    body: str,
    sent_at: dt.datetime,
    waha_id: str | None = None,
    source: str = Message.Source.WHATSAPP,
    source_user=None,
) -> Message:
    """Record a debtor's text in a known conversation without handing it to the chatbot task (the chat API's
    dry run runs the bot itself). Idempotent on `waha_id` when one is given. `source`/`source_user` say who
    really typed it when it did not come by WhatsApp (an API caller)."""
    with transaction.atomic():
        message, _created = _record_inbound(
            conversation=conversation,
            body=body,
            waha_id=waha_id,
            sent_at=sent_at,
            source=source,
            source_user=source_user if getattr(source_user, "pk", None) else None,
        )
    message.conversation = conversation
    return message


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


# --- the chatbot's writes (its turn: classify, claim, apply, deliver) ---------------------------------------


def message_store_classification(*, message: Message, intent: str, confidence: float, entities: dict) -> None:
    """Store what the classifier said about an inbound message, unless it was already classified."""
    Message.objects.filter(pk=message.pk, intent="").update(
        intent=intent, confidence=confidence, entities=entities
    )


def message_claim_reply(*, message: Message, at: dt.datetime, classification: dict | None = None) -> bool:
    """Claim an inbound message for the bot's reply: one conditional UPDATE decides which of two concurrent
    deliveries of the same message answers (and stores the classification with it: one write instead of
    two on the hot path). False when it was already claimed."""
    return (
        Message.objects.filter(pk=message.pk, replied_at__isnull=True).update(
            replied_at=at, **(classification or {})
        )
        > 0
    )


def message_release_reply(*, message: Message) -> None:
    """Give a claimed message back (the bot did not answer it after all)."""
    Message.objects.filter(pk=message.pk).update(replied_at=None)


def message_mark_send_failed(*, message: Message) -> None:
    """A message we recorded could not be sent (WAHA refused it): its ack shows the error."""
    Message.objects.filter(pk=message.pk).update(ack=Message.Ack.ERROR)
    message.ack = Message.Ack.ERROR


def conversation_focus_quoted(*, conversation: Conversation, quoted_id: str, at: dt.datetime) -> int | None:
    """The debtor quoted one of our messages: when it was a reminder (a message with a Dispatch), its charge
    becomes the charge in focus (`context["focus_charge_id"]`, `context["focus_at"]`), which the chatbot's
    policy acts on. WAHA's `replyTo.id` is the bare message id; ours are stored serialized
    (`true_<chat>_<id>`). Returns the charge id, or None when the quoted message is no reminder of ours."""
    quoted_id = (quoted_id or "").strip()
    if not quoted_id:
        return None
    charge_id = (
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.OUT, dispatch__isnull=False
        )
        .filter(Q(waha_id=quoted_id) | Q(waha_id__endswith=f"_{quoted_id}"))
        .values_list("dispatch__charge_id", flat=True)
        .first()
    )
    if charge_id is None:
        return None
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        context = dict(locked.context or {})
        context.update(focus_charge_id=charge_id, focus_at=at.isoformat())
        Conversation.objects.filter(pk=conversation.pk).update(context=context)
    conversation.context = context
    return charge_id


def conversation_flag(*, conversation: Conversation, reason: str) -> None:
    """A person should look at this conversation (the inbox's "requer atendimento")."""
    Conversation.objects.filter(pk=conversation.pk).update(
        needs_attention=True, attention_reason=reason[:200]
    )


def conversation_note_bot_silence(*, conversation: Conversation, reason: str) -> None:
    """The bot stays silent (`bot_silence_reason`); when the debtor opted out, a person should still see that
    he wrote."""
    if reason == SILENT_OPTED_OUT:
        conversation_flag(conversation=conversation, reason=ATTENTION_OPTED_OUT_WROTE)


def conversation_lock(*, conversation: Conversation) -> Conversation:
    """The conversation row re-read under a row lock (with its client), for the bot's turn. Call inside a
    transaction: the lock holds until it ends."""
    return (
        Conversation.objects.select_for_update(of=("self",)).select_related("client").get(pk=conversation.pk)
    )


def conversation_record_bot_turn(
    *,
    conversation: Conversation,
    context: dict,
    attention_reason: str = "",
    handoff: bool = False,
    at: dt.datetime,
    message: Message | None = None,
    acted_as: str = "",
) -> Conversation:
    """Save what a bot turn changed: its context, a flag for a person, a handoff to human mode, and the intent
    the debtor's `message` acted as when it answered a question of the bot (`acted_as`)."""
    if message is not None and acted_as:
        Message.objects.filter(pk=message.pk).update(acted_as_intent=acted_as[:40])
        message.acted_as_intent = acted_as[:40]
    fields = ["context"]
    if attention_reason:
        conversation.needs_attention = True
        conversation.attention_reason = attention_reason[:200]
        fields += ["needs_attention", "attention_reason"]
    if handoff:
        conversation.state = Conversation.State.HUMAN
        context["handoff_at"] = at.isoformat()
        fields.append("state")
    conversation.context = context
    conversation.save(update_fields=fields)
    return conversation


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


@transaction.atomic
def conversation_take_over(*, conversation: Conversation, by) -> Conversation:
    """An operator takes the conversation: the bot stays silent until it is given back."""
    conversation.state = Conversation.State.HUMAN
    conversation.assigned_to = by
    conversation.needs_attention = False
    conversation.save(update_fields=["state", "assigned_to", "needs_attention"])
    logger.bind(conversation_id=conversation.pk, user_id=getattr(by, "pk", None)).info(
        "conversation.take_over"
    )
    return conversation


@transaction.atomic
def conversation_give_back(*, conversation: Conversation, by) -> Conversation:
    """Hand the conversation back to the assistant."""
    conversation.state = Conversation.State.BOT
    conversation.assigned_to = None
    conversation.needs_attention = False
    conversation.attention_reason = ""
    conversation.save(update_fields=["state", "assigned_to", "needs_attention", "attention_reason"])
    logger.bind(conversation_id=conversation.pk, user_id=getattr(by, "pk", None)).info(
        "conversation.give_back"
    )
    return conversation


def operator_reply(*, conversation: Conversation, text: str, by) -> Message:
    """Send an operator's text to the debtor through WAHA and record it; the conversation goes to human mode.

    Not atomic on purpose: the WAHA call must not hold a transaction open (conventions). If WAHA refuses,
    nothing is recorded and the operator sees the error."""
    text = (text or "").strip()
    if not text:
        raise ApplicationError("Escreva a mensagem antes de enviar.", {"field": "text"})
    if len(text) > MAX_TEXT_LENGTH:
        raise ApplicationError(
            f"A mensagem passa de {MAX_TEXT_LENGTH} caracteres.", {"field": "text", "max": MAX_TEXT_LENGTH}
        )
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
        updates = {"state": Conversation.State.HUMAN}
        if conversation.assigned_to_id is None:
            updates["assigned_to"] = by
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
    conversation.refresh_from_db(fields=["state", "assigned_to", "last_message_at"])
    return message


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
