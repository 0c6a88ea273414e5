"""Brazilian money: formatting (Babel/CLDR) and parsing of what people and spreadsheets write.

Formatting uses a normal space after "R$" instead of CLDR's no-break space (U+00A0): the text goes into
WhatsApp messages that debtors copy, search and reply to, into tests and into chatbot matching, where an
invisible NBSP only causes surprises. A line break between "R$" and the number is the lesser evil.

Parsing rules (`parse_brl_amount`), for strings:
- "R$", spaces and NBSP are ignored; a leading "-", a trailing "-" or parentheses "(1.234,56)" mean negative
  → error.
- Both "." and "," present: the last one is the decimal mark ("1.234,56" and "1,234.56" are both 1234.56).
- Only ",": one comma is the decimal mark ("1234,56"); several commas with 3-digit groups are thousands
  ("1,234,567"). So "1,234" means 1.234 (three decimal places) and is rejected rather than guessed.
- Only ".": exactly three digits after a single dot is the pt-BR thousands separator ("1.234" = 1234);
  otherwise it is a decimal point ("150.5", "150.50"). Several dots with 3-digit groups are thousands
  ("1.234.567").
- At most 2 decimal places, greater than zero, at most R$ 9.999.999.999,99 (the model's 12 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency

from cobranca.exceptions import ApplicationError

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")

_THOUSANDS_GROUPS = re.compile(r"^\d{1,3}(?:[.,]\d{3})+$")


class AmountError(ValueError):
    """The value is not a usable amount; the message (pt-BR) says why."""


def format_brl(value: Decimal | int | str | None) -> str:
    """Decimal('150.5') → 'R$ 150,50' (normal space, see the module docstring)."""
    if value is None or value == "":
        return ""
    return format_currency(Decimal(value), "BRL", locale="pt_BR").replace("\u00a0", " ")


def _parse_text(text: str) -> Decimal:
    s = text.replace("\u00a0", "").replace(" ", "").replace("\t", "")
    if s[:2].upper() == "R$":
        s = s[2:]
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1]
    if s.upper().startswith("R$"):
        s = s[2:]
    if s.startswith("-") or s.endswith("-"):
        negative, s = True, s.strip("-")
    if s.upper().startswith("R$"):
        s = s[2:]
    if s.startswith("+"):
        s = s[1:]
    if not s or not re.fullmatch(r"[\d.,]+", s):
        raise AmountError("valor em formato não reconhecido")
    if negative:
        raise AmountError("valor negativo")
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        decimal_mark = "," if s.rfind(",") > s.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        integer, _, fraction = s.rpartition(decimal_mark)
        if decimal_mark in integer or (
            integer and not _THOUSANDS_GROUPS.match(integer) and thousands in integer
        ):
            raise AmountError("valor em formato não reconhecido")
        s = integer.replace(thousands, "") + "." + fraction
    elif has_comma:
        if s.count(",") > 1:
            if not _THOUSANDS_GROUPS.match(s):
                raise AmountError("valor em formato não reconhecido")
            s = s.replace(",", "")
        else:
            s = s.replace(",", ".")
    elif has_dot:
        if s.count(".") > 1:
            if not _THOUSANDS_GROUPS.match(s):
                raise AmountError("valor em formato não reconhecido")
            s = s.replace(".", "")
        elif _THOUSANDS_GROUPS.match(s):
            s = s.replace(".", "")
    try:
        return Decimal(s)
    except InvalidOperation:
        raise AmountError("valor em formato não reconhecido") from None


def parse_brl_amount(raw: object) -> Decimal:
    """Parse an amount (str in pt-BR or en formats, int, Decimal, float from a spreadsheet) into a Decimal
    with two places. Raises AmountError for negatives, zero, more than 2 decimal places, huge values and
    garbage."""
    if raw is None or isinstance(raw, bool):
        raise AmountError("valor ausente" if raw is None else "valor com tipo inválido")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise AmountError("valor inválido")
        # Spreadsheet cells are binary floats; 15 significant digits is what Excel itself keeps.
        value = Decimal(f"{raw:.15g}")
    elif isinstance(raw, str):
        if not raw.strip():
            raise AmountError("valor ausente")
        if len(raw) > 60:
            raise AmountError("valor em formato não reconhecido")
        value = _parse_text(raw)
    else:
        raise AmountError("valor com tipo inválido")
    if not value.is_finite():
        raise AmountError("valor inválido")
    if value < 0:
        raise AmountError("valor negativo")
    if value == 0:
        raise AmountError("valor deve ser maior que zero")
    if value.adjusted() > 9:
        raise AmountError("valor alto demais (máximo R$ 9.999.999.999,99)")
    if value.adjusted() < -2 or value != value.quantize(CENT):
        raise AmountError("valor com mais de 2 casas decimais")
    return value.quantize(CENT)


# --- agreements ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementTerms:
    installments: int
    discount_percent: Decimal
    total: Decimal
    installment_amount: Decimal
    # The last installment absorbs the rounding cents, so the sum is exactly the total.
    last_installment_amount: Decimal


def agreement_terms(
    *, amount: Decimal, installments: int, discount_percent: Decimal = Decimal("0")
) -> AgreementTerms:
    """Pure arithmetic shared by the bot's offer (chatbot.policy) and `billing.services.agreement_create`,
    so what is offered is what is recorded."""
    if installments < 1:
        raise ApplicationError("Número de parcelas inválido.", {"installments": installments})
    discount_percent = Decimal(discount_percent)
    total = (Decimal(amount) * (Decimal("100") - discount_percent) / Decimal("100")).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    installment = (total / installments).quantize(CENT, rounding=ROUND_HALF_UP)
    last = total - installment * (installments - 1)
    return AgreementTerms(installments, discount_percent, total, installment, last)
