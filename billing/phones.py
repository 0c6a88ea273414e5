"""Brazilian phone numbers: normalisation to E.164 (with the mobile 9th digit) and display formatting.

`phonenumbers` is the parser of record, but it costs ~34 µs a number; imports of 100k+ rows mostly carry
numbers that are already canonical, so a regex fast path turns `+55DD9XXXXXXXX`, `55DD…` and `DD…` (with a
known DDD) into E.164 without it. Everything else (carrier prefixes `0 21 11 …`, trunk `011…`, foreign
numbers, garbage) goes through phonenumbers with region BR.
"""

from __future__ import annotations

import re
from decimal import Decimal

import phonenumbers

# The 67 area codes (DDD) in use (Anatel).
VALID_DDDS = frozenset(
    str(d)
    for d in (
        *range(11, 20),
        21,
        22,
        24,
        27,
        28,
        *range(31, 36),
        37,
        38,
        *range(41, 50),
        51,
        53,
        54,
        55,
        *range(61, 70),
        71,
        73,
        74,
        75,
        77,
        79,
        *range(81, 90),
        *range(91, 100),
    )
)

# Characters people and spreadsheets put around digits; removed before the fast path looks at the string.
_FORMATTING = str.maketrans("", "", " ()-.\u00a0\t/")
# Optional country code, DDD, then a 9-digit mobile, an 8-digit legacy mobile (6–9) or an 8-digit landline
# (2–5).
_FAST_RE = re.compile(r"^(?:\+55|55)?([1-9][1-9])(9\d{8}|[2-9]\d{7})$")
_SCIENTIFIC_RE = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")


class PhoneError(ValueError):
    """The value is not a usable Brazilian phone number; the message (pt-BR) says why."""


def _canonical(ddd: str, subscriber: str) -> str:
    if len(subscriber) == 8 and subscriber[0] in "6789":
        # Mobile written before the 9th digit was added (2012–2016): the canonical number has it.
        subscriber = "9" + subscriber
    return f"+55{ddd}{subscriber}"


def normalize_phone(raw: object) -> str:
    """Return the E.164 form (`+5511987654321`) of a Brazilian phone number or raise PhoneError.

    Accepts strings in any usual format and integers (JSON numbers, spreadsheet cells). A 10-digit national
    number whose subscriber part starts with 6–9 is a mobile missing the 9th digit: the 9 is inserted.
    Landlines (2–5) stay. Values in Excel's scientific notation (`5.51199E+12`) are rejected: the digits are
    already lost.
    """
    if raw is None or isinstance(raw, bool):
        raise PhoneError("telefone ausente")
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")) or not raw.is_integer() or raw >= 1e15:
            raise PhoneError("telefone em formato numérico inválido")
        raw = int(raw)
    elif isinstance(raw, Decimal):
        if not raw.is_finite() or raw != raw.to_integral_value() or raw.as_tuple().exponent > 0:
            # A JSON number like 5.51199E+12 parses to a Decimal with a positive exponent: digits were lost.
            raise PhoneError(
                "telefone em notação científica (ex.: 5,51199E+12): os dígitos foram perdidos; "
                "formate a coluna como texto"
            )
        raw = int(raw)
    if isinstance(raw, int):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:
        raise PhoneError("telefone com tipo inválido")
    if not text:
        raise PhoneError("telefone ausente")
    if len(text) > 40:
        raise PhoneError("telefone longo demais")

    compact = text.translate(_FORMATTING)
    match = _FAST_RE.match(compact)
    if match and match.group(1) in VALID_DDDS:
        return _canonical(match.group(1), match.group(2))

    if _SCIENTIFIC_RE.match(compact.replace(",", ".")):
        raise PhoneError(
            "telefone em notação científica (ex.: 5,51199E+12): os dígitos foram perdidos; "
            "formate a coluna como texto no Excel"
        )
    return _normalize_slow(text)


def _normalize_slow(text: str) -> str:
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        raise PhoneError("telefone inválido") from None
    if number.country_code != 55:
        raise PhoneError(
            f"número estrangeiro (+{number.country_code}); apenas telefones do Brasil são aceitos"
        )
    national = str(number.national_number)
    if len(national) in (8, 9):
        raise PhoneError("telefone sem DDD")
    if len(national) not in (10, 11):
        raise PhoneError("telefone com número de dígitos inválido")
    ddd, subscriber = national[:2], national[2:]
    if ddd not in VALID_DDDS:
        raise PhoneError(f"DDD {ddd} inexistente")
    if len(subscriber) == 9 and subscriber[0] != "9":
        raise PhoneError("celular com 9 dígitos deve começar com 9")
    if len(subscriber) == 8 and subscriber[0] in "01":
        raise PhoneError("telefone inválido")
    e164 = _canonical(ddd, subscriber)
    if not phonenumbers.is_valid_number(phonenumbers.parse(e164)):
        raise PhoneError("telefone inválido")
    return e164


def phone_variants(e164: str) -> list[str]:
    """Every E.164 form the app treats as this (canonical) number, canonical first: a mobile whose
    subscriber part after the 9th digit starts with 6–9 also exists without the 9 (`normalize_phone` maps
    that form back, and WhatsApp still uses it as the chat id of many older accounts)."""
    if is_mobile(e164) and e164[6] in "6789":
        return [e164, e164[:5] + e164[6:]]
    return [e164]


def is_mobile(e164: str) -> bool:
    return e164.startswith("+55") and len(e164) == 14 and e164[5] == "9"


def format_phone(e164: str) -> str:
    """+5511987654321 → '+55 11 98765-4321'; +551133334444 → '+55 11 3333-4444'. Others come back as given."""
    if not e164 or not e164.startswith("+55") or len(e164) not in (13, 14):
        return e164 or ""
    ddd, subscriber = e164[3:5], e164[5:]
    split = len(subscriber) - 4
    return f"+55 {ddd} {subscriber[:split]}-{subscriber[split:]}"
