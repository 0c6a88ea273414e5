from __future__ import annotations

import pytest

from billing.compliance import template_compliance_warnings

IDENTIFIED = " {creditor_name} CNPJ {creditor_document}"


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("Se não pagar, entraremos com um PROCESSO.", "judicial"),
        ("Vamos acionar a Justiça", "judicial"),
        ("Chamaremos a polícia", "policial"),
        ("Seu nome será negativado no SPC/Serasa!", "negativação"),
        ("Que vergonha, caloteiro", "ridículo"),
        ("Vamos expor sua dívida", "exposição"),
        ("Avisaremos sua família e seu empregador", "terceiros"),
        ("Último aviso antes de medidas cabíveis", "ultimato"),
    ],
)
def test_it_warns_about_threatening_or_shaming_wording_ignoring_case_and_accents(body, label):
    warnings = template_compliance_warnings(body + IDENTIFIED)

    assert len(warnings) >= 1 and any(label in w for w in warnings), warnings
    assert all("CDC" in w for w in warnings)


def test_a_polite_identified_reminder_has_no_warnings():
    body = (
        "Olá {first_name}, lembrete: {amount} vence em {due_date}. Pagamento em processamento? Ignore."
        + IDENTIFIED
    )

    assert template_compliance_warnings(body) == []


def test_it_warns_when_the_creditor_is_not_identified():
    warnings = template_compliance_warnings("Olá {name}, sua fatura vence em {due_date}.")

    assert any("{creditor_name}" in w for w in warnings)
    assert any("{creditor_document}" in w for w in warnings)


def test_the_configured_creditor_name_and_document_written_out_count_as_identification(settings):
    settings.CREDITOR_NAME = "Padaria São João"
    settings.CREDITOR_DOCUMENT = "11.222.333/0001-81"

    assert template_compliance_warnings("Padaria Sao Joao (CNPJ 11222333000181): lembrete de {amount}.") == []
