"""Where a message needs the PIX: the bot's reply, the template variable {pix} (campaigns, régua, single
sends), the operator's quick action. With PIX_PROVIDER=api_pix each carries the charge's cobv code; when the
PSP cannot give one, the static code goes and the operator is told."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services as billing_services
from billing.models import PixCobv
from billing.payments import pix_charges
from billing.payments.pix_charges import psp_codes_in_text, static_code
from billing.templating import template_preview, template_render
from billing.tests.factories import ChargeFactory, ClientFactory
from billing.tests.pix_fakes import FakePsp, transient
from chatbot import services as bot
from conversations.models import Conversation

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def psp(monkeypatch, settings):
    fake = FakePsp()
    settings.PIX_PROVIDER = "api_pix"
    monkeypatch.setattr(pix_charges, "get_pix_client", lambda: fake)
    return fake


@pytest.fixture
def charge():
    client = ClientFactory(document="529.982.247-25", name="João Souza", phone="+5511987650001")
    return ChargeFactory(client=client, amount=D("150.50"), description="Mensalidade")


def test_pix_is_a_template_variable_with_the_static_code_by_default(charge, settings):
    settings.PIX_PROVIDER = "static"
    text = template_render(body="Pague {amount}: {pix}", charge=charge)
    assert text == f"Pague R$ 150,50: {static_code(charge, D('150.50'))}"


def test_a_sent_template_carries_the_cobv_code(psp, charge):
    text = template_render(body="Seu PIX: {pix}", charge=charge)
    cobv = PixCobv.objects.get()
    assert text == f"Seu PIX: {cobv.pix_copia_e_cola}" and ("put_cobv", cobv.txid) in psp.calls


def test_a_preview_never_calls_the_psp(psp, charge):
    preview = template_preview(body="Seu PIX: {pix}", charge=charge)
    assert "br.gov.bcb.pix" in preview.text and not psp.calls and not PixCobv.objects.exists()
    sample = template_preview(body="{pix}")
    assert sample.text.startswith("000201")


def test_a_template_under_an_agreement_asks_for_the_next_installment(psp, charge):
    billing_services.agreement_create(charge=charge, installments=2, first_due_date=timezone.localdate())
    template_render(body="{pix}", charge=charge)
    cobv = PixCobv.objects.get()
    assert cobv.installment.number == 1 and psp.cobvs[cobv.txid]["valor"]["original"] == "75.25"


def test_a_template_falls_back_to_the_static_code_when_the_psp_is_down(psp, charge):
    psp.failures.append(transient())
    assert template_render(body="{pix}", charge=charge) == static_code(charge, D("150.50"))


def test_only_static_codes_of_the_debtors_open_charges_are_swapped(psp, charge):
    other = ChargeFactory(
        client=charge.client, amount=D("20.00"), due_date=charge.due_date + dt.timedelta(days=30)
    )
    total = static_code(charge, D("170.50"))  # "pagar todas": no single cobv covers it
    text = f"A: {static_code(charge, D('150.50'))}\nB: {total}"
    swapped, reasons = psp_codes_in_text(text=text, client=charge.client)
    cobv = PixCobv.objects.get()
    assert swapped == f"A: {cobv.pix_copia_e_cola}\nB: {total}" and not reasons
    assert cobv.charge == charge and not other.pix_cobvs.exists()


@pytest.fixture
def pix_intent(monkeypatch):
    monkeypatch.setattr(bot, "classify", lambda text: ("informacoes_pagamento", 0.99))


def test_the_bots_pix_reply_carries_the_cobv_code(psp, charge, pix_intent):
    result = bot.bot_process_text(phone=charge.client.phone, text="me manda o pix")
    cobv = PixCobv.objects.get()
    assert cobv.pix_copia_e_cola in result["response"] and "br.gov.bcb.pix" not in result["response"]
    conversation = Conversation.objects.get()
    assert conversation.messages.filter(body=result["response"]).exists()
    assert not conversation.needs_attention


def test_the_bot_sends_the_static_code_and_flags_when_the_debtor_has_no_document(psp, charge, pix_intent):
    charge.client.document = ""
    charge.client.save()
    result = bot.bot_process_text(phone=charge.client.phone, text="me manda o pix")
    assert static_code(charge, D("150.50")) in result["response"] and not psp.calls
    conversation = Conversation.objects.get()
    assert conversation.needs_attention and "CPF/CNPJ" in conversation.attention_reason


def test_the_bot_asks_for_the_balance_after_a_partial_payment(psp, charge, pix_intent, settings):
    from billing.models import Payment
    from billing.payments.apply import PaymentFacts, apply_payment

    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(amount=D("50.50"), paid_at=timezone.now(), source=Payment.Source.OPERATOR),
    )
    result = bot.bot_process_text(phone=charge.client.phone, text="me manda o pix")
    cobv = PixCobv.objects.get()
    assert cobv.amount == D("100.00") and "R$ 100,00" in result["response"]
    assert cobv.pix_copia_e_cola in result["response"]


def test_under_an_agreement_the_bots_pix_pays_the_next_open_installment(psp, charge, pix_intent):
    billing_services.agreement_create(charge=charge, installments=2, first_due_date=timezone.localdate())
    result = bot.bot_process_text(phone=charge.client.phone, text="me manda o pix")
    cobv = PixCobv.objects.get()
    assert cobv.installment.number == 1 and cobv.amount == D("75.25")
    assert cobv.pix_copia_e_cola in result["response"] and "R$ 75,25" in result["response"]
