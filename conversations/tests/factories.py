"""factory_boy factories for conversations."""

from __future__ import annotations

import factory
from django.utils import timezone

from billing.tests.factories import ClientFactory
from conversations.models import Conversation, Message


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    client = factory.SubFactory(ClientFactory)
    chat_id = factory.LazyAttribute(lambda o: f"{o.client.phone.lstrip('+')}@c.us" if o.client else "0@c.us")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    direction = Message.Direction.IN
    author = Message.Author.DEBTOR
    body = "ja paguei"
    sent_at = factory.LazyFunction(timezone.now)
