"""django-q2 tasks of the chatbot: thin, take ids, safe to run twice (delivery is at-least-once)."""

from __future__ import annotations

from chatbot import services


def bot_answer_inbound(message_id: int) -> None:
    """Let the chatbot classify and answer one inbound message (enqueued by
    `conversations.services.message_receive` when the bot may answer). The chatbot owns its idempotency: it
    never answers the same message twice when django-q redelivers this task."""
    services.bot_handle_inbound(message_id=message_id)


def send_due_follow_ups() -> int:
    """Send the promise follow-ups that are due (schedule "chatbot-follow-ups", see setup_schedules).

    Each promise is claimed with a conditional UPDATE, so overlapping runs never send one twice."""
    return services.follow_ups_send_due()


def payment_thank_you(payment_id: int) -> str:
    """Thank the debtor for one payment (enqueued when it is applied); outside the window the schedule
    "payment-thanks" sends it later. Claimed on `Payment.thanked_at`: never sent twice."""
    from chatbot.payment_thanks import payment_thank_you_send

    return payment_thank_you_send(payment_id=payment_id)


def send_due_payment_thanks() -> int:
    """Every 5 minutes (schedule "payment-thanks"): the thank-yous that waited for the send window."""
    from chatbot.payment_thanks import payment_thanks_send_due

    return payment_thanks_send_due()
