from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import AmountError, format_brl, parse_brl_amount
from billing.phones import PhoneError, format_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("0 21 11 98765-4321", "+5511987654321"),  # carrier selection code
        ("011987654321", "+5511987654321"),  # trunk prefix
        ("0xx11 98765-4321", "+5511987654321"),
        ("3198883193", "+5531998883193"),  # legacy mobile without the 9th digit
        ("55 31 9888-3193", "+5531998883193"),
        ("1133334444", "+551133334444"),  # landline stays
        (5511987654321, "+5511987654321"),  # JSON number
        (11987654321.0, "+5511987654321"),  # spreadsheet cell
        (Decimal("5511987654321"), "+5511987654321"),
        ("55987654321", "+5555987654321"),  # DDD 55 (RS), not the country code
    ],
)
def test_it_normalises_brazilian_numbers_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("5.51199E+12", "notação científica"),
        ("5,51199E+12", "notação científica"),
        (Decimal("5.51199E+12"), "notação científica"),
        ("abc", "inválido"),
        ("", "ausente"),
        (None, "ausente"),
        ("98765-4321", "sem DDD"),
        ("+1 212 555 1234", "estrangeiro"),
        ("(20) 98765-4321", "DDD"),
        ("1187654321000000", "inválido"),
        (True, "ausente"),
        ({"a": 1}, "tipo"),
    ],
)
def test_it_rejects_unusable_numbers_with_a_reason(raw, reason):
    with pytest.raises(PhoneError, match=reason):
        normalize_phone(raw)


def test_it_formats_mobiles_and_landlines_for_display():
    assert format_phone("+5511987654321") == "+55 11 98765-4321"
    assert format_phone("+551133334444") == "+55 11 3333-4444"
    assert format_phone("+12125551234") == "+12125551234"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("R$ 1.234,56", Decimal("1234.56")),
        ("1234,56", Decimal("1234.56")),
        ("1.234", Decimal("1234")),  # pt-BR thousands separator
        ("1.234.567,89", Decimal("1234567.89")),
        ("1,234.56", Decimal("1234.56")),
        ("150.50", Decimal("150.50")),
        ("150.5", Decimal("150.50")),
        ("R$\u00a0150,50", Decimal("150.50")),
        ("R$150", Decimal("150.00")),
        (Decimal("150.5"), Decimal("150.50")),
        (80, Decimal("80.00")),
        (150.1, Decimal("150.10")),
    ],
)
def test_it_parses_brazilian_amounts(raw, expected):
    assert parse_brl_amount(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("(1.234,56)", "negativo"),
        ("-R$ 10,00", "negativo"),
        ("R$ -10,00", "negativo"),
        ("0", "maior que zero"),
        ("0,00", "maior que zero"),
        ("1,234", "mais de 2 casas"),  # ambiguous: a comma is the decimal mark in pt-BR
        ("10,555", "mais de 2 casas"),
        ("1e400", "formato"),
        (Decimal("1E+400"), "alto demais"),
        ("12345678901,00", "alto demais"),
        ("abc", "formato"),
        (True, "tipo"),
        (None, "ausente"),
    ],
)
def test_it_rejects_bad_amounts(raw, reason):
    with pytest.raises(AmountError, match=reason):
        parse_brl_amount(raw)


def test_it_formats_reais_with_a_normal_space():
    assert format_brl(Decimal("150.5")) == "R$ 150,50"
    assert format_brl(Decimal("1234.56")) == "R$ 1.234,56"
