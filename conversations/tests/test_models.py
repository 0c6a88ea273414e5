from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from conversations.models import Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_an_inbound_message_is_written_by_the_debtor():
    conversation = ConversationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(conversation=conversation, direction=Message.Direction.IN, author=Message.Author.BOT)
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(
            conversation=conversation, direction=Message.Direction.OUT, author=Message.Author.DEBTOR
        )


def test_a_waha_message_is_recorded_once():
    MessageFactory(waha_id="false_5511987654321@c.us_AAA")
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(waha_id="false_5511987654321@c.us_AAA")


def test_corrected_intent_wins():
    message = MessageFactory(intent="saudacao")
    assert message.effective_intent == "saudacao"
    message.corrected_intent = "negociacao"
    assert message.effective_intent == "negociacao"


def test_one_conversation_per_chat():
    conversation = ConversationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversationFactory(chat_id=conversation.chat_id)
    assert "@c.us" in str(conversation) and conversation.chat_id[5:9] not in str(conversation)
