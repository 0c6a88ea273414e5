"""Half of the charge ("paguei metade ontem", "paguei metade, o resto dia 15") is a part claim: the flag for
the operator, the charge keeps its status (no claim of the whole charge), and the rest can be promised."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.policy import ActionKind
from chatbot.tests.test_policy import TODAY, charge, kinds, params, snapshot, then, turn

IN_5_DAYS = TODAY + dt.timedelta(days=5)


@pytest.mark.parametrize("intent", ["confirmacao_pagamento", "desconhecido"])
@pytest.mark.parametrize("text", ["é que eu paguei metade ontem", "paguei a metade"])
def test_half_paid_is_a_part_claim_of_half_of_what_is_owed(intent, text):
    decision = turn(intent, text)
    assert kinds(decision) == [ActionKind.FLAG]
    assert "pagamento de R$ 150,00" in decision.reply and "R$ 150,00" in decision.reply
    assert decision.context_updates["pending"] == "receipt"


@pytest.mark.parametrize("intent", ["confirmacao_pagamento", "promessa_pagamento"])
def test_half_paid_and_the_rest_on_a_day_proposes_the_promise_of_the_rest(intent):
    text = "paguei metade ontem, o resto pago dia 15"
    proposal = turn(intent, text, entities={"date": IN_5_DAYS})
    assert ActionKind.CLAIM_PAYMENT not in kinds(proposal)
    assert ActionKind.CREATE_PROMISE not in kinds(proposal)
    assert proposal.context_updates["pending"] == "confirm"
    assert "R$ 150,00" in proposal.reply
    done = turn("desconhecido", "sim", context=then(proposal))
    assert params(done, ActionKind.CREATE_PROMISE)["amount"] == Decimal("150.00")


def test_half_of_a_charge_partly_paid_is_half_of_what_is_left():
    snap = snapshot(charge(amount="300.00", balance=Decimal("201.00")))
    decision = turn("confirmacao_pagamento", "paguei metade", snap=snap)
    assert kinds(decision) == [ActionKind.FLAG]
    assert "R$ 100,50" in decision.reply


def test_a_promise_of_half_is_a_promise_of_that_amount_proposed_first():
    proposal = turn("promessa_pagamento", "pago metade dia 15", entities={"date": IN_5_DAYS})
    assert not proposal.actions and proposal.context_updates["pending"] == "confirm"
    assert "Você vai pagar R$ 150,00" in proposal.reply
