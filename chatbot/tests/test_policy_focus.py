"""Issue #12, item 1: the charge in focus. The policy acts on the charge the reminder was about, or the one
the debtor named; with several open charges and no focus it asks which one; a charge under an active
agreement is not offered a new negotiation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.policy import ActionKind, decide
from chatbot.tests.test_policy import NOW, charge, kinds, params, snapshot, then

# The debtor: an older R$ 189,90 charge under an active 3x agreement, and the R$ 1.234,56 charge of
# December the last reminder was about.
AGREED = charge(
    1,
    "189.90",
    dt.date(2025, 10, 5),
    "Plano odontológico",
    status="negotiating",
    agreement_installments=3,
    agreement_installment_amount=Decimal("63.30"),
)
DECEMBER = charge(2, "1234.56", dt.date(2025, 12, 10), "Mensalidade")
FEBRUARY = charge(3, "250.00", dt.date(2026, 2, 10), "Mensalidade")


def turn(intent, text, *, snap, context=None, entities=None, confidence=0.93):
    return decide(
        intent=intent,
        confidence=confidence,
        entities=entities or {},
        text=text,
        context=context or {},
        client_snapshot=snap,
        now=NOW,
    )


def test_the_pix_is_for_the_charge_the_reminder_was_about_not_the_oldest():
    snap = snapshot(AGREED, DECEMBER, focus_charge_id=DECEMBER.id)
    decision = turn("informacoes_pagamento", "me manda o pix", snap=snap)
    assert "54071234.56" in decision.reply
    assert "R$ 1.234,56" in decision.reply


def test_a_month_names_the_charge_and_the_agreed_one_gets_no_new_offer():
    snap = snapshot(AGREED, DECEMBER)
    decision = turn("negociacao", "e a de dezembro, posso pagar dia 15?", snap=snap)
    assert "R$ 189,90" not in decision.reply
    assert "R$ 1.234,56" in decision.reply
    assert decision.context_updates["focus_charge_id"] == DECEMBER.id


def test_a_promise_for_the_month_named_goes_to_that_charge():
    snap = snapshot(AGREED, DECEMBER, FEBRUARY)
    decision = turn(
        "promessa_pagamento",
        "e a de dezembro, posso pagar dia 15?",
        snap=snap,
        entities={"date": dt.date(2026, 3, 15)},
    )
    created = [a for a in decision.actions if a.kind == ActionKind.CREATE_PROMISE]
    assert [a.params["charge_id"] for a in created] == [DECEMBER.id] or (
        decision.context_updates.get("pending") == "confirm"
        and decision.context_updates["pending_data"]["params"]["charge_id"] == DECEMBER.id
    )


def test_with_several_charges_and_no_focus_it_asks_which_one_listing_them():
    snap = snapshot(DECEMBER, FEBRUARY)
    ask = turn("informacoes_pagamento", "me manda o pix", snap=snap)
    assert "000201" not in ask.reply
    assert "R$ 1.234,56" in ask.reply and "R$ 250,00" in ask.reply
    assert "10/12/2025" in ask.reply and "10/02/2026" in ask.reply
    assert ask.context_updates["pending"] == "charge_choice"
    answer = turn("desconhecido", "2", snap=snap, context=then(ask))
    assert "5406250.00" in answer.reply
    assert answer.context_updates["focus_charge_id"] == FEBRUARY.id


def test_the_choice_can_be_named_instead_of_numbered():
    snap = snapshot(DECEMBER, FEBRUARY)
    ask = turn("contestacao", "eu não devo isso", snap=snap)
    assert not ask.actions
    answer = turn("desconhecido", "a de dezembro", snap=snap, context=then(ask))
    assert params(answer, ActionKind.DISPUTE) == {"charge_id": DECEMBER.id}


def test_the_focus_stays_for_the_next_turns():
    snap = snapshot(DECEMBER, FEBRUARY)
    named = turn("informacoes_pagamento", "qual o pix da de fevereiro?", snap=snap)
    assert "5406250.00" in named.reply
    later = turn("confirmacao_pagamento", "já paguei", snap=snap, context=then(named))
    assert params(later, ActionKind.CLAIM_PAYMENT) == {"charge_id": FEBRUARY.id}


def test_a_difficulty_under_an_active_agreement_is_not_offered_the_menu_again():
    snap = snapshot(AGREED)
    decision = turn("dificuldade_financeira", "tô desempregada, não consigo pagar", snap=snap)
    assert "1)" not in decision.reply and "desconto" not in decision.reply
    assert "acordo" in decision.reply and "R$ 63,30" in decision.reply
    assert not decision.actions
    assert decision.context_updates.get("pending") != "plan_choice"


def test_the_pix_under_an_agreement_is_the_next_installment():
    decision = turn("informacoes_pagamento", "me manda o pix", snap=snapshot(AGREED))
    assert "540563.30" in decision.reply and "parcela" in decision.reply


@pytest.mark.parametrize(
    ("intent", "text", "entities"),
    [
        ("confirmacao_pagamento", "já paguei", {}),
        ("contestacao", "não devo isso", {}),
        ("informacoes_pagamento", "manda o pix", {}),
        ("negociacao", "quero negociar", {}),
    ],
)
def test_every_reply_that_acts_names_the_charge(intent, text, entities):
    snap = snapshot(DECEMBER, FEBRUARY, focus_charge_id=FEBRUARY.id)
    decision = turn(intent, text, snap=snap, entities=entities)
    assert "R$ 250,00" in decision.reply and "10/02/2026" in decision.reply, decision.reply
    assert "R$ 1.234,56" not in decision.reply


def test_a_named_charge_wins_over_the_reminders_focus():
    snap = snapshot(DECEMBER, FEBRUARY, focus_charge_id=FEBRUARY.id)
    decision = turn("informacoes_pagamento", "o pix da de dezembro", snap=snap)
    assert "54071234.56" in decision.reply
    assert kinds(decision) == []


def test_asking_to_pay_a_named_charge_on_a_day_is_a_promise_not_a_menu():
    """The issue's debtor: "e a de dezembro, posso pagar dia 15?" read as negociacao got a discount menu."""
    snap = snapshot(AGREED, DECEMBER, focus_charge_id=DECEMBER.id)
    decision = turn(
        "negociacao",
        "e a de dezembro, posso pagar dia 15?",
        snap=snap,
        entities={"date": dt.date(2026, 3, 15)},
    )
    assert "1)" not in decision.reply and "desconto" not in decision.reply
    assert params(decision, ActionKind.CREATE_PROMISE)["charge_id"] == DECEMBER.id
    assert "15/03/2026" in decision.reply and "R$ 1.234,56" in decision.reply


def test_a_negotiation_that_speaks_of_installments_keeps_its_offer_even_with_a_date():
    decision = turn(
        "negociacao",
        "posso parcelar a partir do dia 15?",
        snap=snapshot(DECEMBER),
        entities={"date": NOW.date()},
    )
    assert "1)" in decision.reply and not decision.actions


def test_the_reference_or_the_due_date_names_the_charge():
    snap = snapshot(DECEMBER, FEBRUARY)
    by_reference = turn("informacoes_pagamento", "o pix da CHG-3 por favor", snap=snap)
    assert "5406250.00" in by_reference.reply
    by_due_date = turn(
        "contestacao",
        "a que vence 10/12/2025 eu não devo",
        snap=snap,
        entities={"date": dt.date(2025, 12, 10)},
    )
    assert params(by_due_date, ActionKind.DISPUTE) == {"charge_id": DECEMBER.id}
