"""Which receipt files are read at all. The type comes from the file's own first bytes; a file whose declared
type (its name's extension or the type the phone announced) says otherwise is refused, as are files that would
cost the worker unbounded time or memory: over MAX_BYTES, pictures over MAX_PIXELS (a small file can unpack to
gigabytes), animated pictures, PDFs with too many pages. Every refusal carries a pt-BR reason for the
operator."""

from __future__ import annotations

import mimetypes

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 1170×2532 screenshot is 3 MP; a 12 MP photo still passes
MAX_PDF_PAGES = 20
MAX_TEXT_CHARS = 200_000

IMAGE, PDF = "image", "pdf"
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, IMAGE, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, IMAGE, "image/png"),
    (b"GIF87a", 0, IMAGE, "image/gif"),
    (b"GIF89a", 0, IMAGE, "image/gif"),
    (b"%PDF-", 0, PDF, "application/pdf"),
)
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}


class ReceiptRefused(Exception):
    """The file is not read; `reason` says why in pt-BR."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sniff(content: bytes) -> tuple[str, str] | None:
    """(kind, content type) by magic bytes: JPEG, PNG, GIF, WebP or PDF; None for anything else."""
    for signature, offset, kind, content_type in _SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            return kind, content_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return IMAGE, "image/webp"
    return None


def declared_type(content_type: str | None, filename: str | None) -> str | None:
    """The type the sender claims: the announced content type, else the one the file name's extension
    implies."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if not declared and filename:
        declared = mimetypes.guess_type(filename)[0] or ""
    declared = _ALIASES.get(declared, declared)
    return declared or None


def check_file(
    content: bytes, *, content_type: str | None = None, filename: str | None = None
) -> tuple[str, str]:
    """(kind, real content type) of a file we accept to read, or ReceiptRefused."""
    if len(content) > MAX_BYTES:
        raise ReceiptRefused(f"Arquivo grande demais ({len(content) // (1024 * 1024)} MB; limite 20 MB).")
    if not content:
        raise ReceiptRefused("Arquivo vazio.")
    found = sniff(content)
    if found is None:
        raise ReceiptRefused("O arquivo não é uma imagem (JPEG, PNG, WebP, GIF) nem um PDF.")
    kind, real = found
    declared = declared_type(content_type, filename)
    if declared and declared != "application/octet-stream" and declared != real:
        raise ReceiptRefused(f"O arquivo diz ser {declared}, mas o conteúdo é {real}: recusado.")
    return kind, real
