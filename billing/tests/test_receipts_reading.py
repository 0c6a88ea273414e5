"""Reading Pix receipts (billing.receipts): field extraction from text, refusals, the read_receipt command,
and a few generated receipts read end to end with Tesseract and poppler (marked `ocr`)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import shutil
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from billing.receipts import ReceiptRefused, documents, ocr, read_receipt
from billing.receipts.checks import Creditor
from billing.receipts.fields import SAO_PAULO, e2eid_valid, extract
from billing.receipts.generator import generate, image_pdf, random_cnpj, random_cpf

CREDITOR = Creditor("Cobrança Inteligente Demo Ltda", "00.000.000/0001-91", "pix@cobranca.example")
TOOLS = ("tesseract", "pdftotext", "pdftoppm", "pdfinfo", "pdfimages")


@pytest.fixture
def ocr_tools():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"Ausentes: {', '.join(missing)}; instale com `make ocr`."
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


RECEIPT_TEXT = """Comprovante de transferência
11 ABR 2026 - 01:24:56
Valor
R$ 1.242,96
Destino
Nome Cobrança Inteligente Demo Ltda
CNP) 00.000.000/0001-91
Instituição Mercado Pago
Origem
Nome João Ribeiro Silva
Instituição Itaú Unibanco
CPF *++,063.608-**
ID da transação:
E60701190202604110424f63f0cd0e87
"""


def test_it_reads_every_field_of_a_receipt_text():
    reading = extract(RECEIPT_TEXT)
    assert reading.as_json() == {
        "amount": "1242.96",
        "paid_at": "2026-04-11T01:24:56-03:00",
        "e2eid": "E60701190202604110424f63f0cd0e87",
        "recipient_name": "Cobrança Inteligente Demo Ltda",
        "recipient_document": "00.000.000/0001-91",
        "payer_name": "João Ribeiro Silva",
        "bank": "Itaú Unibanco",
        "confidence": reading.as_json()["confidence"],
    }
    # The date agrees with the minute inside the e2eid (04:24 UTC = 01:24 in São Paulo).
    assert reading.confidence["paid_at"] > 0.9
    assert reading.confidence["recipient_document"] > 0.9


def test_it_repairs_o_and_i_confusions_in_the_digits_of_the_e2eid():
    text = "ID da transação\nE6O7O119O2O26O4I1O424f63f0cd0e87"
    reading = extract(text)
    assert reading.e2eid == "E60701190202604110424f63f0cd0e87"
    assert reading.confidence["e2eid"] < 0.95  # corrected, so less sure than a clean read


def test_it_refuses_an_e2eid_whose_embedded_date_is_impossible():
    assert e2eid_valid("E60701190202604110424f63f0cd0e87")
    assert not e2eid_valid("E60701190202613110424f63f0cd0e87")  # month 13
    assert extract("ID: E60701190202602300424f63f0cd0e87").e2eid is None  # 30 February


def test_it_takes_the_date_from_the_e2eid_when_the_text_has_none():
    reading = extract("Pix enviado\nR$ 10,00\nE60701190202604110424f63f0cd0e87")
    assert reading.paid_at == dt.datetime(2026, 4, 11, 1, 24, tzinfo=SAO_PAULO)
    assert reading.confidence["paid_at"] <= 0.5


def test_it_keeps_every_distinct_amount_so_an_edited_one_shows():
    reading = extract("Pix realizado\nvalor: R$ 500,00\ntarifa: R$ 0,00\nvalor total: R$ 50,00")
    assert reading.amount == Decimal("500.00")
    assert reading.amounts_seen == [Decimal("500.00"), Decimal("50.00")]
    assert reading.confidence["amount"] < 0.9


def test_it_reads_the_sentence_layout_and_a_masked_cpf():
    text = "Pix enviado\nVocê pagou R$ 35,50\npara Maria Souza Lima\nem 05 de dezembro de 2026 às 14h32\n"
    text += "Recebedor\nCPF ***.123.456-**\nPagador\nNome José Alves"
    reading = extract(text)
    assert reading.amount == Decimal("35.50")
    assert reading.recipient_name == "Maria Souza Lima"
    assert reading.recipient_document == "***.123.456-**"
    assert reading.paid_at == dt.datetime(2026, 12, 5, 14, 32, tzinfo=SAO_PAULO)
    assert reading.payer_name == "José Alves"


def test_documents_count_only_with_valid_check_digits():
    rng = random.Random(3)
    cpf, cnpj = random_cpf(rng), random_cnpj(rng)
    assert documents.find_document(f"CPF {cpf}")[0] == documents.format_document(cpf)
    assert documents.find_document(f"CNPJ {documents.format_document(cnpj)}")[0] == documents.format_document(
        cnpj
    )
    broken = cnpj[:-1] + str((int(cnpj[-1]) + 1) % 10)
    assert documents.find_document(f"CNPJ {broken}") is None


# --- Refusals -----------------------------------------------------------------------------------------------


def test_it_refuses_a_file_over_20_mb_before_decoding_it(tmp_path):
    big = tmp_path / "grande.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024 + 1))
    with pytest.raises(ReceiptRefused, match="grande demais"):
        read_receipt(big)
    with pytest.raises(ReceiptRefused, match="grande demais"):
        read_receipt(big.read_bytes())


def test_it_refuses_a_decompression_bomb_from_its_header():
    buffer = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buffer, "PNG")  # 144 megapixels in a few kilobytes
    assert len(buffer.getvalue()) < 1024 * 1024
    with pytest.raises(ReceiptRefused, match="grande demais"):
        read_receipt(buffer.getvalue())


def test_it_refuses_an_animated_gif():
    buffer = io.BytesIO()
    frames = [Image.new("L", (64, 64), color) for color in (0, 255)]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(ReceiptRefused, match="animada"):
        read_receipt(buffer.getvalue())


def test_it_refuses_a_file_that_lies_about_its_type(tmp_path):
    buffer = io.BytesIO()
    Image.new("L", (32, 32), 255).save(buffer, "JPEG")
    with pytest.raises(ReceiptRefused, match="diz ser image/png"):
        read_receipt(buffer.getvalue(), content_type="image/png")
    disguised = tmp_path / "comprovante.pdf"
    disguised.write_bytes(buffer.getvalue())
    with pytest.raises(ReceiptRefused, match="diz ser application/pdf"):
        read_receipt(disguised)


def test_it_refuses_what_is_neither_a_picture_nor_a_pdf(tmp_path):
    with pytest.raises(ReceiptRefused, match="não é uma imagem"):
        read_receipt(b"<html><script>alert(1)</script></html>")
    with pytest.raises(ReceiptRefused, match="não é uma imagem"):
        read_receipt(b"MZ\x90\x00" + b"\0" * 100, content_type="image/jpeg")


def _pdf_with_pages(count: int, media_box: str = "0 0 200 200") -> bytes:
    """A small PDF of `count` empty pages (a page-count bomb when count is big: ~60 bytes a page)."""
    kids = " ".join(f"{3 + n} 0 R" for n in range(count))
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {count} >>"]
    objects += [f"<< /Type /Page /Parent 2 0 R /MediaBox [{media_box}] >>"] * count
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.mark.ocr
def test_it_refuses_a_pdf_with_thousands_of_pages(ocr_tools):
    with pytest.raises(ReceiptRefused, match="páginas demais"):
        read_receipt(_pdf_with_pages(5000))


@pytest.mark.ocr
def test_a_pdf_with_a_giant_page_is_rasterised_at_a_bounded_size(ocr_tools):
    # 14400 × 14400 points (the PDF maximum) is ~400 megapixels at 100 dpi; the page is drawn at 2000 px.
    reading = read_receipt(_pdf_with_pages(1, "0 0 14400 14400"))
    assert reading.source == "pdf_ocr"
    assert reading.amount is None


@pytest.mark.ocr
@pytest.mark.parametrize(
    ("picture", "long_side"), [((1170, 2532), 2532), ((900, 1600), 2000), ((2000, 4400), 3200)]
)
def test_a_pdf_of_one_picture_is_rasterised_at_the_pictures_own_size(ocr_tools, tmp_path, picture, long_side):
    # A shared screenshot (1170 × 2532 on a 585 × 1266 pt page) drawn at 2000 px lost a fifth of its pixels,
    # and with them the strokes that tell the e2eid's look-alikes apart (image-only PDFs: 68 % of ids read).
    path = tmp_path / "page.pdf"
    path.write_bytes(image_pdf(Image.new("RGB", picture, "white")))
    page = ocr.pdf_first_page(path)
    assert max(page.size) == long_side  # never below 2000 px, never above 3200 px


@pytest.mark.ocr
def test_a_broken_pdf_is_refused_not_crashed(ocr_tools):
    with pytest.raises(ReceiptRefused, match="PDF corrompido"):
        read_receipt(b"%PDF-1.4\n garbage without objects")


# --- The command and generated receipts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("receipts")
    # The tuning seed (never the bench's): its first six are one per layout, dark, rotated, both PDFs.
    labels = generate(out, count=6, seed=1, creditor=CREDITOR, fake_rate=0)
    return out, labels


@pytest.mark.ocr
def test_the_command_prints_one_json_object_with_the_contract_keys(ocr_tools, generated, capsys):
    out, labels = generated
    pdf = next(label for label in labels if label["format"] == "pdf_text")
    call_command("read_receipt", str(out / pdf["file"]))
    printed = capsys.readouterr().out.strip()
    data = json.loads(printed)
    assert list(data) == [
        "amount", "paid_at", "e2eid", "recipient_name", "recipient_document", "payer_name", "bank",
        "confidence",
    ]  # fmt: skip
    for field in ("amount", "paid_at", "e2eid", "recipient_document"):
        assert data[field] == pdf["shown"][field]


def test_the_command_exits_1_with_a_reason_for_a_file_that_is_not_a_receipt(tmp_path):
    text = tmp_path / "notas.txt"
    text.write_text("não sou um comprovante")
    with pytest.raises(CommandError, match="não é uma imagem") as caught:
        call_command("read_receipt", str(text))
    assert caught.value.returncode == 1


@pytest.mark.ocr
def test_generated_screenshots_and_pdfs_are_read(ocr_tools, generated):
    out, labels = generated
    assert len({label["layout"] for label in labels}) == 6
    right = {"amount": 0, "paid_at": 0, "recipient_document": 0}
    for label in labels:
        reading = read_receipt(out / label["file"]).as_json()
        for field in right:
            right[field] += reading[field] == label["shown"][field]
    # Six receipts, one per layout (dark, rotated, both kinds of PDF among them): at most one miss per field.
    assert all(count >= len(labels) - 1 for count in right.values()), right
