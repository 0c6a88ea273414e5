"""Read-only queries on sessions and stored webhook events."""

from __future__ import annotations

from django.db.models import QuerySet

from whatsapp.models import WahaSession, WebhookEvent


def sessions_list() -> QuerySet[WahaSession]:
    return WahaSession.objects.order_by("name")


def webhook_ack_latest(*, waha_message_id: str) -> int | None:
    """The highest ack WAHA reported for a message id, from the stored `message.ack` events.

    WAHA can deliver SERVER/DEVICE acks before the sender has stored the id it got back from sendText; those
    acks found no row to update. Senders call this right after recording the id to catch up (see
    `conversations.services.message_record_outbound`). ERROR (-1) only counts when nothing better arrived."""
    if not waha_message_id:
        return None
    acks: list[int] = []
    rows = WebhookEvent.objects.filter(event="message.ack", payload_id=waha_message_id).values_list(
        "payload", flat=True
    )
    for envelope in rows[:20]:
        payload = envelope.get("payload") if isinstance(envelope, dict) else None
        ack = payload.get("ack") if isinstance(payload, dict) else None
        if isinstance(ack, int) and not isinstance(ack, bool):
            acks.append(ack)
    return max(acks) if acks else None
