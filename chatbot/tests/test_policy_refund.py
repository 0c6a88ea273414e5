"""A refund or double-charge request goes to a person whatever intent the classifier gives it: "paguei duas
vezes, quero meu dinheiro de volta" read as a payment claim was thanked for the payment."""

from __future__ import annotations

import pytest

from chatbot.policy import ActionKind
from chatbot.tests.test_policy import kinds, then, turn

REFUNDS = [
    "paguei duas vezes, quero meu dinheiro de volta",
    "quero o reembolso",
    "pode estornar o pix?",
    "quero a devolução do valor",
    "vocês vão me devolver?",
    "paguei em dobro",
    "fui cobrado duas vezes",
    "me cobraram 2x a mesma coisa",
    "paguei 2 vezes a de dezembro",
]


@pytest.mark.parametrize(
    "intent", ["confirmacao_pagamento", "informacoes_pagamento", "desconhecido", "negociacao"]
)
@pytest.mark.parametrize("text", REFUNDS)
def test_a_refund_request_is_handed_to_a_person_whatever_the_intent(intent, text):
    decision = turn(intent, text)
    assert decision.handoff
    assert kinds(decision) == [ActionKind.HANDOFF]  # the handoff flags the conversation with its reason
    assert ActionKind.CLAIM_PAYMENT not in kinds(decision)
    assert "devolução" in decision.reply and "atendente" in decision.reply


def test_a_refund_request_wins_over_a_pending_question():
    offer = turn("negociacao", "quero negociar")
    decision = turn(
        "confirmacao_pagamento", "paguei duas vezes, quero meu dinheiro de volta", context=then(offer)
    )
    assert decision.handoff and decision.context_updates["pending"] is None


@pytest.mark.parametrize(
    "text", ["quero pagar em 2 vezes", "posso pagar em duas vezes?", "volto a falar depois", "ja paguei"]
)
def test_paying_in_two_installments_is_no_refund(text):
    assert not turn("negociacao", text).handoff
