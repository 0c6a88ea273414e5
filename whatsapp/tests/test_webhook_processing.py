"""Processing of stored webhook events: messages, operator replies from the phone, acks, session status."""

from __future__ import annotations

import sys
import types

import pytest
from django.utils import timezone

from billing.models import Client
from billing.tests.factories import ClientFactory
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory
from whatsapp.models import WahaSession, WebhookEvent
from whatsapp.services import webhook_event_process, webhook_events_replay
from whatsapp.tests.test_webhook_intake import load_fixture
from whatsapp.webhooks import envelope_event_id, webhook_store

pytestmark = pytest.mark.django_db

DEBTOR_CHAT = "5511987654321@c.us"
OWN_ID = "true_5511987654321@c.us_3EB0C1A2B3C4D5E6F7A8"


class Recorder:
    def __init__(self, result=True):
        self.calls: list[tuple[str, dict]] = []
        self.result = result

    def __call__(self, name):
        def fn(**kwargs):
            self.calls.append((name, kwargs))
            return self.result

        return fn

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def install_billing_stub(monkeypatch) -> Recorder:
    """Stub the campaign engine's services (billing.dispatch.services), whether or not it exists yet."""
    recorder = Recorder(result=1)
    try:
        import billing.dispatch.services as module
    except ImportError:
        module = types.ModuleType("billing.dispatch.services")
        monkeypatch.setitem(sys.modules, "billing.dispatch.services", module)
    for name in ("dispatch_record_ack", "campaigns_pause_for_session", "campaigns_resume_for_session"):
        monkeypatch.setattr(module, name, recorder(name), raising=False)
    return recorder


@pytest.fixture
def billing_calls(monkeypatch) -> Recorder:
    return install_billing_stub(monkeypatch)


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: calls.append((func, *args)))
    return calls


@pytest.fixture
def lid_lookups(monkeypatch) -> dict:
    """Stub the WAHA client seam: lid → phone chat id answers, and a record of the lookups."""
    table: dict = {"answers": {}, "calls": []}

    class FakeClient:
        def lid_to_phone(self, lid, *, session=None):
            table["calls"].append((lid, session))
            return table["answers"].get(lid)

    monkeypatch.setattr("whatsapp.client.get_client", lambda: FakeClient())
    return table


def store(name: str, **overrides) -> WebhookEvent:
    envelope = load_fixture(name, **overrides)
    result = webhook_store(envelope=envelope, event_id=envelope_event_id(envelope, body=b""))
    assert result.status == "accepted"
    return WebhookEvent.objects.get(pk=result.event_pk)


def process(event: WebhookEvent, **kwargs) -> str:
    state = webhook_event_process(event_id=event.pk, **kwargs)
    event.refresh_from_db()
    return state


# --- inbound messages ---------------------------------------------------------------------------------------


def test_an_inbound_message_becomes_a_debtor_message_in_the_clients_conversation(
    settings, enqueued, billing_calls, django_capture_on_commit_callbacks
):
    settings.CHATBOT_ENABLED = True
    client = ClientFactory(phone="+5511987654321")
    event = store("message")

    with django_capture_on_commit_callbacks(execute=True):
        assert process(event) == WebhookEvent.State.PROCESSED

    message = Message.objects.get()
    assert message.direction == Message.Direction.IN
    assert message.author == Message.Author.DEBTOR
    assert message.body == "Oi, já paguei o boleto ontem"
    assert message.waha_id == "false_5511987654321@c.us_3A0000000000000000A1"
    assert message.sent_at.timestamp() == 1741249702
    conversation = message.conversation
    assert conversation.chat_id == DEBTOR_CHAT
    assert conversation.client == client
    assert conversation.last_message_at == message.sent_at
    client.refresh_from_db()
    assert client.chat_id == DEBTOR_CHAT
    assert ("chatbot.tasks.bot_answer_inbound", message.pk) in enqueued
    assert event.processed_at is not None and event.attempts == 1


def test_a_debtor_on_the_old_8_digit_whatsapp_id_is_linked_to_the_9_digit_phone(enqueued):
    client = ClientFactory(phone="+5511987654321")
    envelope_chat = "551187654321@c.us"
    event = store("message")
    event.payload["payload"]["from"] = envelope_chat
    event.save(update_fields=["payload"])

    process(event)

    assert Message.objects.get().conversation.client == client


def test_the_bot_is_not_called_in_human_mode_or_when_disabled(
    settings, enqueued, django_capture_on_commit_callbacks
):
    settings.CHATBOT_ENABLED = True
    ConversationFactory(client=ClientFactory(phone="+5511987654321"), state=Conversation.State.HUMAN)
    with django_capture_on_commit_callbacks(execute=True):
        process(store("message"))
    assert not [c for c in enqueued if c[0] == "chatbot.tasks.bot_answer_inbound"]

    Conversation.objects.update(state=Conversation.State.BOT)
    settings.CHATBOT_ENABLED = False
    with django_capture_on_commit_callbacks(execute=True):
        process(store("message", id="evt_other"))
    assert not [c for c in enqueued if c[0] == "chatbot.tasks.bot_answer_inbound"]


def test_an_opted_out_debtors_message_is_not_handed_to_the_bot_but_flagged(
    settings, enqueued, django_capture_on_commit_callbacks
):
    settings.CHATBOT_ENABLED = True
    ClientFactory(phone="+5511987654321", opted_out_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert process(store("message")) == WebhookEvent.State.PROCESSED
    assert not [c for c in enqueued if c[0] == "chatbot.tasks.bot_answer_inbound"]
    conversation = Conversation.objects.get()
    assert conversation.needs_attention
    assert conversation.attention_reason == "Cliente descadastrado escreveu"


def test_the_same_message_via_message_and_message_any_is_recorded_once(
    settings, enqueued, django_capture_on_commit_callbacks
):
    settings.CHATBOT_ENABLED = True
    first = store("message")
    second = store("message", id="evt_01jnkq4h5y00000000000000zz", event="message.any")
    assert first.payload_id == second.payload_id

    with django_capture_on_commit_callbacks(execute=True):
        assert process(first) == WebhookEvent.State.PROCESSED
        assert process(second) == WebhookEvent.State.DUPLICATE

    assert Message.objects.count() == 1
    assert len([c for c in enqueued if c[0] == "chatbot.tasks.bot_answer_inbound"]) == 1


def test_the_unique_waha_id_is_the_backstop_when_two_workers_race(enqueued):
    from conversations.services import message_receive

    kwargs = dict(chat_id=DEBTOR_CHAT, body="oi", waha_id="false_x_1", sent_at=timezone.now())
    _, created_first = message_receive(session_name="default", **kwargs)
    message, created_again = message_receive(session_name="default", **kwargs)
    assert (created_first, created_again) == (True, False)
    assert Message.objects.count() == 1 and message.waha_id == "false_x_1"


def test_processing_an_event_twice_is_harmless(enqueued):
    event = store("message")
    assert process(event) == WebhookEvent.State.PROCESSED
    assert process(event) == WebhookEvent.State.PROCESSED  # already processed: not claimed again
    assert event.attempts == 1
    assert process(event, force=True) == WebhookEvent.State.DUPLICATE
    assert Message.objects.count() == 1


def test_replay_puts_failed_events_back_and_processes_them(enqueued, django_capture_on_commit_callbacks):
    event = store("message")
    WebhookEvent.objects.filter(pk=event.pk).update(state=WebhookEvent.State.FAILED, error="boom")
    enqueued.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_replay() == 1
    assert enqueued == [("whatsapp.tasks.process_webhook_event", event.pk)]
    event.refresh_from_db()
    assert (event.state, event.error) == (WebhookEvent.State.PENDING, "")

    from whatsapp.tasks import process_webhook_event

    assert process_webhook_event(event.pk) == WebhookEvent.State.PROCESSED
    assert Message.objects.count() == 1


def test_a_handler_error_marks_the_event_failed_with_a_masked_error(monkeypatch, enqueued):
    def explode(**kwargs):
        raise RuntimeError("could not store +5511987654321")

    monkeypatch.setattr("conversations.services.message_receive", explode)
    event = store("message")
    assert process(event) == WebhookEvent.State.FAILED
    assert "RuntimeError" in event.error
    assert "987654321" not in event.error


@pytest.mark.parametrize(
    "sender", ["120363000000000000@g.us", "status@broadcast", "120363000000000001@newsletter"]
)
def test_groups_status_and_channels_are_ignored(enqueued, sender):
    event = store("message")
    event.payload["payload"]["from"] = sender
    event.save(update_fields=["payload"])
    assert process(event) == WebhookEvent.State.IGNORED
    assert Message.objects.count() == 0


def test_an_lid_sender_is_resolved_through_waha_and_the_lid_is_stored_on_the_client(enqueued, lid_lookups):
    client = ClientFactory(phone="+5511987654321")
    existing = ConversationFactory(client=client, chat_id=DEBTOR_CHAT)
    lid_lookups["answers"]["123456789012345@lid"] = DEBTOR_CHAT

    assert process(store("message_lid")) == WebhookEvent.State.PROCESSED

    message = Message.objects.get()
    assert message.conversation == existing
    assert lid_lookups["calls"] == [("123456789012345@lid", "default")]
    client.refresh_from_db()
    assert client.lid == "123456789012345@lid"


def test_a_known_lid_does_not_call_waha(enqueued, lid_lookups):
    client = ClientFactory(phone="+5511987654321", lid="123456789012345@lid")
    assert process(store("message_lid")) == WebhookEvent.State.PROCESSED
    assert lid_lookups["calls"] == []
    assert Message.objects.get().conversation.client == client


def test_an_unknown_lid_still_records_the_message_in_a_conversation_of_its_own(enqueued, lid_lookups):
    assert process(store("message_lid")) == WebhookEvent.State.PROCESSED
    conversation = Message.objects.get().conversation
    assert conversation.chat_id == "123456789012345@lid"
    assert conversation.client is None


# --- our own messages (message.any fromMe) ------------------------------------------------------------------


def test_a_reply_typed_on_the_phone_is_an_operator_message_and_switches_to_human_mode(enqueued):
    conversation = ConversationFactory(client=ClientFactory(phone="+5511987654321"), chat_id=DEBTOR_CHAT)
    assert conversation.state == Conversation.State.BOT

    assert process(store("message_any_app")) == WebhookEvent.State.PROCESSED

    message = Message.objects.get()
    assert (message.direction, message.author) == (Message.Direction.OUT, Message.Author.OPERATOR)
    assert message.conversation == conversation
    assert message.body.startswith("Olá, aqui é a Ana")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.HUMAN


def test_a_message_the_app_sent_through_the_api_is_not_recorded_twice(enqueued):
    conversation = ConversationFactory(chat_id=DEBTOR_CHAT)
    MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUT,
        author=Message.Author.CAMPAIGN,
        waha_id=OWN_ID,
    )
    assert process(store("message_any_api")) == WebhookEvent.State.IGNORED
    assert Message.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.BOT


# --- acks ---------------------------------------------------------------------------------------------------


def _outbound(**kwargs) -> Message:
    return MessageFactory(
        direction=Message.Direction.OUT,
        author=Message.Author.CAMPAIGN,
        waha_id=OWN_ID,
        ack="pending",
        **kwargs,
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("message_ack_server", "sent"),
        ("message_ack_device", "delivered"),
        ("message_ack_read", "read"),
        ("message_ack_error", "error"),
    ],
)
def test_an_ack_moves_the_message_and_is_passed_to_the_dispatch_engine(
    enqueued, billing_calls, fixture, expected
):
    message = _outbound()
    assert process(store(fixture)) == WebhookEvent.State.PROCESSED
    message.refresh_from_db()
    assert message.ack == expected
    name, kwargs = billing_calls.calls[0]
    assert name == "dispatch_record_ack"
    assert kwargs["waha_message_id"] == OWN_ID
    assert kwargs["ack"] == {"sent": 1, "delivered": 2, "read": 3, "error": -1}[expected]


def test_acks_out_of_order_never_move_a_message_backward(enqueued, billing_calls):
    message = _outbound()
    for fixture in ("message_ack_read", "message_ack_server", "message_ack_device", "message_ack_error"):
        process(store(fixture))
    message.refresh_from_db()
    assert message.ack == Message.Ack.READ


def test_a_late_server_ack_does_not_hide_an_error_but_delivery_does(enqueued, billing_calls):
    from conversations.services import message_ack_record

    message = _outbound()
    assert message_ack_record(waha_id=OWN_ID, ack=-1)
    assert not message_ack_record(waha_id=OWN_ID, ack=1)
    message.refresh_from_db()
    assert message.ack == Message.Ack.ERROR
    assert message_ack_record(waha_id=OWN_ID, ack=2)
    assert not message_ack_record(waha_id=OWN_ID, ack=-1)


def test_acks_that_arrive_before_the_message_is_recorded_are_caught_up(enqueued, billing_calls):
    from conversations.services import message_record_outbound

    process(store("message_ack_server"))
    process(store("message_ack_device"))
    conversation = ConversationFactory(chat_id=DEBTOR_CHAT)

    message = message_record_outbound(
        conversation=conversation, body="Olá", author=Message.Author.BOT, waha_id=OWN_ID
    )
    assert message.ack == Message.Ack.DELIVERED


# --- session status -----------------------------------------------------------------------------------------


def test_session_working_upserts_the_session_and_resumes_its_campaigns(enqueued, billing_calls):
    assert process(store("session_status_working")) == WebhookEvent.State.PROCESSED
    session = WahaSession.objects.get(name="default")
    assert session.status == WahaSession.Status.WORKING
    assert session.me_id == "5511900000000@c.us"
    assert session.me_push_name == "Cobrança Demo"
    assert session.status_changed_at is not None
    assert billing_calls.calls == [("campaigns_resume_for_session", {"session_name": "default"})]


@pytest.mark.parametrize("fixture", ["session_status_failed", "session_status_scan_qr"])
def test_session_failures_pause_the_sessions_campaigns(enqueued, billing_calls, fixture):
    process(store("session_status_working"))
    billing_calls.calls.clear()
    event = store(fixture)
    # Later than WORKING: the stored statuses carry the same fixed timestamps.
    event.payload["payload"]["statuses"][-1]["timestamp"] += 1000
    event.save(update_fields=["payload"])

    assert process(event) == WebhookEvent.State.PROCESSED

    session = WahaSession.objects.get(name="default")
    assert session.status == event.payload["payload"]["status"]
    name, kwargs = billing_calls.calls[0]
    assert name == "campaigns_pause_for_session"
    assert kwargs["session_name"] == "default"
    assert "default" in kwargs["reason"]


def test_a_repeated_working_status_is_idempotent(enqueued, billing_calls):
    process(store("session_status_working"))
    changed_at = WahaSession.objects.get().status_changed_at
    process(store("session_status_working", id="evt_again"))
    session = WahaSession.objects.get()
    assert session.status == WahaSession.Status.WORKING
    assert session.status_changed_at == changed_at
    assert billing_calls.names() == ["campaigns_resume_for_session", "campaigns_resume_for_session"]


def test_an_older_status_event_does_not_overwrite_a_newer_one(enqueued, billing_calls):
    process(store("session_status_working"))
    billing_calls.calls.clear()
    event = store("session_status_scan_qr")
    event.payload["payload"]["statuses"][-1]["timestamp"] -= 60_000
    event.save(update_fields=["payload"])

    assert process(event) == WebhookEvent.State.IGNORED
    assert WahaSession.objects.get().status == WahaSession.Status.WORKING
    assert billing_calls.calls == []


def test_client_lookup_prefers_the_exact_chat_id_over_a_phone_guess():
    from conversations.selectors import br_phone_variants, client_for_chat

    by_phone = ClientFactory(phone="+5511987654321")
    by_chat = ClientFactory(phone="+5511911112222", chat_id="551187654321@c.us")
    assert client_for_chat(chat_id="551187654321@c.us") == by_chat
    assert client_for_chat(chat_id=DEBTOR_CHAT) == by_phone
    assert br_phone_variants("551187654321") == ["551187654321", "5511987654321"]
    assert br_phone_variants("551133334444") == ["551133334444"]  # landline: no 9th digit
    assert Client.objects.count() == 2
