"""Greetings in a conversation under way, blessings, "quem é?" and the menu of a debtor whose payment is being
checked (the tester's conversation: "já paguei", "bom dia, Deus abençoe", "quem é?")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chatbot.policy import ChargeSnapshot, ClientSnapshot, Creditor, decide
from chatbot.policy.greeting import blessing, who_is_asked
from chatbot.tests.test_policy import NOW

CREDITOR = Creditor(name="Clínica Sorriso Ltda", pix_key="pix@clinica.example", city="SAO PAULO")


def snap(*statuses: str) -> ClientSnapshot:
    charges = tuple(
        ChargeSnapshot(
            id=n,
            amount=Decimal("1234.56") * n,
            due_date=dt.date(2026, 12, 10),
            description=f"Mensalidade {n}",
            status=status,
            reference=f"REF{n}",
        )
        for n, status in enumerate(statuses, start=1)
    )
    return ClientSnapshot(7, CREDITOR, "João", charges=charges)


def say(text: str, client: ClientSnapshot, context: dict | None = None, intent: str = "saudacao") -> str:
    decision = decide(
        intent=intent,
        confidence=0.99,
        entities={},
        text=text,
        context=context or {},
        client_snapshot=client,
        now=NOW,
    )
    return decision.reply


@pytest.mark.parametrize(
    "text",
    [
        "quem é?",
        "Quem fala?",
        "quem é você",
        "quem ta falando?",
        "com quem eu falo?",
        "de onde é esse número?",
    ],
)
def test_who_is_asked(text):
    assert who_is_asked(text)


@pytest.mark.parametrize("text", ["oi", "bom dia", "quem me dera", "Deus abençoe"])
def test_not_who_is_asked(text):
    assert not who_is_asked(text)


def test_blessings():
    assert blessing("bom dia, Deus abençoe") and blessing("fique com Deus") and blessing("Amém")
    assert not blessing("bom dia")


def test_the_first_greeting_introduces_the_assistant_with_the_menu():
    text = say("oi", snap("open"))
    assert "assistente virtual de Clínica Sorriso Ltda" in text and "PIX" in text


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("bom dia, Deus abençoe", "Bom dia, João! Amém!"),
        ("boa tarde", "Boa tarde, João!"),
        ("oi", "Olá, João!"),
    ],
)
def test_a_greeting_in_a_conversation_under_way_is_short_and_in_the_debtors_words(said, expected):
    text = say(said, snap("open"), {"introduced": True})
    assert text.startswith(expected)
    assert "assistente virtual" not in text and "PIX" not in text and "parcelamento" not in text


def test_a_blessing_as_thanks_gets_amen():
    assert say("Deus abençoe", snap("open"), {"introduced": True}, intent="agradecimento").startswith("Amém!")


def test_who_is_it_names_the_creditor_and_the_charge():
    text = say("quem é?", snap("open"), {"introduced": True})
    assert "assistente virtual de Clínica Sorriso Ltda" in text
    assert "Mensalidade 1" in text and "R$ 1.234,56" in text


def test_who_is_it_with_the_payment_being_checked_offers_no_pix_nor_installments():
    text = say("quem é?", snap("payment_claimed"), {"introduced": True})
    assert "Mensalidade 1" in text and "conferir" in text
    assert "PIX" not in text and "parcelamento" not in text


def test_the_menu_of_a_debtor_whose_only_charge_is_being_checked_offers_no_pix_nor_installments():
    text = say("oi", snap("payment_claimed"))
    assert "comprovante" in text
    assert "PIX" not in text and "parcelamento" not in text


def test_who_is_it_names_every_charge_and_which_is_being_checked():
    text = say("quem fala?", snap("open", "payment_claimed"), {"introduced": True})
    assert "2 cobranças" in text and "Mensalidade 1" in text and "Mensalidade 2" in text
    assert "pagamento informado (em conferência)" in text
