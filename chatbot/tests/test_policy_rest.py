"""What the tester found playing debtors: the half that survives the charge choice, the rest of a part claim
(promised only when the message speaks of the rest; its amount is what the claimed part leaves), "já paguei o
resto" as a claim of the whole balance, the cancelled rest-promise, a claimed charge that is still being
checked, and a bare "sim" to the plan options."""

from __future__ import annotations

import pytest

from chatbot.tests.test_policy import then, turn


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
