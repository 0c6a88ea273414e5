"""Receivers of other apps' signals: how messages other apps send reach the conversations.

Connected in `ConversationsConfig.ready`. Billing announces its sends (campaign driver, send-single) with
`billing.signals.messages_sent` instead of importing conversations' services."""

from __future__ import annotations

from django.dispatch import receiver

from billing.signals import messages_sent
from conversations import services


@receiver(messages_sent, dispatch_uid="conversations.record_billing_sends")
def record_billing_sends(*, messages: list[dict], author: str, session_name: str, **kwargs) -> None:
    """Record the messages billing just sent in the debtors' conversations (bulk, idempotent on WAHA id)."""
    services.messages_record_outbound_bulk(items=messages, author=author, session_name=session_name)
