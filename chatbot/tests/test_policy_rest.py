"""What the tester found playing debtors: the half that survives the charge choice, the rest of a part claim
(promised only when the message speaks of the rest; its amount is what the claimed part leaves), "já paguei o
resto" as a claim of the whole balance, the cancelled rest-promise, a claimed charge that is still being
checked, and a bare "sim" to the plan options."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.policy import ActionKind
from chatbot.policy.common import CLAIMED_PART
from chatbot.tests.test_policy import NOW, TODAY, charge, kinds, params, snapshot, then, turn

IN_5_DAYS = TODAY + dt.timedelta(days=5)


@pytest.mark.parametrize("intent", ["saudacao", "agradecimento", "desconhecido"])
def test_a_bare_yes_to_the_plan_options_asks_for_the_option_number_again(intent):
    offer = turn("negociacao", "quero negociar")
    yes = turn(intent, "sim", context=then(offer))
    assert not yes.actions
    assert "Olá" not in yes.reply and "Em que posso ajudar" not in yes.reply
    assert "número" in yes.reply and "1 a 3" in yes.reply
    assert then(yes, then(offer))["pending"] == "plan_choice"
    pick = turn("desconhecido", "2", context=then(yes, then(offer)))
    assert pick.context_updates["pending"] == "confirm"


def test_no_to_the_rest_promise_says_the_promise_was_not_recorded_and_the_payment_is_being_checked():
    text = "paguei 120, o resto dia 20"
    proposal = turn("confirmacao_pagamento", text, entities={"amount": "120.00", "date": IN_5_DAYS})
    assert "Anotei" in proposal.reply and proposal.context_updates["pending"] == "confirm"
    cancelled = turn("desconhecido", "não", context=then(proposal))
    assert not cancelled.actions
    assert "não registrei nada" not in cancelled.reply
    assert "promessa" in cancelled.reply and "restante" in cancelled.reply
    assert "conferência" in cancelled.reply
    assert cancelled.context_updates["pending"] == "receipt"


def test_half_paid_survives_the_question_which_charge():
    snap = snapshot(charge(1, "300.00"), charge(2, "200.00", due=dt.date(2026, 3, 1), description="Material"))
    asked = turn("confirmacao_pagamento", "paguei metade ontem", snap=snap)
    assert asked.context_updates["pending"] == "charge_choice" and not asked.actions
    chosen = turn("desconhecido", "2", snap=snap, context=then(asked))
    assert kinds(chosen) == [ActionKind.FLAG]
    assert "pagamento de R$ 100,00" in chosen.reply and "suspendi" not in chosen.reply
    assert chosen.context_updates["pending"] == "receipt"


def test_half_promised_survives_the_question_which_charge():
    snap = snapshot(charge(1, "300.00"), charge(2, "200.00", due=dt.date(2026, 3, 1), description="Material"))
    asked = turn("promessa_pagamento", "pago metade dia 15", snap=snap, entities={"date": IN_5_DAYS})
    chosen = turn("desconhecido", "1", snap=snap, context=then(asked))
    assert not chosen.actions and chosen.context_updates["pending"] == "confirm"
    assert "R$ 150,00" in chosen.reply


@pytest.mark.parametrize(
    "text",
    ["ja paguei o resto", "já paguei o restante", "paguei o que faltava", "paguei tudo", "paguei o saldo"],
)
def test_the_rest_paid_after_a_partial_payment_is_a_claim_of_the_whole_balance(text):
    snap = snapshot(charge(amount="160.00", balance=Decimal("80.00")))
    decision = turn("confirmacao_pagamento", text, snap=snap)
    assert kinds(decision) == [ActionKind.CLAIM_PAYMENT, ActionKind.FLAG]
    assert "suspendi os lembretes" in decision.reply and "faltam" not in decision.reply
    assert decision.context_updates["pending"] == "receipt"


def test_a_smaller_part_after_a_partial_payment_is_still_a_part_claim():
    snap = snapshot(charge(amount="160.00", balance=Decimal("80.00")))
    decision = turn(
        "confirmacao_pagamento", "paguei mais 30 do resto", snap=snap, entities={"amount": "30.00"}
    )
    assert kinds(decision) == [ActionKind.FLAG]


@pytest.mark.parametrize("intent", ["desconhecido", "confirmacao_pagamento", "informacoes_pagamento"])
def test_a_paid_month_named_while_another_charge_is_being_checked_does_not_say_nothing_is_open(intent):
    november = charge(
        11,
        "800.00",
        dt.date(2025, 11, 10),
        "Mensalidade escolar novembro",
        status="paid",
        paid_amount=Decimal("800.00"),
        paid_on=dt.date(2026, 3, 8),
    )
    december = charge(
        12, "800.00", dt.date(2025, 12, 10), "Mensalidade escolar dezembro", status="payment_claimed"
    )
    snap = snapshot(december, recent_paid=(november,))
    decision = turn(intent, "esse é o da de novembro", snap=snap)
    assert "já está paga" in decision.reply and "R$ 800,00 em 08/03" in decision.reply
    assert "Não há outras cobranças em aberto" not in decision.reply
    assert "conferência" in decision.reply


def test_a_part_paid_today_proposes_no_promise_of_the_rest_for_today():
    decision = turn(
        "confirmacao_pagamento",
        "paguei 100 hoje, segue o comprovante",
        entities={"amount": "100.00", "date": TODAY},
    )
    assert kinds(decision) == [ActionKind.FLAG]
    assert "posso registrar" not in decision.reply and "R$ 200,00" in decision.reply
    assert decision.context_updates["pending"] == "receipt"


def test_the_rest_promised_after_a_part_claim_is_the_rest_and_is_confirmed_first():
    part = turn(
        "confirmacao_pagamento",
        "paguei 100 hoje, segue o comprovante",
        entities={"amount": "100.00", "date": TODAY},
    )
    rest = turn(
        "promessa_pagamento",
        "o resto pago semana que vem",
        context=then(part),
        entities={"date": IN_5_DAYS},
    )
    assert not rest.actions and rest.context_updates["pending"] == "confirm"
    assert "R$ 200,00, fica para 15/03/2026" in rest.reply and "Registrei" not in rest.reply
    done = turn("desconhecido", "sim", context=then(rest, then(part)))
    assert params(done, ActionKind.CREATE_PROMISE)["amount"] == Decimal("200.00")
    assert done.context_updates["pending"] == "receipt"


def test_a_promise_that_does_not_speak_of_the_rest_is_the_whole_charge_still():
    part = turn("confirmacao_pagamento", "paguei 100", entities={"amount": "100.00"})
    promise = turn("promessa_pagamento", "pago dia 15", context=then(part), entities={"date": IN_5_DAYS})
    assert params(promise, ActionKind.CREATE_PROMISE)["amount"] is None


def _rest_promised(days_after_the_claim: int):
    claimed_at = NOW - dt.timedelta(days=days_after_the_claim)
    part = turn(
        "confirmacao_pagamento",
        "paguei 100 hoje, segue o comprovante",
        entities={"amount": "100.00", "date": claimed_at.date()},
        now=claimed_at,
    )
    return turn(
        "promessa_pagamento", "o resto pago semana que vem", context=then(part), entities={"date": IN_5_DAYS}
    )


def test_a_part_claimed_six_days_ago_is_still_remembered_for_the_rest():
    rest = _rest_promised(6)
    assert not rest.actions and "R$ 200,00, fica para 15/03/2026" in rest.reply


def test_a_part_claimed_eight_days_ago_is_forgotten_and_the_rest_is_no_longer_proposed():
    # A week on, the claim has been checked (or the money arrived): "o resto" is the charge as it stands now.
    rest = _rest_promised(8)
    assert "R$ 200,00" not in rest.reply
    assert params(rest, ActionKind.CREATE_PROMISE)["amount"] is None


def test_a_part_remembered_without_its_time_is_not_used():
    # Remembered before claims carried their time: how old it is is unknown, so it is not trusted.
    context = {CLAIMED_PART: {"charge_id": 1, "amount": "100.00"}}
    rest = turn(
        "promessa_pagamento", "o resto pago semana que vem", context=context, entities={"date": IN_5_DAYS}
    )
    assert params(rest, ActionKind.CREATE_PROMISE)["amount"] is None


def test_the_pix_of_the_rest_after_a_part_claim_is_for_the_rest_not_the_whole_charge():
    """Tester finding: "paguei 100" (a R$ 300 charge), then "me manda o pix do restante": a PIX of R$ 300."""
    part = turn("confirmacao_pagamento", "paguei 100", entities={"amount": "100.00"})
    pix = turn("informacoes_pagamento", "me manda o pix do restante", context=then(part))
    assert "PIX copia e cola (R$ 200,00)" in pix.reply, pix.reply
    assert "informou que já pagou R$ 100,00" in pix.reply and "falta R$ 200,00" in pix.reply
    # The claim's reply offered "o PIX desse valor" (the rest): a plain "me manda o pix" is that one too.
    assert "posso enviar o PIX desse valor" in part.reply
    plain = turn("informacoes_pagamento", "me manda o pix", context=then(part))
    assert "PIX copia e cola (R$ 200,00)" in plain.reply, plain.reply
