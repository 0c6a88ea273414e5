"""The thank-you when a payment arrives: once, within the window, naming the charge, right for each case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import Payment
from billing.payments.apply import PaymentFacts, apply_payment
from billing.tests.factories import ChargeFactory, ClientFactory
from chatbot import payment_thanks
from chatbot.tests.test_bot_flow import FakeWaha
from chatbot.tests.test_replies import defects
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

D = Decimal
TUESDAY_10H = timezone.make_aware(dt.datetime(2026, 12, 8, 10, 0))
SUNDAY_10H = timezone.make_aware(dt.datetime(2026, 12, 13, 10, 0))


@pytest.fixture
def waha(monkeypatch, settings):
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    settings.SEND_WINDOW = "mon-sat 08:00-20:00"
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    return fake


@pytest.fixture
def charge():
    client = ClientFactory(name="Maria Souza")
    ConversationFactory(client=client)
    return ChargeFactory(client=client, amount=D("300.00"), description="Mensalidade de dezembro")


def pay(charge, amount, e2eid, at=TUESDAY_10H - dt.timedelta(hours=1), **kw):
    """Apply a payment as if it was recorded `at` (the thank-you's age limit is measured from then)."""
    outcome = apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(amount=D(amount), paid_at=at, source=Payment.Source.PIX_API, e2eid=e2eid),
        **kw,
    )
    Payment.objects.filter(pk=outcome.payment.pk).update(created_at=at)
    return outcome


def test_a_paid_charge_is_thanked_once_naming_it(waha, charge):
    outcome = pay(charge, "300.00", "E1")
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H) == "sent"
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H) == "already"
    assert payment_thanks.payment_thanks_send_due(now=TUESDAY_10H) == 0
    assert len(waha.sent) == 1
    text = waha.sent[0][1]
    assert "Olá, Maria!" in text and "R$ 300,00" in text and "Mensalidade de dezembro" in text
    assert "quitada" in text and not defects(text)
    message = Message.objects.get(direction=Message.Direction.OUT)
    assert message.author == Message.Author.BOT and message.body == text


def test_an_overpayment_says_it_was_more_than_the_balance_and_that_the_team_will_be_in_touch(waha, charge):
    pay(charge, "100.00", "E12")
    outcome = pay(charge, "1234.56", "E13")  # R$ 200,00 were still owed
    assert outcome.status == "overpaid"
    payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H)
    text = waha.sent[-1][1]
    assert "R$ 1.234,56" in text and "R$ 200,00" in text and "R$ 1.034,56" in text
    assert "a mais" in text and "entrar em contato" in text and not defects(text)


def test_an_overpaid_agreement_also_speaks_of_the_difference(waha, charge):
    services.agreement_create(
        charge=charge,
        installments=1,
        discount_percent=D("10"),
        first_due_date=timezone.localdate() + dt.timedelta(days=5),
    )
    outcome = pay(charge, "280.00", "E14")  # the agreement asked R$ 270,00
    assert outcome.status == "overpaid"
    payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H)
    text = waha.sent[-1][1]
    assert "R$ 280,00" in text and "R$ 270,00" in text and "R$ 10,00" in text
    assert "entrar em contato" in text and not defects(text)


def test_outside_the_window_it_waits_for_the_schedule(waha, charge):
    outcome = pay(charge, "300.00", "E2", at=SUNDAY_10H - dt.timedelta(hours=1))
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=SUNDAY_10H) == "deferred"
    assert payment_thanks.payment_thanks_send_due(now=SUNDAY_10H) == 0
    assert waha.sent == []
    assert payment_thanks.payment_thanks_send_due(now=SUNDAY_10H + dt.timedelta(days=1)) == 1
    assert len(waha.sent) == 1


def test_a_partial_payment_says_what_is_left(waha, charge):
    outcome = pay(charge, "100.00", "E3")
    payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H)
    text = waha.sent[0][1]
    assert "Recebemos R$ 100,00" in text and "R$ 200,00" in text and not defects(text)


def test_installments_name_the_next_one_and_the_last_closes_the_agreement(waha, charge):
    services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate() + dt.timedelta(days=5)
    )
    first = pay(charge, "100.00", "E4")
    payment_thanks.payment_thank_you_send(payment_id=first.payment.pk, now=TUESDAY_10H)
    text = waha.sent[-1][1]
    assert "parcela 1 de 3" in text and "próxima parcela, de R$ 100,00" in text and not defects(text)
    last = pay(charge, "200.00", "E5")  # installments 2 and 3 at once (tester: "R$ 550 da última parcela")
    payment_thanks.payment_thank_you_send(payment_id=last.payment.pk, now=TUESDAY_10H)
    text = waha.sent[-1][1]
    assert "acordo está quitado" in text and not defects(text)
    assert "R$ 200,00 do acordo" in text and "última parcela" not in text


def test_a_duplicate_payment_for_a_paid_charge_is_not_thanked(waha, charge):
    pay(charge, "300.00", "E6")
    pay(charge, "300.00", "E7")  # the debtor paid twice: queued for an operator, not thanked
    assert payment_thanks.payment_thanks_send_due(now=TUESDAY_10H) == 1
    assert len(waha.sent) == 1


def test_a_suppressed_debtor_gets_nothing(waha, charge):
    services.client_opt_out(client=charge.client)
    outcome = pay(charge, "300.00", "E8")
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H).startswith(
        "skipped"
    )
    assert waha.sent == []


def test_a_conversation_with_a_person_is_flagged_not_messaged(waha, charge):
    Conversation.objects.filter(client=charge.client).update(state=Conversation.State.HUMAN)
    outcome = pay(charge, "300.00", "E9")
    payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H)
    conversation = Conversation.objects.get(client=charge.client)
    assert waha.sent == [] and conversation.needs_attention and "Pagamento" in conversation.attention_reason


def test_an_old_payment_is_not_thanked_late(waha, charge):
    outcome = pay(charge, "300.00", "E10")
    later = TUESDAY_10H + dt.timedelta(days=4)
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=later) == "stale"


def test_a_payment_made_long_ago_and_recorded_now_is_not_thanked(waha, charge):
    # An integration backfilling its history through the API, or an old statement imported today.
    outcome = apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("300.00"), paid_at=TUESDAY_10H - dt.timedelta(days=40), source=Payment.Source.OPERATOR
        ),
    )
    Payment.objects.filter(pk=outcome.payment.pk).update(created_at=TUESDAY_10H - dt.timedelta(minutes=5))
    assert payment_thanks.payment_thanks_send_due(now=TUESDAY_10H) == 0
    assert payment_thanks.payment_thank_you_send(payment_id=outcome.payment.pk, now=TUESDAY_10H) == "stale"
    assert waha.sent == []
    week_old = pay(ChargeFactory(client=charge.client, amount=D("50.00")), "50.00", "E14")
    Payment.objects.filter(pk=week_old.payment.pk).update(paid_at=TUESDAY_10H - dt.timedelta(days=6))
    assert payment_thanks.payment_thank_you_send(payment_id=week_old.payment.pk, now=TUESDAY_10H) == "sent"


def test_applying_a_payment_enqueues_the_thank_you(charge, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: queued.append((func, args)))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay(charge, "300.00", "E11")
    assert queued == [("chatbot.tasks.payment_thank_you", (outcome.payment.pk,))]
