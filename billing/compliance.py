"""Compliance linter for collection message templates (CDC arts. 42, 42-A and 71).

Warnings, not errors: the operator decides, but sees them when saving a template and when confirming a
campaign.
- Art. 42 / 71: no threat, coercion, ridicule or exposure of the debtor; no contact with third parties
  (family, employer) about the debt. Wording that usually reads as such is flagged, accent- and
  case-insensitively.
- Art. 42-A: every collection document shows the supplier's name and CPF/CNPJ (and address). Flagged when
  neither `{creditor_name}` nor the configured CREDITOR_NAME appears, or when no document is shown.
"""

from __future__ import annotations

import re

from django.conf import settings
from unidecode import unidecode

# (pattern on the unaccented lower-case text, warning). Patterns use word boundaries so "processamento" or
# "espontaneamente" do not match "processo" or "expor".
_RULES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(processo|processos|processar|processaremos|processado|processada|acao judicial|judicial|"
            r"judicialmente|justica|juiz|tribunal|advogad\w*|juridico)\b"
        ),
        "ameaça de ação judicial",
    ),
    (
        re.compile(
            r"\b(policia|delegacia|boletim de ocorrencia|prisao|preso|presa|cadeia|crime|criminal|"
            r"estelionat\w*)\b"
        ),
        "ameaça policial ou criminal",
    ),
    (
        re.compile(
            r"\b(negativad\w*|negativar\w*|negativacao|nome sujo|sujar\w* (o )?(seu )?nome|spc|serasa|"
            r"protest\w*|cartorio)\b"
        ),
        "menção a negativação/protesto que pode soar como ameaça "
        "(informe só o que for verdade e obrigatório)",
    ),
    (
        re.compile(
            r"\b(vergonh\w*|envergonh\w*|calote\w*|caloteir\w*|mau pagador|ma pagadora|vagabund\w*|"
            r"golpist\w*|safad\w*|humilha\w*)\b"
        ),
        "linguagem que expõe o devedor ao ridículo",
    ),
    (
        re.compile(
            r"\b(expor|exporemos|vamos expor|exposicao|expost[oa]s?|divulgar\w*|publicar\w*|"
            r"redes sociais|todos saberao|lista de devedores)\b"
        ),
        "ameaça de exposição pública",
    ),
    (
        re.compile(
            r"\b(familia\w*|parentes?|esposa|marido|filhos?|vizinh\w*|empregador\w*|patrao|chefe|"
            r"colegas?|seu trabalho|local de trabalho|amigos|seus contatos)\b"
        ),
        "menção a terceiros (família, vizinhos, empregador): a dívida não pode ser revelada a outras pessoas",
    ),
    (
        re.compile(
            r"\b(ultimo aviso|ultima chance|ultima oportunidade|medidas cabiveis|medidas legais|"
            r"providencias legais|consequencias|busca e apreensao|penhora\w*|bloqueio de bens|"
            r"cobranca judicial)\b"
        ),
        "ultimato ou ameaça de medidas",
    ),
]
_LAW = "O CDC (arts. 42 e 71) proíbe ameaçar, constranger ou expor o devedor."


def _normalize(text: str) -> str:
    return unidecode(text or "").lower()


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def template_compliance_warnings(body: str) -> list[str]:
    """pt-BR warnings about threatening/shaming wording and missing creditor identification; [] when clean."""
    text = _normalize(body)
    warnings: list[str] = []
    for pattern, label in _RULES:
        found = list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))
        if found:
            quoted = ", ".join(f'"{word}"' for word in found[:3])
            warnings.append(f"Possível {label}: {quoted}. {_LAW}")

    creditor_name = _normalize(settings.CREDITOR_NAME)
    has_name = "{creditor_name}" in body or "{credor}" in body or (creditor_name and creditor_name in text)
    document_digits = _digits(settings.CREDITOR_DOCUMENT)
    has_document = (
        "{creditor_document}" in body
        or "{cnpj_credor}" in body
        or (len(document_digits) >= 11 and document_digits in _digits(body))
    )
    if not has_name:
        warnings.append(
            "O texto não identifica o credor: inclua {creditor_name} "
            "(CDC art. 42-A exige nome do fornecedor)."
        )
    if not has_document:
        warnings.append(
            "O texto não mostra o CNPJ/CPF do credor: inclua {creditor_document} (CDC art. 42-A)."
        )
    return warnings
