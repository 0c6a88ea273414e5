"""Reading OFX statements: the quirks of Brazilian exports (billing.payments.ofx)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from billing.payments.ofx import OfxError, read_transactions

FIXTURES = Path(__file__).parent / "fixtures" / "ofx"
BRT = ZoneInfo("America/Sao_Paulo")


def read(name: str):
    with (FIXTURES / name).open("rb") as fh:
        return list(read_transactions(fh))


def test_it_reads_sgml_without_closing_tags_in_cp1252():
    lines = read("extrato_banco_a_1252.ofx")
    assert [t.fitid for t in lines] == [
        "202612020001",
        "202612030002",
        "202612030003",
        "202612040004",
        "202612040005",
        "202612050006",
    ]
    assert lines[0].memo == "PIX RECEBIDO MARIA JOSÉ DA CONCEIÇÃO ***.444.777-**"
    assert lines[1].name == "JOÃO P ALVES"
    assert {t.account for t in lines} == {"0999/0042/12345-6"}


def test_it_reads_comma_amounts_and_thousands_separators():
    amounts = [t.amount for t in read("extrato_banco_a_1252.ofx")]
    assert amounts == [
        Decimal("150.00"),
        Decimal("89.90"),
        Decimal("200.00"),
        Decimal("-12.90"),
        Decimal("75.00"),
        Decimal("1234.56"),
    ]


def test_bracketed_timezones_are_honoured_and_a_bare_date_is_brasilia_time():
    lines = read("extrato_banco_a_1252.ofx")
    assert lines[0].posted == dt.datetime(2026, 12, 2, 9, 30, tzinfo=BRT)
    assert lines[3].posted == dt.datetime(2026, 12, 4, 0, 0, tzinfo=BRT)  # <DTPOSTED>20261204


def test_an_unclosed_transaction_ends_at_the_next_one_and_odd_fields_are_kept_raw():
    lines = read("extrato_banco_a_1252.ofx")
    assert lines[2].memo.endswith("cobv12ab34cd56ef78gh90ij12kl") and lines[3].fitid == "202612040004"
    # TRNTYPE "PIX" is not in the spec: typed as OTHER, the bank's word kept; CHECKNUM longer than the spec.
    assert lines[1].trntype == "OTHER" and lines[1].extra["TRNTYPE"] == "PIX"
    assert lines[0].extra["CHECKNUM"] == "20261202000000001"


def test_odd_header_utf8_body_declared_1252_and_a_one_line_body_are_read():
    lines = read("extrato_banco_b_fitid_repetido.ofx")
    assert len(lines) == 4
    assert lines[0].memo == "PIX RECEBIDO MARIA JOSÉ DA CONCEIÇÃO"
    assert lines[2].memo == "PIX RECEBIDO ANTÔNIO"
    assert [t.fitid for t in lines] == ["000001", "000001", "000002", "000002"]
    assert lines[0].account == "0777/998877"


def test_ofx2_xml_is_read_too():
    (line,) = read("extrato_ofx2.ofx")
    assert line.name == "MARIA JOSÉ DA CONCEIÇÃO" and line.amount == Decimal("150.00")


def test_a_malformed_amount_names_the_line_and_the_field():
    with pytest.raises(OfxError) as err:
        read("extrato_valor_invalido.ofx")
    assert err.value.line == 52 and err.value.field == "TRNAMT"
    assert str(err.value) == "linha 52, campo TRNAMT: valor inválido '89x,90'"


@pytest.mark.parametrize(
    "amount",
    ["1E+400", "1e2", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "12345678901,00", "1,001"],
)
def test_a_non_finite_exponent_or_out_of_range_amount_is_refused_with_its_line(amount):
    """Third outside test: 1E+400 was stored as inf (the queue and admin then answered 500 forever), NaN and
    Infinity answered 500 even in a dry run. The model's field holds 12 digits with 2 decimals."""
    text = (
        (FIXTURES / "extrato_banco_a_1252.ofx")
        .read_bytes()
        .replace(b"<TRNAMT>89,90", b"<TRNAMT>" + amount.encode())
    )
    with pytest.raises(OfxError) as err:
        list(read_transactions(io.BytesIO(text)))
    assert err.value.line == 52 and err.value.field == "TRNAMT"
    assert str(err.value).startswith("linha 52, campo TRNAMT: ")


@pytest.mark.parametrize(("amount", "read_as"), [("9999999999,99", "9999999999.99"), ("-89.900", "-89.90")])
def test_the_largest_amount_and_trailing_zeros_are_read(amount, read_as):
    text = (
        (FIXTURES / "extrato_banco_a_1252.ofx")
        .read_bytes()
        .replace(b"<TRNAMT>89,90", b"<TRNAMT>" + amount.encode())
    )
    lines = list(read_transactions(io.BytesIO(text)))
    assert Decimal(read_as) in [t.amount for t in lines]


def test_a_transaction_without_fitid_is_refused_with_its_line():
    text = (FIXTURES / "extrato_banco_a_1252.ofx").read_bytes().replace(b"<FITID>202612030003\r\n", b"")
    with pytest.raises(OfxError) as err:
        list(read_transactions(io.BytesIO(text)))
    assert err.value.field == "FITID" and err.value.line == 56


def test_a_file_that_is_not_ofx_is_refused():
    with pytest.raises(OfxError, match="não é um arquivo OFX"):
        list(read_transactions(io.BytesIO(b"nome;valor\nMaria;150,00\n")))


def test_a_truncated_file_is_refused():
    text = (FIXTURES / "extrato_banco_a_1252.ofx").read_bytes()
    cut = text[: text.index(b"<ACCTTYPE>")]
    with pytest.raises(OfxError, match="truncado"):
        list(read_transactions(io.BytesIO(cut)))


def _big_statement(count: int) -> bytes:
    head = (FIXTURES / "extrato_banco_a_1252.ofx").read_bytes()
    start, end = head.index(b"<STMTTRN>"), head.rindex(b"</BANKTRANLIST>")
    one = (
        "<STMTTRN>\r\n<TRNTYPE>CREDIT\r\n<DTPOSTED>20261202093000[-3:BRT]\r\n<TRNAMT>{n},00\r\n"
        "<FITID>F{n}\r\n<MEMO>PIX RECEBIDO JOSÉ DA SILVA {n}\r\n</STMTTRN>\r\n"
    )
    body = "".join(one.format(n=n) for n in range(1, count + 1)).encode("cp1252")
    return head[:start] + body + head[end:]


# Run in a process of its own: tracemalloc's peak counts every thread's allocations, and a long test process
# has background threads (servers, schedulers of earlier tests) whose garbage would be charged to the parser.
_PEAK_SCRIPT = """
import gc, io, json, sys, tracemalloc
from billing.payments.ofx import read_transactions
peaks = []
for path, count in zip(sys.argv[1::2], sys.argv[2::2]):
    data = open(path, "rb").read()  # made before tracing starts: not counted
    best = None
    for _ in range(2):
        gc.collect()
        tracemalloc.start()
        n = sum(1 for _ in read_transactions(io.BytesIO(data)))
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert n == int(count), (n, count)
        best = top if best is None else min(best, top)
    peaks.append(best)
print(json.dumps(peaks))
"""


def test_memory_stays_flat_as_the_statement_grows(tmp_path):
    """Sixteen times the lines, the same peak (each size measured twice, the smaller peak kept). A per-line
    cost of even 25 bytes would add 187 kB here."""
    args = []
    for count in (500, 8000):
        path = tmp_path / f"extrato_{count}.ofx"
        path.write_bytes(_big_statement(count))
        args += [str(path), str(count)]
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, *args],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    small, large = json.loads(done.stdout)
    assert large < small + 64 * 1024, (small, large)
