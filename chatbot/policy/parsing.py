"""Small, deterministic readings of the debtor's text that the classifier does not give: plan picks and
"is this reply only a date?". Entities (amount, installments, date) come from chatbot.nlu.entities."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from unidecode import unidecode

from chatbot.nlu.counts import asked_count

_NUMBER_WORDS = {
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "doze": 12,
}  # fmt: skip
_NUM = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_LUMP_SUM = re.compile(r"\b(a ?vista|de uma vez|uma vez so|pagamento unico|sem parcelar)\b")
_INSTALLMENTS = re.compile(rf"\b{_NUM}\s*(x|vezes|parcelas?|prestacoes|prestacao)\b")
_OPTION = re.compile(rf"^(?:(?:quero|prefiro|fico com|vou de|pode ser|escolho)\s+)?(?:a\s+|o\s+)?"
                     rf"(?:opcao|numero|n|plano|alternativa)?\s*{_NUM}\s*(?:a|o|opcao)?$")  # fmt: skip

# Words that may surround a date in a short answer ("dia 20", "na sexta que vem", "pago amanhã").
_DATE_WORDS = set(
    """
    dia dias de do da no na nos em ate a o ao pro pra para proximo proxima que vem semana mes mês
    amanha amanhã hoje depois segunda terca quarta quinta sexta sabado domingo feira feriado
    janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro
    pago pagar pagarei pagamento vou posso consigo eu acho talvez ok sim entao e fim inicio começo comeco
    """.split()
)
_DATE_TOKEN = re.compile(r"^\d{1,4}([/.\-]\d{1,4}){0,2}(o|a|º|ª)?$")


def fold(text: str) -> str:
    """Lower case, no accents, punctuation → spaces: what the keyword rules match against."""
    folded = unidecode(text or "").lower()
    return " ".join(re.sub(r"[^\w/.\-]+", " ", folded).replace("..", " ").split())


def _to_int(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def parse_plan_choice(text: str, entities: dict[str, Any], *, bare_numbers: bool) -> int | None:
    """The installments the debtor picked: 1 for a single payment, n for "nx". None when the text is no pick.

    Option numbers and installment counts coincide by construction (option 1 = à vista, option n = n
    installments), so "a 2" and "em 2x" mean the same. Bare numbers count only when an offer is pending.
    """
    folded = fold(text).replace(".", " ").strip()
    if _LUMP_SUM.search(folded):
        return 1
    counts = [(m.start(), m.end(), _to_int(m.group(1))) for m in _INSTALLMENTS.finditer(folded)]
    if counts:
        return asked_count(folded, counts)
    if bare_numbers and (match := _OPTION.match(folded)):
        return _to_int(match.group(1))
    installments = entities.get("installments")
    if installments:
        try:
            return int(installments)
        except (TypeError, ValueError):
            return None
    return None


def is_date_only(text: str) -> bool:
    """True for short answers that carry nothing but a date ("dia 20", "sexta", "20/03", "amanhã cedo" is
    not)."""
    tokens = fold(text).split()
    if not tokens or len(tokens) > 6:
        return False
    return all(token in _DATE_WORDS or _DATE_TOKEN.match(token) for token in tokens)


def as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 else None
