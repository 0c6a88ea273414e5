"""Retention (LGPD art. 15/16: keep personal data only as long as needed).

Message texts older than RETENTION_DAYS_MESSAGES and webhook payloads older than RETENTION_DAYS_WEBHOOKS are
emptied; the rows stay (ids, timestamps, statuses, intents feed the statistics and the dedupe of WAHA ids).
Run by the django-q2 schedule `cobranca.retention.prune_old_data` (daily) and `manage.py prune_data`.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from loguru import logger

from billing.models import Dispatch
from cobranca.privacy import REMOVED_BODY
from conversations.attachments import attachments_remove
from conversations.models import Attachment, Message
from whatsapp.models import WebhookEvent

BATCH = 500  # rows per UPDATE: short write transactions (SQLite has one writer)
PRUNED_PAYLOAD = {"pruned": True}


def _in_batches(queryset, **values) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        total += queryset.model.objects.filter(pk__in=ids).update(**values)


def prune_old_data(*, now: dt.datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Idempotent: pruned rows no longer match the filters. Returns the counts per kind."""
    now = now or timezone.now()
    message_days = int(settings.RETENTION_DAYS_MESSAGES)
    webhook_days = int(settings.RETENTION_DAYS_WEBHOOKS)
    message_limit = now - dt.timedelta(days=message_days)
    webhook_limit = now - dt.timedelta(days=webhook_days)

    messages = Message.objects.filter(sent_at__lt=message_limit).exclude(body__in=["", REMOVED_BODY])
    dispatches = Dispatch.objects.filter(created_at__lt=message_limit).exclude(body="")
    # The files debtors sent (receipts, documents) expire with the texts of their messages.
    attachments = Attachment.objects.filter(message__sent_at__lt=message_limit).exclude(
        status=Attachment.Status.REMOVED
    )
    # Pending events are still to be processed: never prune what has not been read.
    webhooks = (
        WebhookEvent.objects.filter(received_at__lt=webhook_limit)
        .exclude(state=WebhookEvent.State.PENDING)
        .exclude(payload=PRUNED_PAYLOAD)
    )
    if dry_run:
        counts = {
            "messages": messages.count(),
            "dispatches": dispatches.count(),
            "webhook_events": webhooks.count(),
            "attachments": attachments.count(),
        }
    else:
        counts = {
            "messages": _in_batches(messages, body=REMOVED_BODY, entities={}),
            "dispatches": _in_batches(dispatches, body=""),
            "webhook_events": _in_batches(webhooks, payload=PRUNED_PAYLOAD, raw_body=None),
            "attachments": attachments_remove(attachments),
        }
    logger.info(
        "retention.prune dry_run={} messages={} dispatches={} webhook_events={} "
        "message_days={} webhook_days={}",
        dry_run,
        counts["messages"],
        counts["dispatches"],
        counts["webhook_events"],
        message_days,
        webhook_days,
    )
    return counts
