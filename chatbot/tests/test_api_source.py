"""Messages that come through /api/chat/process are not the debtor's WhatsApp messages (issue #10 item 11):
they carry their source and user, stay apart in the inbox and the exports, and change consent or suppression
only when an operator says he acts for the debtor, audited. The bot also stays silent towards a number on the
suppression list, even in a chat that has no client."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from audit.models import AuditLog
from billing import suppression
from billing.tests.factories import ClientFactory
from chatbot import services
from cobranca.privacy import export_client
from cobranca.roles import INTEGRATORS, OPERATORS
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

PHONE = "+5511987654321"


def _api(group: str) -> tuple[APIClient, object]:
    user = get_user_model().objects.create_user(group.lower(), password="x")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    client = APIClient()
    client.force_authenticate(user)
    return client, user


@pytest.fixture(autouse=True)
def fake_nlu(monkeypatch, settings):
    settings.CHATBOT_ENABLED = True
    table = {"parem": "opt_out", "oi": "saudacao", "não conheço": "pessoa_errada"}

    def classify(text):
        return next(((v, 0.95) for k, v in table.items() if k in text.lower()), ("desconhecido", 0.2))

    monkeypatch.setattr(services, "classify", classify)


@pytest.fixture
def waha(monkeypatch):
    sent: list[tuple[str, str]] = []

    class Fake:
        def send_seen(self, *args, **kwargs):
            pass

        def start_typing(self, *args, **kwargs):
            pass

        def stop_typing(self, *args, **kwargs):
            pass

        def send_text(self, chat_id, text, **kwargs):
            sent.append((chat_id, text))
            return f"true_{chat_id}_BOT{len(sent)}"

    monkeypatch.setattr("whatsapp.client.get_client", Fake)
    monkeypatch.setattr(services, "typing_sleep", lambda seconds: None)
    return sent


def test_an_integrator_message_is_stored_as_api_with_its_user_and_cannot_opt_the_debtor_out():
    debtor = ClientFactory(phone=PHONE)
    api, integrator = _api(INTEGRATORS)

    response = api.post("/api/chat/process", {"phone": PHONE, "message": "parem de me mandar"}, format="json")

    assert response.status_code == 200, response.content
    debtor.refresh_from_db()
    assert debtor.opted_out_at is None and not suppression.is_suppressed(PHONE)
    inbound = Message.objects.get(direction=Message.Direction.IN)
    assert (inbound.source, inbound.source_user) == (Message.Source.API, integrator)
    conversation = Conversation.objects.get(client=debtor)
    assert not (conversation.context or {}).get("opted_out")
    assert "opt_out" in response.json()["refused_actions"]


def test_an_integrator_cannot_claim_to_act_for_the_debtor():
    ClientFactory(phone=PHONE)
    api, _ = _api(INTEGRATORS)

    body = {"phone": PHONE, "message": "parem", "acting_for_debtor": True}
    response = api.post("/api/chat/process", body, format="json")

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_an_operator_acting_for_the_debtor_opts_him_out_audited():
    debtor = ClientFactory(phone=PHONE)
    api, operator = _api(OPERATORS)

    body = {"phone": PHONE, "message": "parem de me mandar", "acting_for_debtor": True}
    response = api.post("/api/chat/process", body, format="json")

    assert response.status_code == 200, response.content
    debtor.refresh_from_db()
    assert debtor.opted_out_at is not None and suppression.is_suppressed(PHONE)
    entry = AuditLog.objects.get(action="client.opt_out_for_debtor")
    assert entry.actor == operator and entry.target_id == str(debtor.pk)
    assert entry.details["source"] == "api"


def test_the_export_and_the_inbox_keep_api_messages_apart(client):
    debtor = ClientFactory(phone=PHONE)
    conversation = ConversationFactory(client=debtor, chat_id="5511987654321@c.us")
    MessageFactory(conversation=conversation, body="mensagem pelo WhatsApp")
    api, integrator = _api(INTEGRATORS)
    api.post("/api/chat/process", {"phone": PHONE, "message": "oi"}, format="json")

    messages = export_client(client=debtor)["conversations"][0]["messages"]
    sources = {m["body"]: m["source"] for m in messages if m["direction"] == "in"}
    assert sources == {"mensagem pelo WhatsApp": "whatsapp", "oi": "api"}
    _, operator = _api(OPERATORS)
    client.force_login(operator)
    page = client.get(f"/painel/conversas/{conversation.pk}/").content.decode()
    assert "via API" in page and integrator.username in page


def test_the_bot_stays_silent_towards_a_listed_number_in_a_chat_without_client(waha):
    suppression.suppress(PHONE, reason=suppression.Reason.FORGOTTEN)
    conversation = ConversationFactory(client=None, chat_id="551187654321@c.us")  # legacy 8-digit form
    message = MessageFactory(conversation=conversation, body="oi", waha_id="false_x_IN1")

    services.bot_handle_inbound(message_id=message.pk)

    assert waha == []
    conversation.refresh_from_db()
    assert conversation.needs_attention


def test_a_whatsapp_opt_out_in_a_chat_without_client_lists_the_number(waha):
    conversation = ConversationFactory(client=None, chat_id="5511987654321@c.us")
    message = MessageFactory(conversation=conversation, body="parem de me mandar", waha_id="false_x_IN2")

    services.bot_handle_inbound(message_id=message.pk)

    assert suppression.is_suppressed(PHONE)


def test_api_messages_are_not_training_data():
    from chatbot.training import load_corrections

    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, body="vou pagar sexta", corrected_intent="promessa_pagamento")
    MessageFactory(
        conversation=conversation,
        body="texto de integrador",
        corrected_intent="promessa_pagamento",
        source=Message.Source.API,
    )

    assert [e.text for e in load_corrections()] == ["vou pagar sexta"]


def test_the_conversation_api_shows_the_source():
    ClientFactory(phone=PHONE)
    api, _ = _api(INTEGRATORS)
    api.post("/api/chat/process", {"phone": PHONE, "message": "oi"}, format="json")

    conversation = Conversation.objects.get()
    detail = api.get(f"/api/conversations/{conversation.pk}").json()

    assert [m["source"] for m in detail["messages"]] == ["api", "whatsapp"]
