"""End to end: the WAHA simulator calls our real webhook over HTTP (signed), tasks run inline.

What is proven here and nowhere else: the signature WAHA computes matches ours byte for byte, the simulator's
payload shapes go through the whole chain (view → WebhookEvent → task → conversations), and acks that race the
sender's own bookkeeping still land.
"""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string

from billing.tests.factories import ClientFactory, DispatchFactory
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory
from whatsapp.models import WebhookEvent
from whatsapp.simulator.testing import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "e2e-hmac-key"
PHONE = "+5511987654321"
CHAT = "5511987654321@c.us"


@pytest.fixture
def wired(live_server, waha_settings, waha_simulator, monkeypatch):
    """Simulator → live_server webhook with HMAC; django-q tasks run inline in the request thread."""
    waha_settings.WAHA_WEBHOOK_HMAC_KEY = KEY
    waha_settings.WAHA_WEBHOOK_MAX_AGE_SECONDS = 900
    # The chatbot is another engineer's module and has its own tests; here it would only add noise.
    waha_settings.CHATBOT_ENABLED = False
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kwargs: import_string(func)(*args, **kwargs)
    )
    waha_simulator.set_webhook(live_server.url + "/webhook/waha", hmac_key=KEY)
    return waha_simulator


@pytest.fixture
def dispatch_acks(monkeypatch):
    """The campaign engine's ack service when it exists; otherwise a recorder standing in for it."""
    try:
        import billing.dispatch.services as module

        return None if hasattr(module, "dispatch_record_ack") else _stub(monkeypatch, module)
    except ImportError:
        import sys
        import types

        module = types.ModuleType("billing.dispatch.services")
        monkeypatch.setitem(sys.modules, "billing.dispatch.services", module)
        return _stub(monkeypatch, module)


def _stub(monkeypatch, module) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []

    def record(*, waha_message_id: str, ack: int) -> bool:
        calls.append((waha_message_id, ack))
        return True

    monkeypatch.setattr(module, "dispatch_record_ack", record, raising=False)
    monkeypatch.setattr(module, "campaigns_pause_for_session", lambda **kw: 0, raising=False)
    monkeypatch.setattr(module, "campaigns_resume_for_session", lambda **kw: 0, raising=False)
    return calls


def test_a_sent_message_reaches_read_through_signed_ack_webhooks(wired, dispatch_acks):
    from conversations.services import message_record_outbound
    from whatsapp.client import get_client

    client = ClientFactory(phone=PHONE, chat_id=CHAT)
    conversation = ConversationFactory(client=client, chat_id=CHAT)
    dispatch = DispatchFactory(charge__client=client, status="sending")

    waha_id = get_client().send_text(CHAT, "Olá, sua fatura vence amanhã.")
    # What the campaign engine does after sendText returns; acks may already be arriving meanwhile.
    type(dispatch).objects.filter(pk=dispatch.pk).update(waha_message_id=waha_id, status="sent")
    if dispatch_acks is None:  # the real engine catches up its dispatches' early acks itself
        from billing.dispatch.services import dispatches_catch_up_acks

        dispatches_catch_up_acks(waha_message_ids=[waha_id])
    message = message_record_outbound(
        conversation=conversation,
        body="Olá, sua fatura vence amanhã.",
        author="campaign",
        waha_id=waha_id,
        dispatch=dispatch,
    )

    wait_for(
        lambda: Message.objects.get(pk=message.pk).ack == Message.Ack.READ, timeout=10, message="ack read"
    )
    acks = WebhookEvent.objects.filter(event="message.ack", payload_id=waha_id)
    assert acks.count() >= 3
    assert not acks.filter(state=WebhookEvent.State.FAILED).exists()
    if dispatch_acks is None:  # the real campaign engine is installed
        wait_for(lambda: type(dispatch).objects.get(pk=dispatch.pk).status == "read", timeout=10)
    else:
        wait_for(lambda: (waha_id, 3) in dispatch_acks, timeout=10, message="dispatch ack 3")


def test_an_inbound_message_lands_in_the_debtors_conversation(wired, dispatch_acks):
    client = ClientFactory(phone=PHONE)
    conversation = ConversationFactory(client=client, chat_id=CHAT)

    wired.inbound(CHAT, "Já paguei, segue o comprovante")

    message = wait_for(
        lambda: Message.objects.filter(direction="in").first(), timeout=10, message="inbound message stored"
    )
    assert message.conversation == conversation
    assert message.body == "Já paguei, segue o comprovante"
    # WAHA sends it as `message` and as `message.any`: one Message, two events, one of them a duplicate.
    wait_for(lambda: WebhookEvent.objects.filter(payload_id=message.waha_id).count() >= 1, timeout=5)
    assert Message.objects.filter(waha_id=message.waha_id).count() == 1


def test_an_lid_sender_is_resolved_with_waha_and_linked_to_the_client(wired, dispatch_acks):
    client = ClientFactory(phone=PHONE)

    wired.inbound(CHAT, "Quero negociar", lid=True)

    message = wait_for(lambda: Message.objects.filter(direction="in").first(), timeout=10)
    assert message.conversation.client == client
    client.refresh_from_db()
    assert client.lid.endswith("@lid")


def test_a_reply_typed_on_the_phone_puts_the_conversation_in_human_mode(wired, dispatch_acks):
    conversation = ConversationFactory(client=ClientFactory(phone=PHONE), chat_id=CHAT)

    wired.reply_from_phone(CHAT, "Oi, aqui é a Ana do financeiro")

    wait_for(
        lambda: Conversation.objects.get(pk=conversation.pk).state == Conversation.State.HUMAN,
        timeout=10,
        message="human mode",
    )
    message = Message.objects.get(conversation=conversation)
    assert (message.author, message.direction) == ("operator", "out")


def test_a_debtors_pdf_is_downloaded_from_waha_and_kept(wired, dispatch_acks, settings, tmp_path):
    from conversations.models import Attachment

    settings.MEDIA_ROOT = tmp_path
    client = ClientFactory(phone=PHONE)
    ConversationFactory(client=client, chat_id=CHAT)
    pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"

    wired.inbound(CHAT, "", media=pdf, mimetype="application/pdf", filename="comprovante.pdf")

    attachment = wait_for(
        lambda: Attachment.objects.filter(status=Attachment.Status.STORED).first(),
        timeout=10,
        message="attachment stored",
    )
    assert attachment.kind == "pdf" and attachment.message.conversation.client == client
    with attachment.file.open("rb") as fh:
        assert fh.read() == pdf
