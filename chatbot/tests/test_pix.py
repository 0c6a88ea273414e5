from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.pix import PixError, crc16, pix_payload, pix_payload_for, pix_txid

BCB_VECTOR = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
    "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def _fields(payload: str) -> dict[str, str]:
    """Parse top-level TLV fields back, so tests check structure and not only substrings."""
    fields, pos = {}, 0
    while pos < len(payload):
        field_id, length = payload[pos : pos + 2], int(payload[pos + 2 : pos + 4])
        fields[field_id] = payload[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return fields


def test_it_reproduces_the_bcb_manual_example_with_crc_1d3d():
    payload = pix_payload(key="123e4567-e12b-12d1-a456-426655440000", name="Fulano de Tal", city="BRASILIA")
    assert payload == BCB_VECTOR


def test_the_crc_covers_the_string_including_6304():
    assert crc16(BCB_VECTOR[:-4]) == "1D3D"


def test_it_formats_the_amount_with_a_dot_and_two_decimals():
    payload = pix_payload(key="k@x.com", name="Loja", city="SAO PAULO", amount=Decimal("1234.5"))
    assert _fields(payload)["54"] == "1234.50"
    assert crc16(payload[:-4]) == payload[-4:]


def test_it_rounds_amounts_half_up_to_cents():
    payload = pix_payload(key="k", name="Loja", city="RIO", amount=Decimal("10.005"))
    assert _fields(payload)["54"] == "10.01"


def test_it_leaves_the_amount_out_when_none():
    assert "54" not in _fields(pix_payload(key="k", name="Loja", city="RIO"))


def test_it_strips_accents_and_truncates_name_and_city():
    payload = pix_payload(
        key="k",
        name="Cobrança Inteligente Demonstração Ltda",
        city="São João da Boa Vista",
        amount=Decimal("1"),
    )
    fields = _fields(payload)
    assert fields["59"] == "Cobranca Inteligente Demo"
    assert len(fields["59"]) == 25
    assert fields["60"] == "Sao Joao da Boa"
    assert fields["60"].isascii()


def test_the_txid_keeps_only_25_alphanumerics():
    assert pix_txid("CHG-000123/2026 março") == "CHG0001232026marco"
    assert pix_txid("A" * 40) == "A" * 25
    assert pix_txid("---") == "***"
    assert pix_txid(None) == "***"


def test_the_txid_goes_inside_field_62_05():
    payload = pix_payload(key="k", name="Loja", city="RIO", txid="CHG-42")
    assert _fields(payload)["62"] == "0505CHG42"


def test_it_refuses_a_missing_key_and_a_non_positive_amount():
    with pytest.raises(PixError):
        pix_payload(key="", name="Loja", city="RIO")
    with pytest.raises(PixError):
        pix_payload(key="k", name="Loja", city="RIO", amount=Decimal("0"))


def test_pix_payload_for_uses_the_creditor_settings(settings):
    settings.PIX_KEY = "12345678000195"
    settings.CREDITOR_NAME = "Ação Cobranças"
    settings.CREDITOR_CITY = "Curitiba"
    fields = _fields(pix_payload_for(amount=Decimal("99.90"), reference="CHG-1"))
    assert fields["26"] == "0014br.gov.bcb.pix011412345678000195"
    assert fields["59"] == "Acao Cobrancas"
    assert fields["60"] == "Curitiba"
    assert fields["62"] == "0504CHG1"
