"""Issue #12, item 1 inside Django: the charge in focus comes from the last reminder (its Dispatch's charge),
from the reminder the debtor quoted (WAHA's replyTo) and from what the conversation talked about last."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Agreement, Charge
from billing.tests.factories import ChargeFactory, ClientFactory, DispatchFactory
from chatbot import services
from chatbot.tests import test_bot_flow as flow
from chatbot.tests.test_bot_flow import bot_replies, say
from conversations import services as conversations
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory
from whatsapp.services import _quoted_id

pytestmark = pytest.mark.django_db
classified, waha = flow.classified, flow.waha  # the bot-flow fixtures: fake classifier, fake WAHA


@pytest.fixture
def debtor():
    """The issue's debtor: an older R$ 189,90 charge under an active 3x agreement, a R$ 1.234,56 one of
    December and a R$ 250,00 one of February."""
    client = ClientFactory(name="Joana Lima")
    agreed = ChargeFactory(
        client=client,
        amount=Decimal("189.90"),
        due_date=dt.date(2025, 10, 5),
        description="Plano odontológico",
        status=Charge.Status.NEGOTIATING,
    )
    Agreement.objects.create(
        charge=agreed,
        installments=3,
        installment_amount=Decimal("63.30"),
        total_amount=Decimal("189.90"),
        first_due_date=dt.date(2025, 11, 5),
    )
    december = ChargeFactory(
        client=client, amount=Decimal("1234.56"), due_date=dt.date(2025, 12, 10), description="Mensalidade"
    )
    february = ChargeFactory(
        client=client, amount=Decimal("250.00"), due_date=dt.date(2026, 2, 10), description="Mensalidade"
    )
    conversation = ConversationFactory(client=client)
    return conversation, agreed, december, february


def reminder(conversation: Conversation, charge: Charge, waha_id: str, *, minutes_ago: int) -> Message:
    dispatch = DispatchFactory(charge=charge)
    return conversations.message_record_outbound(
        conversation=conversation,
        body="Lembrete de pagamento",
        author=Message.Author.CAMPAIGN,
        waha_id=waha_id,
        dispatch=dispatch,
        sent_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


def test_the_pix_is_for_the_charge_of_the_last_reminder(classified, waha, debtor):
    conversation, _agreed, december, february = debtor
    reminder(conversation, february, "true_x@c.us_OLDER", minutes_ago=60)
    reminder(conversation, december, "true_x@c.us_NEWER", minutes_ago=5)
    say(conversation, "me manda o pix")
    reply = bot_replies(conversation)[-1]
    assert "54071234.56" in reply and "R$ 1.234,56" in reply


def test_a_quoted_reminder_puts_its_charge_in_focus(classified, waha, debtor):
    conversation, _agreed, december, february = debtor
    reminder(conversation, february, f"true_{conversation.chat_id}_3EB0FEB", minutes_ago=60)
    reminder(conversation, december, f"true_{conversation.chat_id}_3EB0DEC", minutes_ago=5)
    message, created = conversations.message_receive(
        chat_id=conversation.chat_id,
        body="me manda o pix",
        waha_id="false_quoted_1",
        sent_at=timezone.now(),
        session_name="default",
        reply_to="3EB0FEB",
    )
    assert created
    services.bot_handle_inbound(message_id=message.pk)
    reply = bot_replies(conversation)[-1]
    assert "5406250.00" in reply and "R$ 250,00" in reply
    conversation.refresh_from_db()
    assert conversation.context["focus_charge_id"] == february.pk


def test_without_a_reminder_several_charges_are_listed_and_the_answer_picks_one(classified, waha, debtor):
    conversation, _agreed, _december, _february = debtor
    say(conversation, "me manda o pix")
    ask = bot_replies(conversation)[-1]
    assert "000201" not in ask and "R$ 1.234,56" in ask and "R$ 250,00" in ask
    say(conversation, "a de dezembro")
    assert "54071234.56" in bot_replies(conversation)[-1]


def test_a_named_month_is_not_answered_with_the_agreed_charges_menu(classified, waha, debtor):
    conversation, _agreed, _december, _february = debtor
    say(conversation, "e a de dezembro, dá pra parcelar?")
    reply = bot_replies(conversation)[-1]
    assert "R$ 189,90" not in reply and "R$ 1.234,56" in reply


def test_a_difficulty_with_only_an_agreed_charge_is_not_offered_the_menu(classified, waha):
    client = ClientFactory(name="Ana Dias")
    agreed = ChargeFactory(client=client, amount=Decimal("189.90"), status=Charge.Status.NEGOTIATING)
    Agreement.objects.create(
        charge=agreed,
        installments=3,
        installment_amount=Decimal("63.30"),
        total_amount=Decimal("189.90"),
        first_due_date=timezone.localdate(),
    )
    conversation = ConversationFactory(client=client)
    say(conversation, "quero parcelar, tô desempregada")
    reply = bot_replies(conversation)[-1]
    assert "acordo" in reply and "R$ 63,30" in reply and "1)" not in reply


def test_the_webhooks_reply_to_id_is_read():
    assert _quoted_id({"replyTo": {"id": "AAAA", "participant": "1@c.us"}}) == "AAAA"
    assert _quoted_id({"replyTo": None}) == ""
    assert _quoted_id({"replyTo": {"id": 5}}) == ""
    assert _quoted_id({}) == ""


# --- issue #12, item 2: confirm before committing, through the real turn -----------------------------------


@pytest.fixture
def single(waha):
    client = ClientFactory(name="Maria Souza")
    charge = ChargeFactory(client=client, amount=Decimal("300.00"), due_date=dt.date(2026, 1, 10))
    return ConversationFactory(client=client), charge


def test_an_agreement_waits_for_sim_and_the_proposal_expires_as_configured(
    classified, waha, single, settings
):
    conversation, _charge = single
    settings.CHATBOT_CONFIRM_TTL_MINUTES = 5
    say(conversation, "dá pra parcelar em 3x?")
    assert not Agreement.objects.exists() and "Responda SIM" in waha.sent[-1][1]
    conversation.refresh_from_db()
    assert conversation.context["pending"] == "confirm"
    stale = (timezone.now() - dt.timedelta(minutes=6)).isoformat()
    Conversation.objects.filter(pk=conversation.pk).update(
        context={**conversation.context, "pending_at": stale}
    )
    say(conversation, "sim")
    assert not Agreement.objects.exists() and "expirou" in waha.sent[-1][1]
    say(conversation, "dá pra parcelar em 3x?")
    say(conversation, "sim")
    assert Agreement.objects.get().installments == 3
    assert "Acordo registrado" in waha.sent[-1][1]


def test_an_unsure_opt_out_is_asked_and_a_greeting_is_never_one(waha, single, monkeypatch):
    conversation, _charge = single
    monkeypatch.setattr(services, "classify", lambda text: ("opt_out", 0.6 if "chega" in text else 0.99))
    say(conversation, "bom dia, tudo bem?")
    conversation.client.refresh_from_db()
    assert conversation.client.opted_out_at is None
    say(conversation, "chega disso")
    conversation.client.refresh_from_db()
    assert conversation.client.opted_out_at is None and "Responda SIM" in waha.sent[-1][1]
    say(conversation, "sim")
    conversation.client.refresh_from_db()
    assert conversation.client.opted_out_at is not None


def test_the_issues_debtor_with_the_shipped_model(waha, debtor):
    """Issue #12's first bullet, end to end with the real classifier and entity extractor."""
    conversation, agreed, december, _february = debtor
    reminder(conversation, december, "true_x@c.us_DEC", minutes_ago=10)
    say(conversation, "e a de dezembro, posso pagar dia 15?")
    promise = december.promises.get()
    assert not agreed.promises.exists()
    assert "R$ 189,90" not in waha.sent[-1][1] and "desconto" not in waha.sent[-1][1]
    assert promise.amount is None
    say(conversation, "me manda o pix")
    assert "54071234.56" in waha.sent[-1][1]


def test_a_webhook_quoting_a_reminder_focuses_its_charge(settings, monkeypatch):
    """WAHA's `replyTo.id` travels from the stored webhook event to the conversation's focus."""
    from whatsapp.models import WebhookEvent
    from whatsapp.services import webhook_event_process
    from whatsapp.tests.test_webhook_intake import load_fixture
    from whatsapp.webhooks import envelope_event_id, webhook_store

    settings.CHATBOT_ENABLED = False  # only the intake: the bot's turn is covered above
    client = ClientFactory(phone="+5511987654321")
    first = ChargeFactory(client=client, amount=Decimal("100.00"))
    second = ChargeFactory(client=client, amount=Decimal("200.00"))
    conversation = ConversationFactory(client=client, chat_id="5511987654321@c.us")
    reminder(conversation, first, "true_5511987654321@c.us_3EB0AAAA", minutes_ago=60)
    reminder(conversation, second, "true_5511987654321@c.us_3EB0BBBB", minutes_ago=5)
    envelope = load_fixture("message")
    envelope["payload"]["replyTo"] = {
        "id": "3EB0AAAA",
        "participant": "5511900000000@c.us",
        "body": "Lembrete",
    }
    stored = webhook_store(envelope=envelope, event_id=envelope_event_id(envelope, body=b""))
    assert webhook_event_process(event_id=stored.event_pk) == WebhookEvent.State.PROCESSED
    conversation.refresh_from_db()
    assert conversation.context["focus_charge_id"] == first.pk


def test_quoting_a_message_that_is_no_reminder_changes_nothing(debtor):
    conversation, *_ = debtor
    conversations.message_record_outbound(
        conversation=conversation, body="resposta do bot", author=Message.Author.BOT, waha_id="true_c_BOT1"
    )
    assert (
        conversations.conversation_focus_quoted(
            conversation=conversation, quoted_id="BOT1", at=timezone.now()
        )
        is None
    )
    assert (
        conversations.conversation_focus_quoted(conversation=conversation, quoted_id="", at=timezone.now())
        is None
    )
    conversation.refresh_from_db()
    assert "focus_charge_id" not in conversation.context


def test_a_charge_being_checked_under_an_agreement_keeps_the_installments_pix(debtor):
    """A charge under an active agreement whose payment is being checked (the operator or a receipt moved it
    to payment_claimed) still asks the next installment in its PIX, never the whole balance."""
    from chatbot.selectors import bot_client_snapshot

    conversation, agreed, _december, _february = debtor
    Charge.objects.filter(pk=agreed.pk).update(status=Charge.Status.PAYMENT_CLAIMED)
    snapshot = bot_client_snapshot(client=conversation.client, with_limits=False)
    claimed = next(c for c in snapshot.charges if c.id == agreed.pk)
    assert claimed.under_agreement
    assert claimed.amount_due_now == Decimal("63.30")
