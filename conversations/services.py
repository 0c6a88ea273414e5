"""Write-side of conversations: inbound messages, outbound records, acks, operator handoff and feedback.

Callers: whatsapp.services (webhooks), the chatbot (every change it makes to a conversation or a message goes
through here), billing's sends through its
`messages_sent` signal (`conversations.receivers` → `messages_record_outbound_bulk`), and the conversations
API (operators). Nothing here imports billing's services: acks reach campaign dispatches through the webhook
and billing's own catch-up.

Here: inbound messages and their attachments. Beside it, re-exported here: conversations.recording (get or
create a conversation, store a message once, outbound records, acks), conversations.bot_turn (the chatbot's
writes) and conversations.operators (operator replies, take-over and give-back, intent corrections)."""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from loguru import logger

from billing.models import Client
from cobranca.tasks import enqueue_on_commit
from conversations import media
from conversations.bot_turn import (
    conversation_flag,
    conversation_focus_quoted,
    conversation_lock,
    conversation_note_bot_silence,
    conversation_record_bot_turn,
    message_claim_reply,
    message_mark_send_failed,
    message_release_reply,
    message_store_classification,
)
from conversations.models import Attachment, Conversation, Message
from conversations.operators import (
    conversation_give_back,
    conversation_take_over,
    message_correct_intent,
    operator_message_from_phone,
    operator_reply,
)
from conversations.receipt_hold import receipt_take_while_silent
from conversations.recording import (
    ACK_FROM_WAHA,
    ATTACHMENT_TASK,
    ATTENTION_OPTED_OUT_WROTE,
    BOT_TASK,
    INTENT_LABELS,
    MAX_TEXT_LENGTH,
    _create_message,
    _get_or_create_conversation,
    _touch,
    conversation_get_or_create,
    message_ack_record,
    message_record_outbound,
    messages_record_outbound_bulk,
)
from conversations.selectors import (
    bot_silence_reason,
    client_for_chat,
)
from whatsapp import client as waha_api
from whatsapp.client import WahaError


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
        # A receipt asked for (an operator rejected the last one) is read even while the bot is silent.
        receipt_take_while_silent(message)


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


__all__ = [
    "ACK_FROM_WAHA",
    "ATTACHMENT_TASK",
    "ATTENTION_OPTED_OUT_WROTE",
    "BOT_TASK",
    "INTENT_LABELS",
    "MAX_TEXT_LENGTH",
    "attachment_download",
    "conversation_flag",
    "conversation_focus_quoted",
    "conversation_get_or_create",
    "conversation_give_back",
    "conversation_lock",
    "conversation_note_bot_silence",
    "conversation_record_bot_turn",
    "conversation_take_over",
    "message_ack_record",
    "message_claim_reply",
    "message_correct_intent",
    "message_mark_send_failed",
    "message_receive",
    "message_record_inbound",
    "message_record_outbound",
    "message_release_reply",
    "message_store_classification",
    "messages_record_outbound_bulk",
    "operator_message_from_phone",
    "operator_reply",
]
