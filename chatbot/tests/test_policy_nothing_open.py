"""A debtor with nothing open is not offered a PIX or a negotiation (greeting, "não entendi", a cancelled
proposal): there is nothing to pay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.tests import test_policy_confirm
from chatbot.tests.test_policy import charge, snapshot, then, turn

NOTHING_OPEN = snapshot(charges=(), recent_payment=(Decimal("300.00"), dt.date(2026, 3, 8)))
ONLY_DISPUTED = snapshot(charge(status="disputed"))


def offers_payment(text: str) -> bool:
    lowered = text.lower()
    return "pix" in lowered or "parcel" in lowered or "negociar" in lowered


@pytest.mark.parametrize("snap", [NOTHING_OPEN, ONLY_DISPUTED])
@pytest.mark.parametrize(("intent", "text"), [("saudacao", "oi"), ("desconhecido", "xpto")])
def test_nothing_open_means_no_pix_or_negotiation_in_the_menu(snap, intent, text):
    decision = turn(intent, text, snap=snap)
    assert not offers_payment(decision.reply), decision.reply
    assert "atendente" in decision.reply


def test_a_cancelled_opt_out_with_nothing_open_offers_no_pix():
    proposal = test_policy_confirm.turn("opt_out", "chega", snap=NOTHING_OPEN, confidence=0.6)
    assert "SIM" in proposal.reply
    cancelled = test_policy_confirm.turn("desconhecido", "não", snap=NOTHING_OPEN, context=then(proposal))
    assert "não registrei" in cancelled.reply.lower()
    assert not offers_payment(cancelled.reply), cancelled.reply


def test_with_a_charge_open_the_menu_still_offers_the_pix():
    assert offers_payment(turn("saudacao", "oi").reply)
