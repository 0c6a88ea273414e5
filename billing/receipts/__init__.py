"""Pix receipts ("comprovantes") a debtor sends: reading them (`read_receipt`), checking them against the
charge (`billing.receipts.checks`), and the generator of test receipts (`billing.receipts.generator`).
See docs/receipts.md."""

from __future__ import annotations

import tempfile
from pathlib import Path

from billing.receipts.fields import ReceiptReading, extract
from billing.receipts.files import MAX_BYTES, PDF, ReceiptRefused, check_file

__all__ = ["ReceiptReading", "ReceiptRefused", "read_receipt"]


def _load(path_or_bytes: str | Path | bytes) -> tuple[bytes, str | None]:
    if isinstance(path_or_bytes, bytes | bytearray):
        return bytes(path_or_bytes), None
    path = Path(path_or_bytes)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReceiptRefused(f"Arquivo não encontrado: {path.name}.") from exc
    if size > MAX_BYTES:  # refused before reading it into memory
        raise ReceiptRefused(f"Arquivo grande demais ({size // (1024 * 1024)} MB; limite 20 MB).")
    return path.read_bytes(), path.name


def read_receipt(path_or_bytes: str | Path | bytes, content_type: str | None = None) -> ReceiptReading:
    """Read a receipt (picture or PDF) into its fields. Raises ReceiptRefused (with a pt-BR reason) for a
    file that is not a picture or PDF, lies about its type, or is too big to read safely.

    CPU-bound (up to a few seconds of OCR): call it from a worker task, never in a request."""
    from billing.receipts import ocr  # Pillow and pytesseract only where receipts are read

    content, filename = _load(path_or_bytes)
    kind, _real = check_file(content, content_type=content_type, filename=filename)
    if kind == PDF:
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(content)
            tmp.flush()
            text = ocr.pdf_text(Path(tmp.name))
            if sum(ch.isalnum() for ch in text) >= 20:
                reading = extract(text)
                reading.source = "pdf_text"
                return reading
            image = ocr.pdf_first_page(Path(tmp.name))
        source = "pdf_ocr"
    else:
        image = ocr.open_image(content)
        source = "image_ocr"
    text, quality, id_rereads = ocr.ocr(ocr.clean(image))
    reading = extract(text, ocr_quality=quality, id_rereads=id_rereads)
    reading.source = source
    return reading
