"""django-q2 tasks of conversations: thin, take ids, safe to run twice (delivery is at-least-once)."""

from __future__ import annotations

from conversations import services


def attachment_download(attachment_id: int) -> None:
    """Download a debtor's file from WAHA, keep it, then let the chatbot answer the message (enqueued by
    `conversations.services.message_receive` for a media message; never run inside the webhook request)."""
    services.attachment_download(attachment_id=attachment_id)
