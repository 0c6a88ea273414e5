"""Read-only queries on sessions and stored webhook events."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from whatsapp.models import WahaSession, WebhookEvent


def sessions_list() -> QuerySet[WahaSession]:
    return WahaSession.objects.order_by("name")


def webhook_acks_latest(*, waha_message_ids: Iterable[str]) -> dict[str, int]:
    """The highest ack WAHA reported for each message id, from the stored `message.ack` events (one query).

    WAHA can deliver SERVER/DEVICE acks before the sender has stored the id it got back from sendText; those
    acks found no row to update. Each app catches up its own rows from this right after storing the ids
    (`conversations.services` for messages, `billing.dispatch.services.dispatches_catch_up_acks` for
    dispatches). ERROR (-1) only counts when nothing better arrived. Ids without a stored ack are absent."""
    ids = [waha_id for waha_id in set(waha_message_ids) if waha_id]
    if not ids:
        return {}
    best: dict[str, int] = {}
    rows = WebhookEvent.objects.filter(event="message.ack", payload_id__in=ids).values_list(
        "payload_id", "payload"
    )
    for waha_id, envelope in rows:
        payload = envelope.get("payload") if isinstance(envelope, dict) else None
        ack = payload.get("ack") if isinstance(payload, dict) else None
        if isinstance(ack, int) and not isinstance(ack, bool):
            best[waha_id] = max(ack, best.get(waha_id, ack))
    return best
