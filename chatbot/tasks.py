"""django-q2 tasks of the chatbot: thin, take ids, safe to run twice (delivery is at-least-once).

The inbound reply task lives in whatsapp.tasks (`chatbot_handle_inbound` →
chatbot.services.bot_handle_inbound).
"""

from __future__ import annotations

FOLLOW_UP_SCHEDULE_NAME = "chatbot.send_due_follow_ups"
FOLLOW_UP_EVERY_MINUTES = 5


def send_due_follow_ups() -> int:
    """Send the promise follow-ups that are due (run by a django-q2 schedule every few minutes).

    Each promise is claimed with a conditional UPDATE, so overlapping runs never send one twice."""
    from chatbot.services import follow_ups_send_due

    return follow_ups_send_due()


def schedules_ensure() -> None:
    """Upsert the chatbot's schedules by name (django-q2's `schedule()` raises when the name exists).

    Call it from the command that runs after migrate (e.g. the project's `setup_schedules`)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=FOLLOW_UP_SCHEDULE_NAME,
        defaults={
            "func": "chatbot.tasks.send_due_follow_ups",
            "schedule_type": Schedule.MINUTES,
            "minutes": FOLLOW_UP_EVERY_MINUTES,
            "repeats": -1,
        },
    )
