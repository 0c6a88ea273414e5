"""The dialogue policy, pure: no database, no network. Multi-message flows feed context_updates back in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chatbot.policy import (
    ActionKind,
    ChargeSnapshot,
    ClientSnapshot,
    Creditor,
    Decision,
    NegotiationLimits,
    decide,
)
from chatbot.policy.parsing import is_date_only, parse_plan_choice

NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))  # a Tuesday
TODAY = NOW.date()
CREDITOR = Creditor(
    name="Credora Exemplo Ltda",
    document="12.345.678/0001-95",
    address="Rua A, 1 - São Paulo/SP",
    city="SAO PAULO",
    pix_key="pix@credora.example",
)


def charge(pk=1, amount="300.00", due=dt.date(2026, 2, 10), description="Mensalidade fevereiro", **kw):
    return ChargeSnapshot(
        id=pk, amount=Decimal(amount), due_date=due, description=description, reference=f"CHG-{pk}", **kw
    )


def snapshot(*charges, **kw) -> ClientSnapshot:
    defaults = {
        "client_id": 7,
        "creditor": CREDITOR,
        "first_name": "Maria",
        "charges": charges or (charge(),),
        "limits": NegotiationLimits(3, Decimal("50.00"), Decimal("10.00")),
    }
    return ClientSnapshot(**{**defaults, **kw})


def turn(intent, text="", *, snap=None, context=None, entities=None, now=NOW) -> Decision:
    return decide(
        intent=intent,
        confidence=0.9,
        entities=entities or {},
        text=text,
        context=context or {},
        client_snapshot=snap or snapshot(),
        now=now,
    )


def then(previous: Decision, context: dict | None = None) -> dict:
    return {**(context or {}), **previous.context_updates}


def kinds(decision: Decision) -> list[str]:
    return decision.action_kinds()


def params(decision: Decision, kind: str) -> dict:
    return next(a.params for a in decision.actions if a.kind == kind)


# --- identity and tone ---------------------------------------------------------------------------------


def test_the_first_reply_names_the_creditor_and_later_ones_need_not():
    first = turn("informacoes_pagamento", "como pago?")
    assert "Credora Exemplo Ltda" in first.reply
    assert first.context_updates["introduced"] is True
    second = turn("agradecimento", "obrigada", context=then(first))
    assert "Credora Exemplo Ltda" not in second.reply


@pytest.mark.parametrize(
    "intent",
    [
        "saudacao",
        "confirmacao_pagamento",
        "promessa_pagamento",
        "negociacao",
        "informacoes_pagamento",
        "contestacao",
        "dificuldade_financeira",
        "falar_humano",
        "opt_out",
        "agradecimento",
        "desconhecido",
    ],
)
def test_no_reply_threatens_or_shames(intent):
    reply = turn(intent, "texto", entities={"date": TODAY + dt.timedelta(days=3)}).reply.lower()
    assert reply
    for word in ("processo", "justiça", "spc", "serasa", "negativ", "caloteiro", "polícia", "último aviso"):
        assert word not in reply


@pytest.mark.parametrize("intent", ["informacoes_pagamento", "negociacao", "promessa_pagamento", "saudacao"])
def test_an_unknown_number_hears_no_amount_and_no_creditor(intent):
    decision = turn(intent, "quanto devo?", snap=snapshot(client_id=None, first_name="", charges=()))
    assert "R$" not in decision.reply
    assert "Credora" not in decision.reply
    assert "00020126" not in decision.reply


def test_a_number_marked_wrong_gets_the_generic_answer_even_with_open_charges():
    decision = turn("informacoes_pagamento", "me manda o pix", snap=snapshot(wrong_number=True))
    assert "R$" not in decision.reply and "Maria" not in decision.reply
    assert not any(a.kind == ActionKind.CLAIM_PAYMENT for a in decision.actions)


def test_an_unknown_number_asking_about_a_debt_is_flagged_for_an_operator():
    decision = turn("confirmacao_pagamento", "já paguei", snap=snapshot(client_id=None, charges=()))
    assert kinds(decision) == [ActionKind.FLAG]


def test_an_unknown_number_can_ask_for_a_person():
    decision = turn("falar_humano", "quero falar com alguém", snap=snapshot(client_id=None, charges=()))
    assert decision.handoff


# --- intents one by one --------------------------------------------------------------------------------


def test_greeting_and_thanks_are_short_and_keep_the_purpose():
    greeting = turn("saudacao", "oi")
    assert "Maria" in greeting.reply and "PIX" in greeting.reply
    assert not greeting.actions
    thanks = turn("agradecimento", "obrigado", context={"introduced": True})
    assert len(thanks.reply) < 120 and "cobrança" in thanks.reply


def test_a_payment_claim_stops_reminders_asks_for_the_receipt_and_flags_an_operator():
    decision = turn("confirmacao_pagamento", "já paguei")
    assert kinds(decision) == [ActionKind.CLAIM_PAYMENT, ActionKind.FLAG]
    assert params(decision, ActionKind.CLAIM_PAYMENT) == {"charge_id": 1}
    assert "comprovante" in decision.reply
    assert decision.context_updates["pending"] == "receipt"


def test_a_receipt_after_the_claim_is_acknowledged():
    claim = turn("confirmacao_pagamento", "já paguei")
    receipt = turn("desconhecido", "", context=then(claim))
    assert "comprovante" in receipt.reply
    assert kinds(receipt) == [ActionKind.FLAG]


def test_a_promise_with_a_date_is_recorded_and_confirmed_in_brazilian_format():
    promised = dt.date(2026, 3, 20)
    decision = turn("promessa_pagamento", "pago dia 20", entities={"date": promised})
    assert params(decision, ActionKind.CREATE_PROMISE) == {
        "charge_id": 1,
        "promised_date": promised,
        "amount": None,
    }
    assert "20/03/2026" in decision.reply
    assert decision.context_updates["pending"] is None


def test_a_promise_of_part_of_the_amount_keeps_that_amount():
    proposal = turn(
        "promessa_pagamento", "pago 100 reais sexta", entities={"date": TODAY, "amount": Decimal("100")}
    )
    assert "R$ 100,00" in proposal.reply and not proposal.actions  # another amount: confirmed first
    decision = turn("desconhecido", "sim", context=then(proposal))
    assert params(decision, ActionKind.CREATE_PROMISE)["amount"] == Decimal("100")
    assert "R$ 100,00" in decision.reply


def test_a_promise_for_a_past_date_is_not_recorded():
    decision = turn("promessa_pagamento", "paguei dia 1", entities={"date": TODAY - dt.timedelta(days=1)})
    assert not decision.actions
    assert decision.context_updates["pending"] == "promise_date"


def test_today_is_read_in_the_time_zone_passed_in():
    # 01:30 UTC on the 11th is still the 10th in São Paulo (the default) but already the 11th in Lisbon.
    late = dt.datetime(2026, 3, 11, 1, 30, tzinfo=dt.UTC)
    promise = {"date": dt.date(2026, 3, 10)}
    in_sao_paulo = decide(
        intent="promessa_pagamento",
        confidence=0.9,
        entities=promise,
        text="pago hoje",
        context={},
        client_snapshot=snapshot(),
        now=late,
    )
    assert kinds(in_sao_paulo) == [ActionKind.CREATE_PROMISE]
    in_lisbon = decide(
        intent="promessa_pagamento",
        confidence=0.9,
        entities=promise,
        text="pago hoje",
        context={},
        client_snapshot=snapshot(),
        now=late,
        tz=ZoneInfo("Europe/Lisbon"),
    )
    assert not in_lisbon.actions  # the 10th is already past there


def test_payment_info_sends_a_pix_code_for_the_open_amount_and_the_creditor_identity():
    decision = turn("informacoes_pagamento", "como pago?")
    assert "R$ 300,00" in decision.reply
    code = next(line for line in decision.reply.splitlines() if line.startswith("000201"))
    assert "5406300.00" in code and "0014br.gov.bcb.pix" in code
    assert "CNPJ 12.345.678/0001-95" in decision.reply and "Rua A, 1" in decision.reply
    assert "Pix Copia e Cola" in decision.reply


def test_payment_info_under_an_agreement_asks_for_the_installment():
    snap = snapshot(
        charge(status="negotiating", agreement_installments=3, agreement_installment_amount=Decimal("100.00"))
    )
    decision = turn("informacoes_pagamento", "manda o pix", snap=snap)
    assert "5406100.00" in decision.reply


def test_a_dispute_stops_reminders_and_hands_over():
    decision = turn("contestacao", "não reconheço essa dívida")
    assert kinds(decision) == [ActionKind.DISPUTE, ActionKind.HANDOFF]
    assert decision.handoff


def test_asking_for_a_person_hands_over():
    decision = turn("falar_humano", "quero falar com um atendente")
    assert decision.handoff and kinds(decision) == [ActionKind.HANDOFF]


def test_opt_out_suppresses_the_client_and_is_confirmed_once_then_silence():
    first = turn("opt_out", "parem de me mandar mensagem")
    assert kinds(first) == [ActionKind.OPT_OUT] and first.reply
    assert first.context_updates["opted_out"] is True
    later = turn("saudacao", "oi", context=then(first))
    assert later.reply == "" and not later.actions
    assert turn("saudacao", "oi", snap=snapshot(opted_out=True)).reply == ""


def test_a_wrong_person_gets_an_apology_without_any_debt_detail():
    decision = turn("pessoa_errada", "não conheço essa pessoa")
    assert kinds(decision) == [ActionKind.MARK_WRONG_NUMBER]
    assert "Desculpe" in decision.reply
    for detail in ("R$", "Maria", "Credora", "Mensalidade"):
        assert detail not in decision.reply


def test_nothing_to_pay_is_said_plainly():
    decision = turn("informacoes_pagamento", "pix", snap=snapshot(charge(status="payment_claimed")))
    assert "conferência" in decision.reply and not decision.actions


# --- several charges -----------------------------------------------------------------------------------

OLD = charge(1, "100.00", dt.date(2026, 1, 10), "Mensalidade janeiro")
NEW = charge(2, "250.00", dt.date(2026, 2, 10), "Mensalidade fevereiro")


def test_with_several_charges_it_acts_on_the_one_in_focus_and_mentions_the_total():
    decision = turn("informacoes_pagamento", "como pago?", snap=snapshot(NEW, OLD, focus_charge_id=1))
    assert "5406100.00" in decision.reply
    assert "2 cobranças em aberto" in decision.reply and "R$ 350,00" in decision.reply


def test_an_amount_narrows_the_charge():
    decision = turn(
        "confirmacao_pagamento", "paguei os 250", snap=snapshot(OLD, NEW), entities={"amount": "250"}
    )
    assert params(decision, ActionKind.CLAIM_PAYMENT) == {"charge_id": 2}


def test_a_description_narrows_the_charge():
    decision = turn("contestacao", "a mensalidade fevereiro eu não devo", snap=snapshot(OLD, NEW))
    assert params(decision, ActionKind.DISPUTE) == {"charge_id": 2}


def test_the_total_amount_claims_every_charge():
    decision = turn(
        "confirmacao_pagamento", "paguei 350", snap=snapshot(OLD, NEW), entities={"amount": "350"}
    )
    assert [a.params["charge_id"] for a in decision.actions if a.kind == ActionKind.CLAIM_PAYMENT] == [1, 2]


# --- multi-message flows -------------------------------------------------------------------------------


def test_a_promise_without_a_date_asks_when_and_a_bare_date_completes_it():
    ask = turn("promessa_pagamento", "vou pagar")
    assert not ask.actions and "qual dia" in ask.reply
    assert ask.context_updates["pending"] == "promise_date"
    promised = dt.date(2026, 3, 13)
    # "sexta" alone may come back as anything from the classifier; the pending question decides.
    answer = turn("saudacao", "sexta", context=then(ask), entities={"date": promised})
    assert params(answer, ActionKind.CREATE_PROMISE)["promised_date"] == promised
    assert "13/03/2026" in answer.reply
    assert answer.context_updates["pending"] is None


def test_a_date_answer_classified_as_unknown_still_completes_the_promise():
    ask = turn("promessa_pagamento", "posso pagar depois")
    answer = turn("desconhecido", "dia 20", context=then(ask), entities={"date": dt.date(2026, 3, 20)})
    assert kinds(answer) == [ActionKind.CREATE_PROMISE]


def test_a_payment_claim_while_a_date_is_pending_is_a_payment_claim():
    ask = turn("promessa_pagamento", "vou pagar")
    answer = turn(
        "confirmacao_pagamento", "na verdade já paguei ontem", context=then(ask), entities={"date": TODAY}
    )
    assert kinds(answer) == [ActionKind.CLAIM_PAYMENT, ActionKind.FLAG]


def test_a_pending_question_expires_after_a_day():
    ask = turn("promessa_pagamento", "vou pagar")
    later = NOW + dt.timedelta(days=2)
    answer = turn(
        "desconhecido", "dia 20", context=then(ask), entities={"date": dt.date(2026, 3, 20)}, now=later
    )
    assert not answer.actions


def test_negotiation_offers_plans_within_the_policy():
    offer = turn("negociacao", "quero parcelar")
    assert "1) à vista com 10% de desconto: R$ 270,00" in offer.reply
    assert "2) 2x de R$ 150,00" in offer.reply
    assert "3) 3x de R$ 100,00" in offer.reply
    assert "4)" not in offer.reply  # max_installments = 3
    assert offer.context_updates["pending"] == "plan_choice"
    assert not offer.actions


def test_the_minimum_installment_limits_the_offer():
    offer = turn("negociacao", "quero parcelar", snap=snapshot(charge(amount="120.00")))
    assert "2) 2x de R$ 60,00" in offer.reply and "3)" not in offer.reply


@pytest.mark.parametrize(
    ("text", "entities", "installments"),
    [
        ("a 2", {}, 2),
        ("quero em 3x", {"installments": 3}, 3),
        ("à vista", {}, 1),
        ("pode ser", {"installments": 2}, 2),
    ],
)
def test_the_debtor_picks_a_plan_in_the_next_message(text, entities, installments):
    offer = turn("negociacao", "quero parcelar")
    proposal = turn("desconhecido", text, context=then(offer), entities=entities)
    assert not proposal.actions and proposal.context_updates["pending"] == "confirm"
    pick = turn("desconhecido", "sim", context=then(proposal, then(offer)))
    agreement = params(pick, ActionKind.CREATE_AGREEMENT)
    assert agreement["installments"] == installments
    assert agreement["first_due_date"] == TODAY + dt.timedelta(days=3)
    assert agreement["discount_percent"] == (Decimal("10.00") if installments == 1 else Decimal("0"))
    assert "000201" in pick.reply  # the PIX code of the first payment
    assert pick.context_updates["pending"] is None


def test_the_pix_of_an_agreement_is_for_the_first_installment():
    offer = turn("negociacao", "quero parcelar")
    proposal = turn("negociacao", "a 3", context=then(offer))
    pick = turn("desconhecido", "sim", context=then(proposal, then(offer)))
    assert "5406100.00" in pick.reply and "3x de R$ 100,00" in pick.reply


def test_more_installments_than_allowed_are_explained_and_re_offered():
    offer = turn("negociacao", "quero parcelar")
    pick = turn("negociacao", "quero em 10x", context=then(offer), entities={"installments": 10})
    assert not pick.actions
    assert "máximo é em 3x" in pick.reply and "1) à vista" in pick.reply
    assert pick.context_updates["pending"] == "plan_choice"


def test_a_negotiation_that_names_an_allowed_plan_is_proposed_without_the_menu():
    proposal = turn("negociacao", "dá pra fazer em 2x?", entities={"installments": 2})
    assert "1) à vista" not in proposal.reply and "2x de R$ 150,00" in proposal.reply
    decision = turn("desconhecido", "pode", context=then(proposal))
    assert params(decision, ActionKind.CREATE_AGREEMENT)["installments"] == 2


def test_financial_difficulty_gets_empathy_and_the_offer():
    decision = turn("dificuldade_financeira", "estou desempregada")
    assert "Entendo" in decision.reply and "1) à vista" in decision.reply


def test_an_unclear_answer_to_the_offer_asks_for_the_number_then_hands_over():
    offer = turn("negociacao", "quero parcelar")
    unclear = turn("desconhecido", "hmm", context=then(offer))
    assert "1 a 3" in unclear.reply and not unclear.handoff
    again = turn("desconhecido", "sei lá", context=then(unclear, then(offer)))
    assert again.handoff


def test_two_unknown_messages_in_a_row_hand_over_but_one_does_not():
    first = turn("desconhecido", "asdf")
    assert not first.handoff and "outro jeito" in first.reply
    assert first.context_updates["unknown_streak"] == 1
    second = turn("desconhecido", "qwer", context=then(first))
    assert second.handoff and kinds(second) == [ActionKind.HANDOFF]


def test_an_understood_message_resets_the_unknown_streak():
    first = turn("desconhecido", "asdf")
    ok = turn("saudacao", "oi", context=then(first))
    assert ok.context_updates["unknown_streak"] == 0
    again = turn("desconhecido", "qwer", context=then(ok, then(first)))
    assert not again.handoff


# --- parsing helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 2", 2),
        ("opção 3", 3),
        ("quero em 3x", 3),
        ("em duas vezes", 2),
        ("à vista", 1),
        ("2", 2),
        ("dia 20", None),
    ],
)
def test_plan_choices_are_read_from_short_answers(text, expected):
    assert parse_plan_choice(text, {}, bare_numbers=True) == expected


def test_bare_numbers_are_no_pick_without_an_offer():
    assert parse_plan_choice("2", {}, bare_numbers=False) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dia 20", True),
        ("sexta", True),
        ("20/03", True),
        ("sexta que vem", True),
        ("já paguei dia 20", False),
    ],
)
def test_date_only_answers_are_recognised(text, expected):
    assert is_date_only(text) is expected


# Debtor test (report items 7, 9): a refund request goes to a person; a bare day to pay, said loosely, is a
# promise.
def test_a_refund_request_is_handed_to_a_person() -> None:
    decision = turn("desconhecido", "paguei duas vezes sem querer, da pra receber de volta?")
    assert decision.handoff
    assert kinds(decision) == [ActionKind.HANDOFF]
    assert "devolução" in decision.reply


def test_an_unclassified_day_to_pay_is_a_promise() -> None:
    decision = turn("desconhecido", "na vdd so consigo dia 20 viu", entities={"date": dt.date(2026, 3, 20)})
    assert kinds(decision) == [ActionKind.CREATE_PROMISE]
    assert "20/03/2026" in decision.reply


def test_a_month_named_alone_among_several_charges_gets_that_charges_pix() -> None:
    december = charge(2, "150.00", due=dt.date(2026, 12, 10), description="")
    decision = turn("desconhecido", "e a de dezembro?", snap=snapshot(charge(), december))
    assert "PIX copia e cola (R$ 150,00)" in decision.reply
    assert decision.context_updates["focus_charge_id"] == 2
