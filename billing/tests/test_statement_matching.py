"""Who paid, read from a statement line (billing.payments.matching): names, documents, txids."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.payments.matching import document_matches, fingerprint, line_identity, name_matches, name_tokens


def matches(client_name: str, memo: str, name: str = "") -> bool:
    return name_matches(name_tokens(client_name), line_identity(name, memo).tokens)


@pytest.mark.parametrize(
    "memo",
    [
        "PIX RECEBIDO MARIA JOSE DA CONCEICAO",  # no accents
        "pix recebido maria josé da conceição",  # lower case
        "TED MARIA CONCEICAO",  # a middle name left out
        "PIX RECEBIDO MARIA JOSE DA CONCEI",  # cut by the bank
        "PIX RECEBIDO MARIA JOSE DA CONCEICOA",  # a typo
    ],
)
def test_a_name_matches_accent_and_case_insensitively_and_within_reason(memo):
    assert matches("Maria José da Conceição", memo)


@pytest.mark.parametrize(
    "memo",
    [
        "PIX RECEBIDO MARIA",  # the first name alone identifies nobody
        "PIX RECEBIDO JOSE CONCEICAO",  # the first name missing
        "PIX RECEBIDO MARIANA SOUZA",  # another person
        "PIX RECEBIDO DA",  # only connectives
    ],
)
def test_a_name_does_not_match_on_too_little(memo):
    assert not matches("Maria José da Conceição", memo)


def test_the_banks_own_words_never_count_as_a_name():
    assert line_identity("", "PIX RECEBIDO TED DOC CREDITO").tokens == frozenset()
    assert not matches("Pix Recebido", "PIX RECEBIDO")


def test_a_masked_document_matches_on_the_digits_shown():
    ident = line_identity("", "PIX RECEBIDO ***.444.777-** MARIA")
    assert document_matches(ident.documents, "11144477735") is True
    assert document_matches(ident.documents, "98765432100") is False
    assert document_matches(ident.documents, "") is None
    assert document_matches(line_identity("", "PIX MARIA").documents, "11144477735") is None


def test_a_full_document_is_the_payers_and_a_cnpj_is_read_too():
    ident = line_identity("", "TED 12.345.678/0001-95 EMPRESA")
    assert ident.documents == ("12345678000195",) and ident.full_document == "12345678000195"
    assert line_identity("", "CPF 246.813.579-28").full_document == "24681357928"
    assert line_identity("", "***444777**").full_document == ""


def test_a_txid_is_a_long_word_with_digits():
    assert line_identity("", "PIX TXID cobv12ab34cd56ef78gh90ij12kl").txids == (
        "cobv12ab34cd56ef78gh90ij12kl",
    )
    assert line_identity("", "PIX ABCDEFGHIJKLMNOPQRSTUVWXYZAB").txids == ()  # letters only: a word


def test_the_payer_name_keeps_the_lines_spelling_without_the_banks_words():
    assert line_identity("", "PIX RECEBIDO MARIA JOSÉ DA CONCEIÇÃO ***.444.777-**").payer_name == (
        "MARIA JOSÉ DA CONCEIÇÃO"
    )
    assert line_identity("JOÃO P ALVES", "TED").payer_name == "JOÃO P ALVES"
    assert line_identity("", "PIX QR CODE TXID cobv12ab34cd56ef78gh90ij12kl").payer_name == ""


def test_the_fingerprint_tells_transactions_apart_and_ignores_spacing_and_case():
    one = fingerprint(posted_date="2026-12-03", amount=Decimal("40.00"), memo="PIX RECEBIDO ANTÔNIO", name="")
    assert one == fingerprint(
        posted_date="2026-12-03", amount=Decimal("40"), memo="pix  recebido antonio", name=""
    )
    assert one != fingerprint(
        posted_date="2026-12-03", amount=Decimal("40.00"), memo="PIX RECEBIDO BENEDITA", name=""
    )
    assert one != fingerprint(
        posted_date="2026-12-04", amount=Decimal("40.00"), memo="PIX RECEBIDO ANTÔNIO", name=""
    )
