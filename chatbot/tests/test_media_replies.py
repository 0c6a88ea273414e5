"""The bot's answer to a file the debtor sent (chatbot/media_replies.py): audio asks for text, a picture or
PDF after "já paguei" is the receipt, any file is flagged for a person. The file's kind is the stored one."""

from __future__ import annotations

import pytest

from billing.tests.factories import ChargeFactory
from chatbot import services
from chatbot.policy import reply
from chatbot.tests.test_bot_flow import FAKE_INTENTS, FakeWaha, say
from conversations.models import Attachment, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db
AUDIO_REPLY = reply("audio_recebido")
FILE_REPLY = reply("arquivo_recebido")
RECEIPT_REPLY = reply("comprovante_recebido")


@pytest.fixture
def classified(monkeypatch):
    seen: list[str] = []

    def classify(text: str) -> tuple[str, float]:
        seen.append(text)
        lowered = text.lower()
        return next(((intent, 0.93) for key, intent in FAKE_INTENTS if key in lowered), ("desconhecido", 0.3))

    monkeypatch.setattr(services, "classify", classify)
    return seen


@pytest.fixture
def waha(monkeypatch, settings) -> FakeWaha:
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    monkeypatch.setattr(services, "typing_sleep", lambda seconds: None)
    settings.CREDITOR_NAME = "Credora Exemplo Ltda"
    settings.CHATBOT_ENABLED = True
    return fake


@pytest.fixture
def conversation():
    return ConversationFactory(client=ChargeFactory().client)


def send_file(conversation, kind: str, *, declared: str = "", caption: str = "", status="stored") -> Message:
    message = MessageFactory(conversation=conversation, body=caption, waha_id=f"false_chat_F{kind}{caption}")
    Attachment.objects.create(
        message=message,
        url="http://127.0.0.1:3000/api/files/default/x",
        declared_mimetype=declared,
        status=status,
        kind=kind if status == "stored" else "",
    )
    services.bot_handle_inbound(message_id=message.pk)
    message.refresh_from_db()
    return message


def test_an_audio_gets_a_polite_request_to_write_and_a_flag(classified, waha, conversation):
    send_file(conversation, "audio")
    assert waha.sent[-1][1].endswith(AUDIO_REPLY)
    assert "ainda não consigo ouvir áudios, pode escrever?" in waha.sent[-1][1]
    conversation.refresh_from_db()
    assert conversation.needs_attention and conversation.attention_reason == "Áudio recebido: ouvir"
    assert classified == []  # nothing to classify


def test_a_picture_after_ja_paguei_is_acknowledged_as_the_receipt(classified, waha, conversation):
    say(conversation, "já paguei")
    assert "comprovante" in waha.sent[-1][1]
    send_file(conversation, "image")
    assert waha.sent[-1][1] == RECEIPT_REPLY
    conversation.refresh_from_db()
    assert conversation.attention_reason == "Comprovante recebido: conferir"
    assert conversation.context.get("pending") is None  # the receipt question is answered


def test_a_pdf_nobody_asked_for_is_acknowledged_and_flagged(classified, waha, conversation):
    send_file(conversation, "pdf")
    assert FILE_REPLY in waha.sent[-1][1]
    assert "comprovante" not in waha.sent[-1][1].lower()
    conversation.refresh_from_db()
    assert conversation.attention_reason == "Arquivo recebido: conferir"


def test_a_file_that_could_not_be_kept_is_answered_by_its_announced_kind(classified, waha, conversation):
    send_file(conversation, "audio", declared="audio/ogg; codecs=opus", status="failed")
    assert AUDIO_REPLY in waha.sent[-1][1]


def test_a_file_with_a_caption_is_answered_by_the_caption_and_flagged(classified, waha, conversation):
    send_file(conversation, "image", caption="oi")
    assert "Como posso ajudar" in waha.sent[-1][1]
    assert classified == ["oi"]
    conversation.refresh_from_db()
    assert conversation.attention_reason == "Arquivo recebido com texto: conferir"


def test_an_opted_out_debtor_gets_no_answer_to_a_file(classified, waha, conversation):
    from django.utils import timezone

    conversation.client.opted_out_at = timezone.now()
    conversation.client.save(update_fields=["opted_out_at"])
    send_file(conversation, "audio")
    assert waha.sent == []


def test_a_receipt_sent_with_a_caption_after_ja_paguei_is_read(classified, waha, conversation):
    """Tester finding: the usual way ("já paguei", then the picture captioned "segue o comprovante") was
    answered "se ainda não enviou o comprovante, pode mandar por aqui" and the file was never read."""
    from billing.models import ReceiptCheck

    say(conversation, "já paguei")
    message = send_file(conversation, "image", caption="já paguei, segue o comprovante")
    assert waha.sent[-1][1] == RECEIPT_REPLY
    assert ReceiptCheck.objects.filter(attachment__message=message).exists()
    conversation.refresh_from_db()
    assert conversation.attention_reason == "Comprovante recebido: conferir"


def test_a_picture_captioned_with_something_else_is_not_taken_as_a_receipt(classified, waha, conversation):
    from billing.models import ReceiptCheck

    message = send_file(conversation, "image", caption="oi")
    assert not ReceiptCheck.objects.filter(attachment__message=message).exists()
