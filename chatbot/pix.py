"""Static PIX "copia e cola" (BR Code, EMV MPM) built in-house.

The payload is ~40 lines of TLV plus a stdlib CRC; the PyPI generators are tiny single-author packages, and at
least one publishes a malformed example (docs/domain.md, "PIX copia e cola"). The canonical BCB example is the
test vector.
"""

from __future__ import annotations

import binascii
import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from unidecode import unidecode

__all__ = ["PixError", "crc16", "pix_payload", "pix_payload_for", "pix_txid"]

GUI = "br.gov.bcb.pix"
MAX_NAME = 25
MAX_CITY = 15
MAX_TXID = 25
UNUSED_TXID = "***"

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_NAME_ALLOWED = re.compile(r"[^A-Za-z0-9 .\-/&]")


class PixError(ValueError):
    """A field that cannot be encoded (an empty key, a value longer than 99 chars, a negative amount)."""


def crc16(payload: str) -> str:
    """CRC-16/CCITT-FALSE over the payload (which must already end with "6304"), 4 uppercase hex digits."""
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def _tlv(field_id: str, value: str) -> str:
    # Lengths are two decimal digits: a field can carry at most 99 characters.
    if len(value) > 99:
        raise PixError(f"campo {field_id} com mais de 99 caracteres")
    return f"{field_id}{len(value):02d}{value}"


def _clean_text(value: str, limit: int) -> str:
    # Banks' apps choke on accents and odd symbols in 59/60; ASCII upper/lower case is fine.
    ascii_value = _NAME_ALLOWED.sub("", unidecode(value or ""))
    return " ".join(ascii_value.split())[:limit].strip()


def pix_txid(reference: str | None) -> str:
    """A txid from a reference (charge external id): alphanumerics only, ≤25, or "***" when nothing is
    left."""
    cleaned = _NOT_ALNUM.sub("", unidecode(reference or ""))[:MAX_TXID]
    return cleaned or UNUSED_TXID


def _format_amount(amount: Decimal) -> str:
    amount = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise PixError("o valor do PIX deve ser positivo")
    # Dot decimal, no thousands separator (field 54 spec): Decimal's str gives exactly that.
    return f"{amount:f}"


def pix_payload(
    *,
    key: str,
    name: str,
    city: str,
    amount: Decimal | None = None,
    txid: str = UNUSED_TXID,
    description: str = "",
) -> str:
    """The BR Code string for a static PIX charge.

    ``amount`` None leaves field 54 out (the payer types the value). ``txid`` is normalised with the same
    rules as :func:`pix_txid` ("***" when unused). ``description`` (26/02) is optional free text shown to the
    payer.
    """
    key = (key or "").strip()
    if not key:
        raise PixError("chave PIX não configurada")
    merchant_name = _clean_text(name, MAX_NAME)
    merchant_city = _clean_text(city, MAX_CITY)
    if not merchant_name or not merchant_city:
        raise PixError("nome e cidade do recebedor são obrigatórios")
    account = _tlv("00", GUI) + _tlv("01", key)
    if description:
        account += _tlv("02", _clean_text(description, 40))
    txid = UNUSED_TXID if txid == UNUSED_TXID else pix_txid(txid)
    parts = [
        _tlv("00", "01"),
        _tlv("26", account),
        _tlv("52", "0000"),
        _tlv("53", "986"),
    ]
    if amount is not None:
        parts.append(_tlv("54", _format_amount(amount)))
    parts += [
        _tlv("58", "BR"),
        _tlv("59", merchant_name),
        _tlv("60", merchant_city),
        _tlv("62", _tlv("05", txid)),
    ]
    payload = "".join(parts) + "6304"
    return payload + crc16(payload)


def pix_payload_for(*, amount: Decimal | None, reference: str | None = None) -> str:
    """The creditor's PIX code (key, name and city from settings) for an amount and a charge reference."""
    return pix_payload(
        key=settings.PIX_KEY,
        name=settings.CREDITOR_NAME,
        city=settings.CREDITOR_CITY,
        amount=amount,
        txid=pix_txid(reference),
    )
