"""The chat API: /api/chat/process, /api/chat/conversation/<phone>, /api/chat/conversations/stats."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from billing.models import Charge, PromiseToPay
from billing.tests.factories import ChargeFactory, ClientFactory
from chatbot import services
from cobranca.roles import INTEGRATORS
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    call_command("create_groups", stdout=open("/dev/null", "w"))  # the group with its permissions
    user = get_user_model().objects.create_user("integrador", password="x")
    user.groups.add(Group.objects.get(name=INTEGRATORS))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def fake_nlu(monkeypatch):
    table = {"já paguei": "confirmacao_pagamento", "pago dia": "promessa_pagamento", "oi": "saudacao"}

    def classify(text):
        return next(((v, 0.9) for k, v in table.items() if k in text.lower()), ("desconhecido", 0.2))

    monkeypatch.setattr(services, "classify", classify)


@pytest.fixture
def no_waha(monkeypatch):
    def fail():
        raise AssertionError("the API must not call WAHA unless asked to")

    monkeypatch.setattr("whatsapp.client.get_client", fail)


@pytest.fixture
def charge():
    client = ClientFactory(name="João Lima", phone="+5511987654321")
    return ChargeFactory(client=client, amount=Decimal("120.00"))


def test_process_runs_the_policy_and_returns_the_answer_without_sending(api, charge, no_waha):
    response = api.post(
        "/api/chat/process", {"phone": "(11) 98765-4321", "message": "Já paguei"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["intent"] == "confirmacao_pagamento" and body["confidence"] == 0.9
    assert "comprovante" in body["response"]
    assert [a["type"] for a in body["actions"]] == ["claim_payment", "flag"]
    assert body["sent"] is False
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAYMENT_CLAIMED
    conversation = Conversation.objects.get(client=charge.client)
    assert list(conversation.messages.values_list("author", flat=True)) == ["debtor", "bot"]


def test_process_returns_entities_as_json(api, charge, no_waha):
    response = api.post(
        "/api/chat/process", {"phone": "11987654321", "message": "pago dia 20"}, format="json"
    )
    body = response.json()
    promised = dt.date.fromisoformat(body["entities"]["date"])
    assert body["actions"][0] == {
        "type": "create_promise",
        "charge_id": charge.pk,
        "promised_date": promised.isoformat(),
        "amount": None,
    }
    assert PromiseToPay.objects.get().promised_date == promised


def test_process_can_send_through_whatsapp_when_asked(api, charge, monkeypatch):
    sent = []

    class Waha:
        def send_seen(self, *a, **k): ...
        def start_typing(self, *a, **k): ...
        def stop_typing(self, *a, **k): ...

        def send_text(self, chat_id, text, **k):
            sent.append(chat_id)
            return "true_x_1"

    monkeypatch.setattr("whatsapp.client.get_client", Waha)
    monkeypatch.setattr(services, "typing_sleep", lambda s: None)
    response = api.post(
        "/api/chat/process", {"phone": "+5511987654321", "message": "oi", "send": True}, format="json"
    )
    assert response.json()["sent"] is True
    assert sent == ["5511987654321@c.us"]


def test_process_for_an_unknown_phone_answers_generically(api, no_waha):
    response = api.post("/api/chat/process", {"phone": "21 99999-0000", "message": "oi"}, format="json")
    assert response.status_code == 200
    assert "R$" not in response.json()["response"]


@pytest.mark.parametrize(
    "payload",
    [{"phone": "123", "message": "oi"}, {"phone": "11987654321", "message": ""}, {"message": "oi"}],
    ids=["bad-phone", "empty-message", "missing-phone"],
)
def test_process_rejects_bad_input_with_the_error_shape(api, payload, no_waha):
    response = api.post("/api/chat/process", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "extra"}


def test_the_api_needs_an_api_user(charge):
    response = APIClient().post("/api/chat/process", {"phone": "11987654321", "message": "oi"}, format="json")
    assert response.status_code in (401, 403)
    assert "message" in response.json()


def test_history_accepts_any_phone_format(api, charge, no_waha):
    api.post("/api/chat/process", {"phone": "+5511987654321", "message": "oi"}, format="json")
    for phone in ("5511987654321", "(11) 98765-4321", "+55 11 98765-4321"):
        response = api.get(f"/api/chat/conversation/{phone}")
        assert response.status_code == 200
        body = response.json()
        assert body["phone"] == "+5511*****4321"  # an integrator reads it masked (cobranca.masking)
        assert body["client"]["name"] == "João Lima"
        assert [m["author"] for m in body["messages"]] == ["debtor", "bot"]
        assert body["messages"][0]["intent"] == "saudacao"


def test_history_of_a_bad_phone_is_a_400(api):
    response = api.get("/api/chat/conversation/abc")
    assert response.status_code == 400 and response.json()["message"] == "Telefone inválido."


def test_stats_count_states_intents_and_handoffs(api, charge, no_waha):
    api.post("/api/chat/process", {"phone": "11987654321", "message": "oi"}, format="json")
    api.post("/api/chat/process", {"phone": "11987654321", "message": "hã"}, format="json")
    api.post("/api/chat/process", {"phone": "11987654321", "message": "??"}, format="json")  # → handoff
    response = api.get("/api/chat/conversations/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["by_state"]["human"] == 1
    assert body["intents"] == {"saudacao": 1, "desconhecido": 2}
    assert body["handoff_rate"] == 1.0
    assert body["bot_answer_seconds"]["count"] >= 1
    assert Message.objects.filter(author=Message.Author.BOT).count() == 3
