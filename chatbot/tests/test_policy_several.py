"""Several open charges (the tester's Cláudia: R$ 100,00 of December and R$ 125,00 of January, the last
reminder about January): a bare follow-up naming another charge continues the last topic, "todas" / "as
duas" / "o total" wins over the focus, and "quero pagar a de dezembro" is a PIX, not an offer."""

from __future__ import annotations

import datetime as dt

import pytest

from chatbot.tests.test_policy import charge, snapshot, then, turn

DECEMBER = charge(1, "100.00", dt.date(2025, 12, 10), "Mensalidade dezembro")
JANUARY = charge(2, "125.00", dt.date(2026, 1, 10), "Mensalidade janeiro")
SNAP = snapshot(DECEMBER, JANUARY, first_name="Cláudia", focus_charge_id=JANUARY.id)


@pytest.mark.parametrize(
    "intent", ["saudacao", "agradecimento", "desconhecido", "negociacao", "opt_out", "pessoa_errada"]
)
@pytest.mark.parametrize("text", ["e a de dezembro?", "E a de dezembro", "e a mensalidade de dezembro?"])
def test_a_bare_follow_up_naming_another_charge_gets_its_pix(intent, text):
    pix = turn("informacoes_pagamento", "me manda o pix", snap=SNAP)
    assert "5406125.00" in pix.reply
    follow = turn(intent, text, snap=SNAP, context=then(pix))
    assert "5406100.00" in follow.reply, follow.reply
    assert "Em que posso ajudar" not in follow.reply
    assert not follow.actions


def test_a_bare_follow_up_after_a_promise_promises_the_charge_named():
    date = dt.date(2026, 3, 20)
    promise = turn("promessa_pagamento", "pago dia 20", snap=SNAP, entities={"date": date})
    follow = turn("saudacao", "e a de dezembro?", snap=SNAP, context=then(promise), entities={})
    assert "Para qual dia" in follow.reply and "Mensalidade dezembro" in follow.reply


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("informacoes_pagamento", "quero pagar as duas, me manda o total"),
        ("negociacao", "quero pagar as duas, me manda o total"),
        ("informacoes_pagamento", "me manda o pix de todas"),
        ("informacoes_pagamento", "manda o pix do valor total"),
    ],
)
def test_all_of_them_wins_over_the_focus(intent, text):
    decision = turn(intent, text, snap=SNAP)
    assert "5406225.00" in decision.reply, decision.reply
    assert "R$ 225,00" in decision.reply


def test_tudo_bem_is_no_request_for_all_of_them():
    decision = turn("informacoes_pagamento", "tudo bem? me manda o pix", snap=SNAP)
    assert "5406125.00" in decision.reply


@pytest.mark.parametrize("intent", ["negociacao", "promessa_pagamento", "informacoes_pagamento"])
@pytest.mark.parametrize("text", ["quero pagar a de dezembro", "queria pagar a de dezembro agora"])
def test_wanting_to_pay_a_charge_gets_its_pix_not_an_offer(intent, text):
    decision = turn(intent, text, snap=SNAP)
    assert "5406100.00" in decision.reply, decision.reply
    assert "podemos negociar" not in decision.reply and "Para qual dia" not in decision.reply


@pytest.mark.parametrize("text", ["quero pagar a de dezembro em 3x", "quero pagar mas estou sem dinheiro"])
def test_wanting_to_pay_in_installments_or_without_money_is_still_a_negotiation(text):
    decision = turn("negociacao", text, snap=SNAP)
    assert "000201" not in decision.reply
