"""factory_boy factories for conversations."""

from __future__ import annotations

import factory
from django.db.models import Q
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
        skip_postgeneration_save = True  # the hook below updates the conversation, not the message

    conversation = factory.SubFactory(ConversationFactory)
    direction = Message.Direction.IN
    author = Message.Author.DEBTOR
    body = "ja paguei"
    sent_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def _last_inbound(obj, create, extracted, **kwargs):
        # What conversations.recording does for a debtor's message: the inbox's unread counts read it.
        if create and obj.direction == Message.Direction.IN:
            Conversation.objects.filter(pk=obj.conversation_id).filter(
                Q(last_inbound_id__isnull=True) | Q(last_inbound_id__lt=obj.pk)
            ).update(last_inbound_id=obj.pk)
