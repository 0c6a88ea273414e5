"""django-q2 tasks of the WhatsApp app: thin, take ids, safe to run twice (delivery is at-least-once)."""

from __future__ import annotations

from whatsapp import services


def process_webhook_event(event_pk: int) -> str:
    """Process one stored webhook event (enqueued on commit by the webhook view). Idempotent: see
    `whatsapp.services.webhook_event_process`."""
    return services.webhook_event_process(event_id=event_pk)
