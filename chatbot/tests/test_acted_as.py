"""A message that answered the bot's question is stored and shown as what it did: the "sim" that confirmed a
3x agreement (classified `saudacao` by the model, as the tester saw in the inbox) is shown as Negociação."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from billing.models import Agreement
from billing.tests.factories import ChargeFactory, ClientFactory
from chatbot import services
from chatbot.policy import ChargeSnapshot, ClientSnapshot, Creditor, decide
from chatbot.tests.test_policy import NOW
from cobranca.roles import OPERATORS
from conversations.models import Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

READS = {"quero parcelar": "negociacao", "sim": "saudacao", "3": "desconhecido"}


@pytest.fixture
def bot(monkeypatch, settings):
    sent: list[str] = []

    class Waha:
        def send_seen(self, *a, **k):
            return None

        def start_typing(self, *a, **k):
            return None

        def stop_typing(self, *a, **k):
            return None

        def send_text(self, chat_id, text, *, session=None, message_id=None):
            sent.append(text)
            return f"true_{chat_id}_BOT{len(sent)}"

    monkeypatch.setattr("whatsapp.client.get_client", lambda: Waha())
    monkeypatch.setattr(services, "typing_sleep", lambda _s: None)
    monkeypatch.setattr(services, "classify", lambda text: (READS.get(text.lower(), "desconhecido"), 0.998))
    settings.CREDITOR_NAME = "Credora Exemplo Ltda"
    settings.PIX_KEY = "pix@credora.example"
    settings.CHATBOT_ENABLED = True
    charge = ChargeFactory(
        client=ClientFactory(name="João Souza"), amount=Decimal("300.00"), due_date=dt.date(2026, 1, 10)
    )
    conversation = ConversationFactory(client=charge.client)
    counter = iter(range(1, 100))

    def say(body: str) -> Message:
        message = MessageFactory(
            conversation=conversation, body=body, waha_id=f"false_chat_IN{next(counter)}"
        )
        services.bot_handle_inbound(message_id=message.pk)
        message.refresh_from_db()
        return message

    say.conversation = conversation
    say.sent = sent
    return say


def test_the_yes_that_confirmed_an_agreement_is_stored_as_negotiation_keeping_the_models_label(bot):
    first = bot("quero parcelar")
    pick = bot("3")
    yes = bot("sim")
    assert Agreement.objects.get().installments == 3
    assert (yes.intent, yes.acted_as_intent, yes.shown_intent) == ("saudacao", "negociacao", "negociacao")
    assert pick.acted_as_intent == "negociacao"  # "3" picked an option of the offer
    assert first.acted_as_intent == ""  # classified right: nothing to add


def test_the_inbox_shows_the_yes_as_negotiation_not_as_a_greeting(bot):
    bot("quero parcelar")
    bot("3")
    bot("sim")
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    http = HttpClient()
    http.force_login(user)
    row = http.get(reverse("dashboard:inbox")).content.decode()
    assert 'data-intent="negociacao"' in row and 'data-intent="saudacao"' not in row
    page = http.get(reverse("dashboard:conversation", args=[bot.conversation.pk])).content.decode()
    assert "resposta à pergunta do assistente" in page
    assert page.count('data-intent="saudacao"') == 0


def test_the_policy_says_what_a_yes_acted_as():
    snap = ClientSnapshot(
        7,
        Creditor(name="Credora"),
        "João",
        charges=(ChargeSnapshot(id=1, amount=Decimal("300.00"), due_date=dt.date(2026, 1, 10)),),
    )
    context = {
        "introduced": True,
        "pending": "confirm",
        "pending_at": NOW.isoformat(),
        "pending_data": {
            "action": "create_promise",
            "params": {"charge_id": 1, "promised_date": "2026-01-20"},
        },
    }
    decision = decide(
        intent="saudacao",
        confidence=0.99,
        entities={},
        text="sim",
        context=context,
        client_snapshot=snap,
        now=NOW,
    )
    assert decision.acted_as == "promessa_pagamento"
    plain = decide(
        intent="saudacao", confidence=0.99, entities={}, text="oi", context={}, client_snapshot=snap, now=NOW
    )
    assert plain.acted_as == ""
