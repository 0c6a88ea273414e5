"""Conversations API: list, detail, handoff, reply and intent correction, with roles and the error shape."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

from billing.tests.factories import ClientFactory
from cobranca.roles import INTEGRATORS
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

BASE = "/api/conversations/"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


@pytest.fixture
def operator():
    return User.objects.create_user("operadora", password="x", is_staff=True, is_superuser=True)


@pytest.fixture
def api(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


@pytest.fixture
def integrator_api() -> APIClient:
    user = User.objects.create_user("integra", password="x")
    user.groups.add(Group.objects.get_or_create(name=INTEGRATORS)[0])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_users_are_refused_with_the_error_shape():
    response = APIClient().get(BASE)
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"message", "extra"}


def test_the_list_is_paginated_and_filterable(api):
    maria = ConversationFactory(client=ClientFactory(name="Maria"), state="human")
    ConversationFactory(client=ClientFactory(name="Pedro"))
    MessageFactory(conversation=maria, body="quero falar com alguém")

    response = api.get(BASE, {"state": "human"})

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    row = data["results"][0]
    assert (row["id"], row["client_name"], row["state"], row["message_count"]) == (
        maria.pk,
        "Maria",
        "human",
        1,
    )
    assert row["last_message_body"] == "quero falar com alguém"
    assert api.get(BASE, {"search": "pedro"}).json()["count"] == 1


def test_a_bad_filter_is_a_400_with_the_error_shape(api):
    response = api.get(BASE, {"state": "sleeping"})
    assert response.status_code == 400
    assert "state" in response.json()["extra"]["fields"]


def test_the_detail_includes_the_messages_in_order(api):
    conversation = ConversationFactory()
    first = MessageFactory(conversation=conversation, body="oi")
    MessageFactory(conversation=conversation, direction="out", author="bot", body="olá!")
    response = api.get(f"{BASE}{conversation.pk}")
    assert response.status_code == 200
    bodies = [m["body"] for m in response.json()["messages"]]
    assert bodies == ["oi", "olá!"]
    assert response.json()["messages"][0]["id"] == first.pk
    assert api.get(f"{BASE}999999").status_code == 404


def test_take_over_then_give_back(api, operator):
    conversation = ConversationFactory()
    response = api.post(f"{BASE}{conversation.pk}/take-over")
    assert response.status_code == 200
    assert response.json()["state"] == "human"
    assert response.json()["assigned_to"] == operator.username
    assert api.post(f"{BASE}{conversation.pk}/give-back").json()["state"] == "bot"


def test_reply_sends_through_waha_and_returns_the_message(api, monkeypatch):
    sent = []

    class Fake:
        def send_text(self, chat_id, text, *, session=None, message_id=None):
            sent.append((chat_id, text))
            return f"true_{chat_id}_ABC"

    monkeypatch.setattr("whatsapp.client.get_client", lambda: Fake())
    conversation = ConversationFactory(chat_id="5511987654321@c.us")

    response = api.post(f"{BASE}{conversation.pk}/reply", {"text": "Olá!"}, format="json")

    assert response.status_code == 201
    assert response.json()["author"] == "operator"
    assert sent == [("5511987654321@c.us", "Olá!")]
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.HUMAN


def test_reply_without_text_is_a_400(api):
    conversation = ConversationFactory()
    response = api.post(f"{BASE}{conversation.pk}/reply", {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Dados inválidos."


def test_correct_intent(api):
    message = MessageFactory(intent="saudacao")
    url = f"{BASE}messages/{message.pk}/correct-intent"
    response = api.post(url, {"intent": "opt_out"}, format="json")
    assert response.status_code == 200
    assert response.json()["effective_intent"] == "opt_out"
    bad = api.post(url, {"intent": "xyz"}, format="json")
    assert bad.status_code == 400
    assert "opt_out" in bad.json()["extra"]["allowed"]
    assert Message.objects.get().corrected_intent == "opt_out"


def test_integrators_can_read_but_not_act(integrator_api):
    conversation = ConversationFactory()
    assert integrator_api.get(BASE).status_code == 200
    assert integrator_api.post(f"{BASE}{conversation.pk}/take-over").status_code == 403


def test_the_stats_have_one_endpoint_the_original_systems_path(api):
    ConversationFactory()
    assert api.get(f"{BASE}stats").status_code == 404
    response = api.get("/api/chat/conversations/stats", {"days": 7})
    assert response.status_code == 200
    assert response.json()["conversations"] == 1


def test_the_list_keeps_the_inbox_order_across_pages_with_each_rows_figures(api):
    now = timezone.now()
    flagged = ConversationFactory(needs_attention=True, last_message_at=now - dt.timedelta(days=1))
    recent = ConversationFactory(last_message_at=now)
    older = ConversationFactory(last_message_at=now - dt.timedelta(hours=1))
    for conversation in (flagged, recent, older):
        MessageFactory(conversation=conversation, body=f"oi {conversation.pk}")
    data = api.get(BASE).json()
    assert [row["id"] for row in data["results"]] == [flagged.pk, recent.pk, older.pk]
    assert [row["last_message_body"] for row in data["results"]] == [
        f"oi {c.pk}" for c in (flagged, recent, older)
    ]
    assert {row["message_count"] for row in data["results"]} == {1}


def test_an_integrator_cannot_recover_a_masked_number_by_searching_its_digits(api, integrator_api):
    """Third outside test: `?search=` matched a substring of the full chat id while the answer masked it, so
    the hidden digits came back one at a time (22 requests). Without full-contact permission only the whole
    number (any Brazilian format) or the name matches; an operator still finds it by any 4 of its digits."""
    maria = ConversationFactory(
        client=ClientFactory(name="Maria Penha", phone="+5511987650001"), chat_id="5511987650001@c.us"
    )
    ConversationFactory(
        client=ClientFactory(name="Outro", phone="+5521912340002"), chat_id="5521912340002@c.us"
    )

    def found(client, search):
        return [c["id"] for c in client.get(BASE, {"search": search}).json()["results"]]

    for partial in ("55119", "551198", "5511987", "98765", "0001", "650001"):
        assert found(integrator_api, partial) == [], partial
        assert found(api, partial) == [maria.pk], partial
    for whole in ("5511987650001", "+55 (11) 98765-0001", "11987650001", "Penha"):
        assert found(integrator_api, whole) == [maria.pk], whole
