"""Conversation services and selectors: handoff, operator replies, intent feedback, history and stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from billing.tests.factories import ClientFactory
from cobranca.exceptions import ApplicationError
from conversations import selectors, services
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


class FakeWaha:
    def __init__(self, *, error=None):
        self.sent: list[tuple[str, str, str | None]] = []
        self.error = error

    def send_text(self, chat_id, text, *, session=None, message_id=None):
        if self.error:
            raise self.error
        self.sent.append((chat_id, text, session))
        return f"true_{chat_id}_3EB0{len(self.sent):016d}"


@pytest.fixture
def operator():
    return User.objects.create_user("ana", password="x", is_staff=True)


@pytest.fixture
def waha(monkeypatch) -> FakeWaha:
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    return fake


def test_take_over_and_give_back_switch_the_bot_off_and_on(operator):
    conversation = ConversationFactory(needs_attention=True)
    services.conversation_take_over(conversation=conversation, by=operator)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.assigned_to, conversation.needs_attention) == (
        "human",
        operator,
        False,
    )

    services.conversation_give_back(conversation=conversation, by=operator)
    conversation.refresh_from_db()
    assert (conversation.state, conversation.assigned_to) == ("bot", None)


def test_an_operator_reply_is_sent_to_the_chat_and_recorded(operator, waha):
    conversation = ConversationFactory(chat_id="5511987654321@c.us", session_name="default")
    message = services.operator_reply(
        conversation=conversation, text="  Bom dia, posso ajudar?  ", by=operator
    )

    assert waha.sent == [("5511987654321@c.us", "Bom dia, posso ajudar?", "default")]
    assert (message.direction, message.author, message.operator) == ("out", "operator", operator)
    assert message.waha_id.startswith("true_5511987654321@c.us_")
    assert message.ack == Message.Ack.SENT
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.HUMAN
    assert conversation.assigned_to == operator


def test_an_operator_reply_that_waha_refuses_records_nothing(operator, monkeypatch):
    from whatsapp.client import WahaError

    fake = FakeWaha(error=WahaError("session_not_working", "not working", permanent=False, status_code=422))
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    conversation = ConversationFactory()
    with pytest.raises(ApplicationError) as exc:
        services.operator_reply(conversation=conversation, text="Oi", by=operator)
    assert exc.value.status_code == 502
    assert exc.value.extra["retry"] is True
    assert Message.objects.count() == 0


def test_an_empty_operator_reply_is_refused(operator, waha):
    with pytest.raises(ApplicationError):
        services.operator_reply(conversation=ConversationFactory(), text="   ", by=operator)
    assert waha.sent == []


def test_correcting_an_intent_validates_the_label_and_the_direction(operator):
    message = MessageFactory(intent="saudacao")
    services.message_correct_intent(message=message, intent="confirmacao_pagamento", by=operator)
    message.refresh_from_db()
    assert (message.corrected_intent, message.corrected_by, message.effective_intent) == (
        "confirmacao_pagamento",
        operator,
        "confirmacao_pagamento",
    )
    with pytest.raises(ApplicationError) as exc:
        services.message_correct_intent(message=message, intent="inventada", by=operator)
    assert "allowed" in exc.value.extra
    outbound = MessageFactory(direction="out", author="bot")
    with pytest.raises(ApplicationError):
        services.message_correct_intent(message=outbound, intent="saudacao", by=operator)


def test_record_outbound_is_idempotent_on_the_waha_id():
    conversation = ConversationFactory()
    first = services.message_record_outbound(
        conversation=conversation, body="a", author="bot", waha_id="true_x_1"
    )
    again = services.message_record_outbound(
        conversation=conversation, body="a", author="bot", waha_id="true_x_1"
    )
    assert first.pk == again.pk
    with pytest.raises(ApplicationError):
        services.message_record_outbound(conversation=conversation, body="a", author="debtor", waha_id=None)


def test_history_by_phone_finds_both_whatsapp_forms():
    client = ClientFactory(phone="+5511987654321")
    conversation = ConversationFactory(client=client)
    MessageFactory(conversation=conversation)
    legacy = ConversationFactory(client=None, chat_id="551187654321@c.us")
    MessageFactory(conversation=legacy)
    assert selectors.conversation_history(phone="+5511987654321").count() == 2
    assert selectors.conversation_history(conversation=legacy).count() == 1


def test_inbox_filters_by_state_intent_and_search():
    maria = ConversationFactory(client=ClientFactory(name="Maria Souza", phone="+5511911112222"))
    joao = ConversationFactory(client=ClientFactory(name="João Lima"), state="human")
    MessageFactory(conversation=maria, intent="negociacao")
    MessageFactory(conversation=joao, intent="saudacao", corrected_intent="negociacao")
    MessageFactory(conversation=joao, intent="negociacao", corrected_intent="opt_out")

    assert list(selectors.inbox({"state": "human"})) == [joao]
    assert set(selectors.inbox({"intent": "negociacao"})) == {maria, joao}
    assert list(selectors.inbox({"intent": "opt_out"})) == [joao]
    assert list(selectors.inbox({"search": "maria"})) == [maria]
    assert list(selectors.inbox({"search": "1111-2222"})) == [maria]


def test_stats_count_states_intents_handoffs_and_bot_answer_time(operator):
    now = timezone.now()
    bot_conv = ConversationFactory()
    inbound = MessageFactory(conversation=bot_conv, intent="saudacao", sent_at=now - timedelta(seconds=10))
    reply = MessageFactory(conversation=bot_conv, direction="out", author="bot", sent_at=now)
    Message.objects.filter(pk=reply.pk).update(created_at=inbound.sent_at + timedelta(seconds=4))
    human_conv = ConversationFactory(state="human")
    MessageFactory(conversation=human_conv, intent="saudacao", corrected_intent="falar_humano")

    stats = selectors.conversation_stats()

    assert stats["conversations"] == 2
    assert stats["by_state"] == {"bot": 1, "human": 1, "closed": 0}
    assert stats["intents"] == {"saudacao": 1, "falar_humano": 1}
    assert stats["handoff_rate"] == 0.5
    assert stats["bot_answer_seconds"]["count"] == 1
    assert stats["bot_answer_seconds"]["median"] == pytest.approx(4, abs=0.01)
