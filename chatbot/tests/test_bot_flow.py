"""The bot's turn end to end inside Django: inbound Message → classify → decide → billing services → reply.

The classifier is faked at the `chatbot.services.classify` seam (keyword table below); entities come from the
real extractor; WAHA is stubbed at the one accessor, `whatsapp.client.get_client`, and records every call.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from billing.models import Agreement, Charge, PromiseToPay
from billing.tests.factories import ChargeFactory, ClientFactory
from chatbot import services
from chatbot.models import ModelVersion
from chatbot.tasks import send_due_follow_ups
from cobranca.exceptions import ApplicationError
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db
S = Charge.Status

# text (lower case) contains key → intent; first match wins.
FAKE_INTENTS = [
    ("já paguei", "confirmacao_pagamento"),
    ("vou pagar", "promessa_pagamento"),
    ("pago dia", "promessa_pagamento"),
    ("parcelar", "negociacao"),
    ("pix", "informacoes_pagamento"),
    ("não devo", "contestacao"),
    ("atendente", "falar_humano"),
    ("parem", "opt_out"),
    ("não conheço", "pessoa_errada"),
    ("oi", "saudacao"),
    ("obrigad", "agradecimento"),
]


class FakeWaha:
    def __init__(self, fail_send: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail_send = fail_send
        self.sent: list[tuple[str, str]] = []

    def send_seen(self, chat_id, *, message_ids=None, session=None):
        self.calls.append(("seen", chat_id, tuple(message_ids or ())))

    def start_typing(self, chat_id, *, session=None):
        self.calls.append(("start_typing", chat_id))

    def stop_typing(self, chat_id, *, session=None):
        self.calls.append(("stop_typing", chat_id))

    def send_text(self, chat_id, text, *, session=None, message_id=None):
        self.calls.append(("send_text", chat_id))
        if self.fail_send:
            raise self.fail_send
        self.sent.append((chat_id, text))
        return f"true_{chat_id}_BOT{len(self.sent)}"


@pytest.fixture
def classified(monkeypatch):
    """Every text the bot classified, in order."""
    seen: list[str] = []

    def classify(text: str) -> tuple[str, float]:
        seen.append(text)
        lowered = text.lower()
        return next(((intent, 0.93) for key, intent in FAKE_INTENTS if key in lowered), ("desconhecido", 0.3))

    monkeypatch.setattr(services, "classify", classify)
    return seen


@pytest.fixture
def waha(monkeypatch, settings):
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    pauses: list[float] = []
    monkeypatch.setattr(services, "typing_sleep", pauses.append)
    fake.pauses = pauses
    settings.CREDITOR_NAME = "Credora Exemplo Ltda"
    settings.PIX_KEY = "pix@credora.example"
    settings.CHATBOT_ENABLED = True
    return fake


@pytest.fixture
def charge():
    client = ClientFactory(name="Maria Souza")
    return ChargeFactory(client=client, amount=Decimal("300.00"), due_date=dt.date(2026, 1, 10))


@pytest.fixture
def conversation(charge):
    return ConversationFactory(client=charge.client)


_counter = iter(range(1, 10_000))


def inbound(conversation: Conversation, body: str) -> Message:
    return MessageFactory(conversation=conversation, body=body, waha_id=f"false_chat_IN{next(_counter)}")


def say(conversation: Conversation, body: str) -> Message:
    message = inbound(conversation, body)
    services.bot_handle_inbound(message_id=message.pk)
    message.refresh_from_db()
    return message


def bot_replies(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(author=Message.Author.BOT).values_list("body", flat=True))


# --- one turn --------------------------------------------------------------------------------------------


def test_it_answers_with_seen_typing_and_text_and_records_the_reply(classified, waha, conversation):
    message = say(conversation, "oi")
    assert [call[0] for call in waha.calls] == ["seen", "start_typing", "stop_typing", "send_text"]
    assert waha.calls[0] == ("seen", conversation.chat_id, (message.waha_id,))
    reply = conversation.messages.get(author=Message.Author.BOT)
    assert reply.direction == Message.Direction.OUT
    assert reply.waha_id == f"true_{conversation.chat_id}_BOT1"
    assert "Credora Exemplo Ltda" in reply.body and "Maria" in reply.body
    assert message.intent == "saudacao" and message.confidence == pytest.approx(0.93)
    assert message.replied_at is not None


def test_the_chatbots_own_task_answers_through_conversations_services(
    classified, waha, conversation, monkeypatch
):
    from chatbot.tasks import bot_answer_inbound
    from conversations import services as conversations

    written: list[str] = []
    for name in ("message_claim_reply", "conversation_record_bot_turn", "message_record_outbound"):
        original = getattr(conversations, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            written.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(conversations, name, spy)
    message = inbound(conversation, "oi")

    bot_answer_inbound(message.pk)

    assert written == ["message_claim_reply", "conversation_record_bot_turn", "message_record_outbound"]
    assert len(waha.sent) == 1 and bot_replies(conversation) == [waha.sent[0][1]]


def test_the_typing_pause_grows_with_the_reply_and_is_capped(classified, waha, conversation, settings):
    settings.CHATBOT_TYPING_SECONDS_PER_CHAR = 0.005
    settings.CHATBOT_TYPING_MAX_SECONDS = 1.0
    say(conversation, "oi")
    say(conversation, "manda o pix")  # a long reply with the PIX code
    short, long = waha.pauses
    assert 0 < short < long == 1.0
    assert short == pytest.approx(len(waha.sent[0][1]) * 0.005)


def test_called_twice_for_the_same_message_it_replies_once(classified, waha, conversation):
    message = inbound(conversation, "oi")
    services.bot_handle_inbound(message_id=message.pk)
    services.bot_handle_inbound(message_id=message.pk)
    assert len(waha.sent) == 1
    assert len(bot_replies(conversation)) == 1
    assert len(classified) == 1  # the stored intent is reused, not recomputed


def test_entities_are_stored_as_json(classified, waha, conversation):
    message = say(conversation, "pago dia 20 os R$ 150,00")
    assert message.entities["amount"] == "150.00"
    dt.date.fromisoformat(message.entities["date"])


def test_a_conversation_with_an_operator_gets_no_reply_but_is_classified(classified, waha, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(state=Conversation.State.HUMAN)
    message = say(conversation, "já paguei")
    assert waha.sent == []
    assert message.intent == "confirmacao_pagamento" and message.replied_at is None


def test_a_client_who_opted_out_earlier_gets_no_reply_and_an_operator_is_told(classified, waha, conversation):
    conversation.client.opted_out_at = timezone.now()
    conversation.client.save()
    say(conversation, "oi")
    assert waha.sent == []
    conversation.refresh_from_db()
    assert conversation.needs_attention


def test_a_failed_send_is_recorded_as_an_error_and_flagged(classified, waha, conversation):
    from whatsapp.client import WahaError

    waha.fail_send = WahaError("session_not_working", "sessão parada", permanent=False)
    say(conversation, "oi")
    reply = conversation.messages.get(author=Message.Author.BOT)
    assert reply.ack == Message.Ack.ERROR and reply.waha_id is None
    conversation.refresh_from_db()
    assert conversation.needs_attention


def test_a_refused_action_rolls_back_and_answers_safely(classified, waha, conversation, charge, monkeypatch):
    def refuse(**kwargs):
        raise ApplicationError("Esta cobrança não aceita promessa de pagamento.")

    monkeypatch.setattr("billing.services.promise_create", refuse)  # what chatbot.applying calls
    say(conversation, "pago dia 20")
    assert "atendente" in waha.sent[0][1]
    charge.refresh_from_db()
    assert charge.status == S.OPEN
    conversation.refresh_from_db()
    assert conversation.needs_attention


# --- the policy's actions reach the database -------------------------------------------------------------


def test_a_payment_claim_stops_reminders_and_flags_the_conversation(classified, waha, conversation, charge):
    say(conversation, "já paguei")
    charge.refresh_from_db()
    conversation.refresh_from_db()
    assert charge.status == S.PAYMENT_CLAIMED and not charge.accepts_reminders
    assert conversation.needs_attention and "comprovante" in conversation.attention_reason
    assert "comprovante" in waha.sent[0][1]


def test_a_promise_without_a_date_is_completed_by_the_next_message(classified, waha, conversation, charge):
    say(conversation, "vou pagar")
    assert not PromiseToPay.objects.exists()
    answer = say(conversation, "dia 20")  # the fake classifier says desconhecido
    assert answer.intent == "desconhecido"
    promise = PromiseToPay.objects.get()
    assert promise.promised_date.day == 20 and promise.source_message_id == answer.pk
    assert timezone.localtime(promise.follow_up_at).date() >= promise.promised_date + dt.timedelta(days=1)
    charge.refresh_from_db()
    assert charge.status == S.PROMISED
    assert promise.promised_date.strftime("%d/%m/%Y") in waha.sent[-1][1]


def test_a_negotiation_ends_in_an_agreement_with_a_pix_code(classified, waha, conversation, charge):
    say(conversation, "quero parcelar")
    assert "3x de R$ 100,00" in waha.sent[-1][1]
    say(conversation, "a 3")
    assert not Agreement.objects.exists() and "Responda SIM" in waha.sent[-1][1]
    say(conversation, "sim")
    agreement = Agreement.objects.get()
    assert (agreement.installments, agreement.installment_amount) == (3, Decimal("100.00"))
    charge.refresh_from_db()
    assert charge.status == S.NEGOTIATING
    assert "5406100.00" in waha.sent[-1][1]


def test_the_policy_in_force_limits_the_offer_and_the_pick(classified, waha, conversation, charge):
    from billing.models import NegotiationPolicy

    NegotiationPolicy.objects.create(
        max_installments=2, min_installment_amount=Decimal("10"), max_discount_percent=Decimal("5")
    )
    say(conversation, "quero parcelar")
    offer = waha.sent[-1][1]
    assert "1) à vista com 5% de desconto: R$ 285,00" in offer and "3)" not in offer
    say(conversation, "a 3")
    assert not Agreement.objects.exists()
    assert "máximo é em 2x" in waha.sent[-1][1]
    say(conversation, "à vista")
    say(conversation, "sim")
    agreement = Agreement.objects.get()
    assert (agreement.installments, agreement.total_amount) == (1, Decimal("285.00"))


def test_a_dispute_hands_the_conversation_to_a_person(classified, waha, conversation, charge):
    say(conversation, "eu não devo isso")
    charge.refresh_from_db()
    conversation.refresh_from_db()
    assert charge.status == S.DISPUTED
    assert conversation.state == Conversation.State.HUMAN and conversation.needs_attention
    say(conversation, "oi?")
    assert len(waha.sent) == 1  # silent while a person handles it


def test_two_unknown_messages_hand_over(classified, waha, conversation):
    say(conversation, "asdfgh")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.BOT
    say(conversation, "qwerty")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.HUMAN
    assert conversation.context.get("handoff_at")


def test_opt_out_is_confirmed_once_then_silence(classified, waha, conversation):
    say(conversation, "parem de me mandar mensagem")
    conversation.client.refresh_from_db()
    assert conversation.client.opted_out_at is not None
    say(conversation, "oi")
    assert len(waha.sent) == 1


def test_a_wrong_person_marks_the_number_and_hears_no_details(classified, waha, conversation, charge):
    say(conversation, "não conheço essa Maria")
    conversation.client.refresh_from_db()
    assert conversation.client.wrong_number
    assert "R$" not in waha.sent[0][1] and "Credora" not in waha.sent[0][1]
    say(conversation, "me manda o pix")
    assert "R$" not in waha.sent[1][1]


def test_an_unknown_number_gets_a_generic_answer(classified, waha):
    conversation = ConversationFactory(client=None, chat_id="5521999990000@c.us")
    say(conversation, "quero o pix")
    assert "R$" not in waha.sent[0][1]
    conversation.refresh_from_db()
    assert conversation.needs_attention


def test_a_media_message_after_a_claim_is_taken_as_the_receipt(classified, waha, conversation):
    say(conversation, "já paguei")
    say(conversation, "[mídia]")
    assert "comprovante" in waha.sent[-1][1]
    assert len(classified) == 1  # media is not sent to the classifier


# --- follow-ups --------------------------------------------------------------------------------------------

TUESDAY_10H = dt.datetime(2099, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


def _due_promise(charge, conversation) -> PromiseToPay:
    Charge.objects.filter(pk=charge.pk).update(status=S.PROMISED)
    return PromiseToPay.objects.create(
        charge=charge, promised_date=dt.date(2099, 3, 9), follow_up_at=TUESDAY_10H - dt.timedelta(minutes=1)
    )


def test_a_due_follow_up_is_sent_once(waha, charge, conversation):
    promise = _due_promise(charge, conversation)
    assert services.follow_ups_send_due(now=TUESDAY_10H) == 1
    assert services.follow_ups_send_due(now=TUESDAY_10H) == 0
    assert len(waha.sent) == 1 and "09/03/2099" in waha.sent[0][1]
    promise.refresh_from_db()
    assert promise.follow_up_sent_at is not None
    assert conversation.messages.filter(author=Message.Author.BOT).count() == 1


def test_no_follow_up_when_the_charge_was_paid_or_outside_the_window(waha, charge, conversation):
    promise = _due_promise(charge, conversation)
    sunday = TUESDAY_10H + dt.timedelta(days=5)
    assert services.follow_ups_send_due(now=sunday) == 0
    promise.refresh_from_db()
    assert promise.follow_up_sent_at is None  # left for the next run inside the window
    Charge.objects.filter(pk=charge.pk).update(status=S.PAYMENT_CLAIMED)
    assert services.follow_ups_send_due(now=TUESDAY_10H) == 0
    assert waha.sent == []


def test_the_follow_up_task_is_thin(waha, charge, conversation, monkeypatch):
    monkeypatch.setattr(services, "follow_ups_send_due", lambda: 3)
    assert send_due_follow_ups() == 3


# --- model versions and the real model --------------------------------------------------------------------


def test_activating_a_version_deactivates_the_others():
    old = ModelVersion.objects.create(version="v1", path="a.pt", is_active=True)
    new = ModelVersion.objects.create(version="v2", path="b.pt")
    services.model_version_activate(model_version=new)
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.is_active and not old.is_active


WEIGHTS = Path(services.__file__).resolve().parent / "weights" / "intent_model.pt"


def test_the_shipped_model_drives_a_payment_claim_and_a_negotiation(waha, conversation, charge):
    # The real classifier (no fake): the weights ship with the repository, so this runs in CI too.
    assert WEIGHTS.exists(), f"shipped model missing at {WEIGHTS}: run manage.py train_chatbot"
    say(conversation, "quero parcelar essa conta")
    assert "1) à vista" in waha.sent[-1][1]
    say(conversation, "oi, já paguei ontem pelo pix")
    intents = list(
        conversation.messages.filter(direction=Message.Direction.IN).values_list("intent", flat=True)
    )
    assert intents == ["negociacao", "confirmacao_pagamento"]
    charge.refresh_from_db()
    assert charge.status == S.PAYMENT_CLAIMED


def test_the_model_version_admin_lists_metrics_and_activates_one(client):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)
    old = ModelVersion.objects.create(version="v1", path="a.pt", is_active=True, metrics={"macro_f1": 0.81})
    new = ModelVersion.objects.create(version="v2", path="b.pt", metrics={"macro_f1": 0.9, "accuracy": 0.93})
    page = client.get("/admin/chatbot/modelversion/")
    assert page.status_code == 200 and b"0.900" in page.content and b"0.930" in page.content
    response = client.post(
        "/admin/chatbot/modelversion/", {"action": "activate", "_selected_action": [new.pk]}, follow=True
    )
    assert response.status_code == 200
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == ["v2"]
    old.refresh_from_db()
    assert not old.is_active


def test_the_reply_reaches_the_waha_simulator_over_http(
    classified, waha_settings, waha_simulator, conversation
):
    # No stub: the real client talks HTTP to the simulator (seen, typing, sendText).
    waha_settings.CHATBOT_TYPING_MAX_SECONDS = 0.05
    say(conversation, "oi")
    (sent,) = waha_simulator.wait_for_outbox(1)
    assert sent["chatId"] == conversation.chat_id and "Maria" in sent["text"]
    reply = conversation.messages.get(author=Message.Author.BOT)
    assert reply.waha_id == sent["id"]


def test_a_broken_model_degrades_to_asking_again(waha, conversation, monkeypatch):
    def broken(text):
        raise OSError("intent_model.pt: no such file")

    monkeypatch.setattr(services, "classify", broken)
    message = say(conversation, "oi")
    assert message.intent == "desconhecido"
    assert "outro jeito" in waha.sent[0][1]
