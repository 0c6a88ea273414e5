"""Signals billing sends so that other apps can follow what it did without billing importing them.

`messages_sent`: billing has just sent messages through WAHA (the campaign driver, send-single). The
conversations app records them in the debtors' conversations (`conversations.receivers`); billing itself does
not import conversations' services (the apps' dependency rules).
"""

from __future__ import annotations

from django.dispatch import Signal
from loguru import logger

# kwargs: messages (list of dicts: chat_id, client (or None), body, waha_id, dispatch_id (optional), sent_at
# (optional), operator (optional)), author ("campaign" or "operator"), session_name.
messages_sent = Signal()


def messages_sent_announce(*, sender, messages: list[dict], author: str, session_name: str) -> None:
    """Send `messages_sent`. The messages are already out and recorded where billing keeps them (dispatches):
    a receiver's failure is logged with its traceback and must not undo or repeat a send, so it is not
    raised."""
    if not messages:
        return
    for receiver, result in messages_sent.send_robust(
        sender=sender, messages=messages, author=author, session_name=session_name
    ):
        if isinstance(result, Exception):
            logger.opt(exception=result).bind(session=session_name).error(
                "billing.messages_sent_receiver_failed receiver={} count={}",
                getattr(receiver, "__qualname__", repr(receiver)),
                len(messages),
            )
