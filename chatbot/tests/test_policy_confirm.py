"""Issue #12, item 2: agreements, promises of another amount and unsure opt-outs are proposed and confirmed
("Posso registrar? Responda SIM"); the pending question expires; "não" cancels and says what else there is;
an explicit opt-out is honoured at once and a greeting never becomes one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.policy import ActionKind, NegotiationLimits, decide
from chatbot.tests.test_policy import NOW, TODAY, charge, kinds, params, snapshot, then

TTL = dt.timedelta(minutes=30)


def turn(intent, text, *, context=None, entities=None, confidence=0.93, now=NOW, snap=None):
    return decide(
        intent=intent,
        confidence=confidence,
        entities=entities or {},
        text=text,
        context=context or {},
        client_snapshot=snap or snapshot(),
        now=now,
        confirm_ttl=TTL,
        opt_out_confirm_below=0.85,
    )


def test_asking_for_3x_is_a_proposal_not_an_agreement():
    proposal = turn("negociacao", "dá pra parcelar em 3x?", entities={"installments": 3})
    assert ActionKind.CREATE_AGREEMENT not in kinds(proposal)
    assert "Acordo registrado" not in proposal.reply
    assert "Posso registrar" in proposal.reply and "SIM" in proposal.reply
    assert "3x de R$ 100,00" in proposal.reply
    assert "Mensalidade fevereiro" in proposal.reply  # names the charge
    assert proposal.context_updates["pending"] == "confirm"


@pytest.mark.parametrize("yes", ["sim", "Sim!", "pode", "isso", "ok", "pode sim", "SIM."])
def test_a_plain_yes_confirms_the_agreement(yes):
    proposal = turn("negociacao", "dá pra parcelar em 3x?", entities={"installments": 3})
    done = turn("desconhecido", yes, context=then(proposal))
    assert params(done, ActionKind.CREATE_AGREEMENT)["installments"] == 3
    assert params(done, ActionKind.CREATE_AGREEMENT)["charge_id"] == 1
    assert "Acordo registrado" in done.reply and "Mensalidade fevereiro" in done.reply
    assert done.context_updates["pending"] is None


def test_a_plan_picked_from_the_offer_is_confirmed_before_it_is_recorded():
    offer = turn("negociacao", "quero negociar")
    pick = turn("desconhecido", "2", context=then(offer))
    assert not pick.actions and pick.context_updates["pending"] == "confirm"
    done = turn("agradecimento", "sim", context=then(pick, then(offer)))
    assert params(done, ActionKind.CREATE_AGREEMENT)["installments"] == 2


def test_no_cancels_and_says_what_else_is_possible():
    proposal = turn("negociacao", "dá pra parcelar em 3x?", entities={"installments": 3})
    cancelled = turn("desconhecido", "não", context=then(proposal))
    assert not cancelled.actions
    assert cancelled.context_updates["pending"] is None
    assert "não registrei" in cancelled.reply.lower()
    assert "PIX" in cancelled.reply and "parcel" in cancelled.reply


def test_the_proposal_expires():
    proposal = turn("negociacao", "dá pra parcelar em 3x?", entities={"installments": 3})
    late = turn("desconhecido", "sim", context=then(proposal), now=NOW + TTL + dt.timedelta(minutes=1))
    assert ActionKind.CREATE_AGREEMENT not in kinds(late)
    assert "expirou" in late.reply


def test_a_new_topic_drops_the_proposal():
    proposal = turn("negociacao", "dá pra parcelar em 3x?", entities={"installments": 3})
    pix = turn("informacoes_pagamento", "me manda o pix", context=then(proposal))
    assert not pix.actions and "000201" in pix.reply
    assert pix.context_updates["pending"] is None


def test_a_promise_of_another_amount_is_confirmed_first():
    date = TODAY + dt.timedelta(days=5)
    proposal = turn(
        "promessa_pagamento", "pago 100 dia 15", entities={"date": date, "amount": Decimal("100.00")}
    )
    assert not proposal.actions
    assert "R$ 100,00" in proposal.reply and "Posso registrar" in proposal.reply
    done = turn("desconhecido", "ok", context=then(proposal))
    assert params(done, ActionKind.CREATE_PROMISE) == {
        "charge_id": 1,
        "promised_date": date,
        "amount": Decimal("100.00"),
    }


def test_a_promise_of_the_whole_amount_is_recorded_at_once():
    date = TODAY + dt.timedelta(days=5)
    decision = turn("promessa_pagamento", "pago dia 15", entities={"date": date})
    assert kinds(decision) == [ActionKind.CREATE_PROMISE]


def test_an_unsure_opt_out_is_confirmed_first():
    proposal = turn("opt_out", "acho que não quero mais isso", confidence=0.6)
    assert not proposal.actions and "opted_out" not in proposal.context_updates
    assert "SIM" in proposal.reply
    done = turn("desconhecido", "sim", context=then(proposal))
    assert kinds(done) == [ActionKind.OPT_OUT] and done.context_updates["opted_out"] is True


@pytest.mark.parametrize(
    "text", ["para de me mandar mensagem", "me tira da lista", "Não quero mais receber mensagens"]
)
def test_an_explicit_opt_out_is_honoured_at_once_even_when_unsure(text):
    decision = turn("opt_out", text, confidence=0.5)
    assert kinds(decision) == [ActionKind.OPT_OUT]


@pytest.mark.parametrize(
    "text",
    [
        "bom dia, tudo bem?",
        "oi",
        "Boa tarde! Deus abençoe",
        "olá, desculpa a demora",
        # Apologies for answering late, blessings and regional forms, as the outside test set found them.
        "desculpa a demora, tava trabalhando",
        "Perdão, só vi agora",
        "foi mal, tava sem sinal",
        "a paz do Senhor, irmã",
        "Deus te abençoe, bom dia",
        "graça e paz",
        "oxente, boa noite",
        "bah, bom dia tchê",
        "uai, boa tarde",
        "bom diaaa mainha",
        "oiee, tudo bem?",
    ],
)
def test_a_greeting_never_becomes_an_opt_out(text):
    decision = turn("opt_out", text, confidence=0.97)
    assert ActionKind.OPT_OUT not in kinds(decision)
    assert "opted_out" not in decision.context_updates
    assert decision.reply and "não vai mais receber" not in decision.reply


def test_a_part_paid_and_the_rest_on_a_day_proposes_a_promise_of_the_rest():
    """ "paguei 120, o resto dia 15": the R$ 120,00 is flagged to be checked, and the R$ 180,00 left is a
    promise of another amount than the charge's, so it waits for "sim"."""
    rest_day = TODAY + dt.timedelta(days=5)
    claim = turn(
        "confirmacao_pagamento",
        "paguei 120, o resto dia 15",
        entities={"amount": Decimal("120"), "date": rest_day},
    )
    assert ActionKind.CLAIM_PAYMENT not in kinds(claim) and ActionKind.FLAG in kinds(claim)
    assert ActionKind.CREATE_PROMISE not in kinds(claim)
    assert "R$ 120,00" in claim.reply and "R$ 180,00" in claim.reply and "SIM" in claim.reply
    assert claim.context_updates["pending"] == "confirm"
    done = turn("desconhecido", "sim", context=then(claim))
    promise = params(done, ActionKind.CREATE_PROMISE)
    assert promise["amount"] == Decimal("180.00") and promise["promised_date"] == rest_day
    assert "restante" in done.reply and "R$ 180,00" in done.reply and "R$ 120,00" not in done.reply
    assert done.context_updates["pending"] == "receipt"  # the part's receipt is still welcome
    cancelled = turn("desconhecido", "não", context=then(claim))
    assert ActionKind.CREATE_PROMISE not in kinds(cancelled)


def test_a_part_paid_with_a_past_day_is_only_the_claim():
    claim = turn(
        "confirmacao_pagamento",
        "paguei 120 dia 2",
        entities={"amount": Decimal("120"), "date": TODAY - dt.timedelta(days=8)},
    )
    assert claim.context_updates["pending"] == "receipt"
    assert "Posso registrar" not in claim.reply


@pytest.mark.parametrize("intent", ["negociacao", "desconhecido"])
def test_a_no_with_another_count_answers_the_new_count(intent):
    snap = snapshot(charge(amount="600.00"), limits=NegotiationLimits(6, Decimal("50.00"), Decimal("10.00")))
    proposal = turn("negociacao", "da pra parcelar em 3x?", entities={"installments": 3}, snap=snap)
    assert "3x de R$ 200,00" in proposal.reply
    other = turn(intent, "não, em 3x não dá. e em 6x?", context=then(proposal), snap=snap)
    assert "6x de R$ 100,00" in other.reply and "Posso registrar" in other.reply
    assert other.context_updates["pending_data"]["params"]["installments"] == 6
    assert not other.actions


def test_a_no_with_a_count_above_the_limit_explains_the_maximum():
    proposal = turn("negociacao", "da pra parcelar em 3x?", entities={"installments": 3})
    other = turn("desconhecido", "não, em 3x não dá. e em 6x?", context=then(proposal))
    assert "O parcelamento máximo é em 3x" in other.reply
    assert ActionKind.CREATE_AGREEMENT not in kinds(other)
