"""{amount} says what is owed now, the same money the {pix} code carries (#15): the charge's balance after a
partial payment, the next open installment's balance under an agreement; the full amount only for a charge
that is no longer payable. Campaigns, the régua, previews and the inbox's canned replies alike."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services as billing_services
from billing.models import Charge
from billing.payments.apply import PaymentFacts, apply_payment
from billing.templating import template_preview, template_render
from billing.tests.factories import ChargeFactory, ClientFactory
from conversations import quick_actions
from conversations.models import CannedReply
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pix_settings(settings):
    settings.PIX_PROVIDER = "static"
    settings.PIX_KEY = "financeiro@clinica.com.br"
    settings.CREDITOR_NAME = "Clinica Sorriso"
    settings.CREDITOR_CITY = "Sao Paulo"


def _code_amount(text: str) -> str:
    """The amount a static BR Code in `text` carries (field 54, after the currency 5303986)."""
    match = re.search(r"530398654(\d{2})", text)
    assert match, text
    start = match.end()
    return text[start : start + int(match.group(1))]


@pytest.fixture
def under_agreement():
    client = ClientFactory(name="Maria Souza", document="52998224725")
    charge = ChargeFactory(client=client, amount=Decimal("300.00"), description="Plano")
    billing_services.agreement_create(charge=charge, installments=3, first_due_date=timezone.localdate())
    return charge


@pytest.fixture
def half_paid():
    charge = ChargeFactory(client=ClientFactory(name="João"), amount=Decimal("675.00"))
    facts = PaymentFacts(amount=Decimal("337.50"), paid_at=timezone.now(), source="operator", reference="x")
    apply_payment(charge_id=charge.pk, facts=facts)
    charge.refresh_from_db()
    return charge


def test_a_canned_reply_under_an_agreement_states_the_installment_the_pix_charges(
    pix_settings, under_agreement
):
    conversation = ConversationFactory(client=under_agreement.client)
    canned = CannedReply.objects.create(title="PIX", body="Valor: {amount}. PIX: {pix}")
    text = quick_actions.canned_reply_render(canned=canned, conversation=conversation, charge=under_agreement)
    assert text.startswith("Valor: R$ 100,00. PIX: ")
    assert _code_amount(text) == "100.00"


def test_a_campaign_body_states_the_balance_the_pix_charges(pix_settings, half_paid):
    text = template_render(body="Falta {valor}. PIX: {pix}", charge=half_paid)
    assert text.startswith("Falta R$ 337,50. PIX: ") and _code_amount(text) == "337.50"
    preview = template_preview(body="Falta {amount}. PIX: {pix}", charge=half_paid)
    assert preview.text.startswith("Falta R$ 337,50. PIX: ") and _code_amount(preview.text) == "337.50"


def test_a_charge_no_longer_payable_keeps_its_amount(half_paid):
    Charge.objects.filter(pk=half_paid.pk).update(status=Charge.Status.CANCELLED)
    half_paid.refresh_from_db()
    assert template_render(body="{amount}", charge=half_paid) == "R$ 675,00"


def test_a_context_that_gives_amount_wins(half_paid):
    assert template_render(body="{amount}", charge=half_paid, context={"valor": "R$ 1,00"}) == "R$ 1,00"
