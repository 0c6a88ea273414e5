"""What is still owed, everywhere an operator reads a charge (#15): after a partial payment or paid
installments the debtor page, the Devedores list, the conversation's "Cliente" panel, the charge rows and
the quick-action selects show the balance (under an active agreement, its open installments' balances)."""

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

from billing import services as billing_services
from billing.models import Charge
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.owed import with_owed
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.roles import OPERATORS
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def op_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    http = HttpClient()
    http.force_login(user)
    return http


def _pay(charge: Charge, amount: str, ref: str) -> None:
    facts = PaymentFacts(amount=Decimal(amount), paid_at=timezone.now(), source="operator", reference=ref)
    apply_payment(charge_id=charge.pk, facts=facts)


@pytest.fixture
def world():
    """A debtor: a charge of R$ 675,00 half paid, one of R$ 300,00 in 3 installments, the first paid."""
    debtor = ClientFactory(name="Joana Pereira", phone="+5511987650000", document="52998224725")
    partial = ChargeFactory(client=debtor, amount=Decimal("675.00"), description="Mensalidade maio")
    _pay(partial, "337.50", "p1")
    negotiated = ChargeFactory(client=debtor, amount=Decimal("300.00"), description="Mensalidade junho")
    billing_services.agreement_create(charge=negotiated, installments=3, first_due_date=timezone.localdate())
    _pay(negotiated, "100.00", "p2")
    conversation = ConversationFactory(client=debtor, chat_id="5511987650000@c.us")
    return {"debtor": debtor, "partial": partial, "negotiated": negotiated, "conversation": conversation}


def test_owed_is_the_balance_or_the_open_installments(world):
    owed = {c.pk: c.owed for c in with_owed(Charge.objects.all())}
    assert owed[world["partial"].pk] == Decimal("337.50")
    assert owed[world["negotiated"].pk] == Decimal("200.00")


def test_the_debtor_page_and_the_list_show_what_is_still_owed(op_client, world):
    debtor = world["debtor"]
    page = op_client.get(reverse("dashboard:debtor", args=[debtor.pk])).content.decode()
    assert "R$ 537,50" in page  # 337,50 + 200,00
    assert "R$ 975,00" not in page
    assert "pago R$ 337,50 de R$ 675,00" in page
    assert "pago R$ 100,00 de R$ 300,00" in page
    listing = op_client.get(reverse("dashboard:debtors")).content.decode()
    assert "R$ 537,50" in listing and "R$ 975,00" not in listing


def test_the_conversation_panel_and_the_selects_show_what_is_still_owed(op_client, world):
    page = op_client.get(reverse("dashboard:conversation", args=[world["conversation"].pk])).content.decode()
    assert "R$ 537,50" in page and "R$ 975,00" not in page
    assert "Mensalidade maio · em aberto R$ 337,50 (pago R$ 337,50 de R$ 675,00)" in page
    assert "Mensalidade junho · em aberto R$ 200,00 (pago R$ 100,00 de R$ 300,00)" in page
    assert "Mensalidade maio · R$ 675,00" not in page


def test_a_charge_without_payments_owes_its_amount(op_client):
    debtor = ClientFactory(name="Caio Lima")
    ChargeFactory(client=debtor, amount=Decimal("80.00"), due_date=dt.date(2026, 1, 5))
    listing = op_client.get(reverse("dashboard:debtors")).content.decode()
    assert "R$ 80,00" in listing
