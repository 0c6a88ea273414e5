"""A charge the debtor names that is no longer open because it was paid: the bot says it is paid (amount and
day received) and never puts the claim or the PIX on another open charge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chatbot.policy import ActionKind
from chatbot.tests.test_policy import charge, kinds, snapshot, turn

NOVEMBER_PAID = charge(
    11,
    "800.00",
    dt.date(2025, 11, 10),
    "Mensalidade escolar novembro",
    status="paid",
    paid_amount=Decimal("800.00"),
    paid_on=dt.date(2026, 3, 8),
)
DECEMBER = charge(12, "800.00", dt.date(2025, 12, 10), "Mensalidade escolar dezembro")


def test_a_claim_of_the_paid_month_says_it_is_paid_and_leaves_the_open_charge_alone():
    snap = snapshot(DECEMBER, recent_paid=(NOVEMBER_PAID,), focus_charge_id=DECEMBER.id)
    decision = turn("confirmacao_pagamento", "ja paguei a de novembro, segue o comprovante", snap=snap)
    assert ActionKind.CLAIM_PAYMENT not in kinds(decision)
    assert "novembro" in decision.reply and "já está paga" in decision.reply
    assert "R$ 800,00 em 08/03" in decision.reply
    assert "dezembro" not in decision.reply
    assert decision.context_updates.get("pending") in (None, "")


def test_a_pix_for_the_paid_month_is_not_the_pix_of_another_charge():
    snap = snapshot(DECEMBER, recent_paid=(NOVEMBER_PAID,), focus_charge_id=DECEMBER.id)
    decision = turn("informacoes_pagamento", "me manda o pix da de novembro", snap=snap)
    assert "000201" not in decision.reply
    assert "já está paga" in decision.reply and "R$ 800,00 em 08/03" in decision.reply


def test_a_claim_naming_the_open_charge_still_claims_it():
    snap = snapshot(DECEMBER, recent_paid=(NOVEMBER_PAID,))
    decision = turn("confirmacao_pagamento", "paguei a de dezembro", snap=snap)
    assert kinds(decision) == [ActionKind.CLAIM_PAYMENT, ActionKind.FLAG]


def test_with_nothing_open_the_paid_month_named_is_answered_as_paid():
    snap = snapshot(recent_paid=(NOVEMBER_PAID,), charges=())
    decision = turn("informacoes_pagamento", "me manda o pix da de novembro", snap=snap)
    assert "já está paga" in decision.reply and "novembro" in decision.reply


def test_a_smaller_amount_that_equals_a_paid_charge_is_still_a_part_of_the_open_one():
    paid = charge(5, "120.00", dt.date(2025, 11, 10), "Material", status="paid", paid_on=dt.date(2026, 3, 1))
    snap = snapshot(DECEMBER, recent_paid=(paid,))
    decision = turn("confirmacao_pagamento", "paguei 120", snap=snap, entities={"amount": Decimal("120")})
    assert "já está paga" not in decision.reply
    assert "R$ 120,00" in decision.reply and "dezembro" in decision.reply
