"""django-q2 tasks of the chatbot: thin, take ids, safe to run twice (delivery is at-least-once).

The inbound reply task lives in whatsapp.tasks (`chatbot_handle_inbound` →
chatbot.services.bot_handle_inbound).
"""

from __future__ import annotations


def send_due_follow_ups() -> int:
    """Send the promise follow-ups that are due (schedule "chatbot-follow-ups", see setup_schedules).

    Each promise is claimed with a conditional UPDATE, so overlapping runs never send one twice."""
    from chatbot.services import follow_ups_send_due

    return follow_ups_send_due()
