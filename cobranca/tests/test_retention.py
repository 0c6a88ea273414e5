from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Dispatch
from billing.tests.factories import DispatchFactory
from cobranca.retention import prune_old_data
from conversations.models import Message
from conversations.tests.factories import MessageFactory
from whatsapp.models import WebhookEvent

pytestmark = [pytest.mark.django_db]


def test_old_bodies_and_payloads_are_emptied_and_recent_ones_kept(settings):
    settings.RETENTION_DAYS_MESSAGES = 90
    settings.RETENTION_DAYS_WEBHOOKS = 30
    now = timezone.now()
    old = MessageFactory(body="texto antigo", sent_at=now - dt.timedelta(days=91))
    new = MessageFactory(body="texto novo", sent_at=now - dt.timedelta(days=1))
    old_dispatch = DispatchFactory(body="Olá")
    Dispatch.objects.filter(pk=old_dispatch.pk).update(created_at=now - dt.timedelta(days=100))
    events = [
        WebhookEvent.objects.create(
            event_id=f"e{i}", event="message", payload={"body": "x"}, raw_body=b'{"body": "x"}', state=state
        )
        for i, state in enumerate(["processed", "pending", "processed"])
    ]
    WebhookEvent.objects.filter(pk__in=[events[0].pk, events[1].pk]).update(
        received_at=now - dt.timedelta(days=31)
    )
    assert prune_old_data(dry_run=True) == {
        "messages": 1,
        "dispatches": 1,
        "webhook_events": 1,
        "attachments": 0,
    }
    assert prune_old_data() == {"messages": 1, "dispatches": 1, "webhook_events": 1, "attachments": 0}
    assert prune_old_data() == {
        "messages": 0,
        "dispatches": 0,
        "webhook_events": 0,
        "attachments": 0,
    }  # idempotent
    assert Message.objects.get(pk=old.pk).body == "[removido]"
    assert Message.objects.get(pk=new.pk).body == "texto novo"
    assert Dispatch.objects.get(pk=old_dispatch.pk).body == ""
    assert WebhookEvent.objects.get(pk=events[0].pk).payload == {"pruned": True}
    assert WebhookEvent.objects.get(pk=events[0].pk).raw_body is None
    assert bytes(WebhookEvent.objects.get(pk=events[1].pk).raw_body) == b'{"body": "x"}'
    assert WebhookEvent.objects.get(pk=events[1].pk).payload == {"body": "x"}  # pending: not yet processed
    assert WebhookEvent.objects.get(pk=events[2].pk).payload == {"body": "x"}


def test_the_command_reports_counts():
    out = io.StringIO()
    call_command("prune_data", "--dry-run", stdout=out)
    assert "Mensagens: 0" in out.getvalue()
