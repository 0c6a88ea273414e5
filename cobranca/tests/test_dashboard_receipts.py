"""The receipt card on the conversation page (templates/dashboard/partials/receipt_checks.html): the fields
and checks beside the file, and the operator's confirm/reject with the polite reply to the debtor."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from billing.models import Charge, Payment, ReceiptCheck
from billing.tests.factories import ChargeFactory
from chatbot.policy import reply
from cobranca.roles import OPERATORS
from conversations.models import Attachment, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


class FakeWaha:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send_text(self, chat_id, text, *, session=None, message_id=None):
        self.sent.append((chat_id, text))
        return f"true_{chat_id}_3EB0{len(self.sent):016d}"


@pytest.fixture
def waha(monkeypatch) -> FakeWaha:
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    return fake


@pytest.fixture
def operator() -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("ana", password="x")
    user.groups.add(Group.objects.get(name=OPERATORS))
    http = HttpClient()
    http.force_login(user)
    return http


@pytest.fixture
def check() -> ReceiptCheck:
    charge = ChargeFactory(amount=Decimal("189.90"), status=Charge.Status.PAYMENT_CLAIMED)
    conversation = ConversationFactory(client=charge.client)
    message = MessageFactory(conversation=conversation, body="")
    attachment = Attachment.objects.create(
        message=message,
        status=Attachment.Status.STORED,
        kind="image",
        content_type="image/jpeg",
        file="x.jpg",
    )
    return ReceiptCheck.objects.create(
        attachment=attachment,
        charge=charge,
        status=ReceiptCheck.Status.REVIEW,
        amount=Decimal("189.90"),
        paid_at=timezone.now() - dt.timedelta(hours=2),
        e2eid="E18236120202612051732ABCDEFGHJK1",
        recipient_name="Credora Exemplo Ltda",
        recipient_document="00.000.000/0001-91",
        payer_name="Maria Souza",
        bank="Nu Pagamentos",
        confidence={"amount": 0.95, "payer_name": 0.4},
        checks=[
            {
                "code": "recipient",
                "ok": True,
                "message": "Recebedor: CNPJ/CPF do credor (00.000.000/0001-91).",
            },
            {"code": "amount", "ok": True, "message": "Valor R$ 189,90 = saldo da cobrança."},
            {"code": "e2eid", "ok": None, "message": "Identificador do Pix (E2E) não lido."},
        ],
    )


def test_the_conversation_page_shows_the_fields_and_checks_beside_the_file(operator, check):
    page = operator.get(reverse("dashboard:conversation", args=[check.attachment.message.conversation_id]))
    html = page.content.decode()
    card = html.split(f'id="receipt-{check.pk}"', 1)[1].split("</div></div>", 1)[0]
    assert f'src="{reverse("dashboard:attachment", args=[check.attachment.pk])}"' in card
    assert "R$ 189,90" in card and "E18236120202612051732ABCDEFGHJK1" in card and "Nu Pagamentos" in card
    assert 'data-code="recipient" data-ok="true"' in card and 'data-code="e2eid" data-ok="none"' in card
    assert "Valor R$ 189,90 = saldo da cobrança." in card
    assert 'title="confiança' in card  # the payer's name was read with low confidence
    assert f'id="receipt-confirm-{check.pk}"' in card and f'id="receipt-reject-{check.pk}"' in card


def test_confirming_registers_the_payment_and_pays_the_charge(operator, check, waha):
    response = operator.post(reverse("dashboard:receipt-confirm", args=[check.pk]))
    assert response.status_code == 302
    check.refresh_from_db()
    check.charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.CONFIRMED and check.decided_by.username == "ana"
    payment = Payment.objects.get()
    assert (
        payment.source == Payment.Source.RECEIPT and payment.e2eid == check.e2eid and check.payment == payment
    )
    assert check.charge.status == Charge.Status.PAID
    again = operator.post(reverse("dashboard:receipt-confirm", args=[check.pk]), follow=True)
    assert "já foi decidido" in again.content.decode() and Payment.objects.count() == 1


def test_rejecting_reopens_the_charge_and_answers_the_debtor_politely(operator, check, waha):
    response = operator.post(reverse("dashboard:receipt-reject", args=[check.pk]))
    assert response.status_code == 302
    check.refresh_from_db()
    check.charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REJECTED and check.charge.status == Charge.Status.OPEN
    assert waha.sent == [(check.attachment.message.conversation.chat_id, reply("comprovante_nao_confirmado"))]
    assert Message.objects.filter(
        direction=Message.Direction.OUT, body__startswith="Obrigado por enviar"
    ).exists()
    assert not Payment.objects.exists()


def test_a_user_who_may_not_change_charges_cannot_decide(check):
    user = User.objects.create_user("leitor", password="x")
    http = HttpClient()
    http.force_login(user)
    response = http.post(reverse("dashboard:receipt-confirm", args=[check.pk]))
    assert response.status_code in (302, 403)
    check.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REVIEW and not Payment.objects.exists()


def test_after_a_rejection_the_next_receipt_is_read_even_while_an_operator_holds_the_conversation(
    operator, check, waha, django_capture_on_commit_callbacks, monkeypatch
):
    """The rejection asks for the complete receipt and hands the conversation to the operator (human mode):
    the next picture/PDF gets a check of its own (shown to the operator), although the bot stays silent."""
    from conversations import services as conversation_services

    queued: list[int] = []
    monkeypatch.setattr("billing.receipts.services.enqueue_on_commit", lambda task, pk: queued.append(pk))
    operator.post(reverse("dashboard:receipt-reject", args=[check.pk]))
    conversation = check.attachment.message.conversation
    conversation.refresh_from_db()
    assert conversation.state == conversation.State.HUMAN
    message = MessageFactory(conversation=conversation, body="")
    attachment = Attachment.objects.create(
        message=message,
        status=Attachment.Status.STORED,
        kind="pdf",
        content_type="application/pdf",
        file="y.pdf",
    )
    with django_capture_on_commit_callbacks(execute=True):
        conversation_services.attachment_download(attachment_id=attachment.pk)
    again = ReceiptCheck.objects.get(attachment=attachment)
    assert again.status == ReceiptCheck.Status.PENDING and queued == [again.pk]
    conversation.refresh_from_db()
    assert conversation.needs_attention and "Comprovante" in conversation.attention_reason
    assert len(waha.sent) == 1  # only the rejection: the bot does not answer in human mode
    later = MessageFactory(conversation=conversation, body="")
    photo = Attachment.objects.create(
        message=later, status=Attachment.Status.STORED, kind="image", content_type="image/jpeg", file="z.jpg"
    )
    conversation_services.attachment_download(attachment_id=photo.pk)
    assert not ReceiptCheck.objects.filter(attachment=photo).exists()  # one receipt was asked for, once
