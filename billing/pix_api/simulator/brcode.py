"""The dynamic BR Code ("Pix Copia e Cola") a PSP returns for a cobv, built the way the BCB manual describes.

Written here rather than imported from ``chatbot.pix``: the simulator stands in for a PSP and imports
no app.
A dynamic code carries the payload location (field 26.25) instead of a key, "12" as its point of initiation
(single use), the amount (54) and "***" as the txid (62.05): the payer's app fetches the rest at the location.
"""

from __future__ import annotations

import binascii
import unicodedata
from decimal import Decimal

GUI = "br.gov.bcb.pix"


def _tlv(field_id: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"BR Code field {field_id} longer than 99 characters")
    return f"{field_id}{len(value):02d}{value}"


def _ascii(value: str, limit: int) -> str:
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.split())[:limit].strip() or "-"


def crc16(payload: str) -> str:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) as four uppercase hex digits."""
    return f"{binascii.crc_hqx(payload.encode('utf-8'), 0xFFFF):04X}"


def dynamic_brcode(*, location: str, amount: Decimal, name: str, city: str) -> str:
    """The copy-and-paste string of a cobv: location, amount, receiver's name and city, CRC."""
    parts = [
        _tlv("00", "01"),
        _tlv("01", "12"),
        _tlv("26", _tlv("00", GUI) + _tlv("25", location)),
        _tlv("52", "0000"),
        _tlv("53", "986"),
        _tlv("54", f"{amount.quantize(Decimal('0.01')):f}"),
        _tlv("58", "BR"),
        _tlv("59", _ascii(name, 25)),
        _tlv("60", _ascii(city, 15)),
        _tlv("62", _tlv("05", "***")),
    ]
    payload = "".join(parts) + "6304"
    return payload + crc16(payload)


def parse_brcode(code: str) -> dict[str, str]:
    """Top-level fields of a BR Code (id -> value), nested 26 and 62 as "26.25" etc.; checks the CRC."""
    if crc16(code[:-4]) != code[-4:]:
        raise ValueError("BR Code CRC does not match")
    fields: dict[str, str] = {}

    def walk(text: str, prefix: str) -> None:
        pos = 0
        while pos < len(text):
            field_id, length = text[pos : pos + 2], int(text[pos + 2 : pos + 4])
            value = text[pos + 4 : pos + 4 + length]
            if len(value) != length:
                raise ValueError(f"BR Code field {prefix}{field_id} is truncated")
            fields[prefix + field_id] = value
            if not prefix and field_id in ("26", "62"):
                walk(value, f"{field_id}.")
            pos += 4 + length

    walk(code, "")
    return fields
