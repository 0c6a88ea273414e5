"""CPF and CNPJ as receipts print them: in full with their check digits, or a CPF masked by the bank
("***.456.789-**"). The check digits are the import's (`billing.importing.fields`)."""

from __future__ import annotations

import re

from billing.importing.fields import _cnpj_ok as cnpj_valid
from billing.importing.fields import _cpf_ok as cpf_valid

__all__ = ["cnpj_valid", "cpf_valid", "digits_of", "find_document", "format_document"]

_CONFUSED = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8"})
_CNPJ = re.compile(
    r"(?<![\d])(\d{2})\s?[.,]?\s?(\d{3})\s?[.,]?\s?(\d{3})\s?/?\s?(\d{4})\s?-?\s?(\d{2})(?!\d)"
)
_CPF = re.compile(r"(?<![\d.])(\d{3})\s?[.,]?\s?(\d{3})\s?[.,]?\s?(\d{3})\s?-?\s?(\d{2})(?!\d)")
# The bank hides the first three and the last two digits with stars or dots, which OCR reads as anything.
_MASKED_CPF = re.compile(
    r"(?<![\d.,])[^\d\s]{1,4}?\s?[.,]?\s?(\d{3})\s?[.,]\s?(\d{3})\s?-?\s?[^\d\s]{1,3}(?!\d)"
)


def digits_of(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def format_document(digits: str) -> str:
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    if len(digits) == 11:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    return digits


def find_document(text: str) -> tuple[str, float] | None:
    """(formatted document, confidence) of the first CNPJ, CPF or masked CPF in `text`; a full number counts
    only with valid check digits."""
    fixed = re.sub(
        r"(?<=[\d.\-/])[OoIl|SB]|[OoIl|SB](?=[\d.\-/])", lambda m: m.group(0).translate(_CONFUSED), text
    )
    for match in _CNPJ.finditer(fixed):
        digits = "".join(match.groups())
        if cnpj_valid(digits):
            return format_document(digits), 0.97
    for match in _CPF.finditer(fixed):
        digits = "".join(match.groups())
        if cpf_valid(digits):
            return format_document(digits), 0.97
    masked = _MASKED_CPF.search(fixed)
    if masked:
        return f"***.{masked.group(1)}.{masked.group(2)}-**", 0.7
    return None
