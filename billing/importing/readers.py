"""Streaming readers: turn a JSON, CSV or XLSX file into (row number, {canonical field: raw value}, problem).

Each reader yields one tuple per data row and never holds the whole file: ijson for JSON, the csv module over
a decoding text stream for CSV, openpyxl read-only for XLSX. A problem with the file as a whole (not JSON,
truncated, unknown encoding, required columns missing…) raises ApplicationError with a pt-BR message; a
problem with one row (an item that is not an object, more cells than headers) is yielded as that row's
`problem` so it can be reported like any other row error.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cobranca.exceptions import ApplicationError

from .columns import ColumnPlan
from .fields import field_for_header
from .rows import RowTuple, RowWarnings, _fatal, _map_header
from .xlsx import check_xlsx_archive, iter_xlsx

__all__ = ["check_xlsx_archive", "detect_format", "iter_csv", "iter_json", "iter_xlsx", "open_rows"]

FORMATS = ("json", "csv", "xlsx")
MAX_HEADER_LINE = 1024 * 1024
MAX_COLUMNS = 200
_EXTENSIONS = {".json": "json", ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


def detect_format(path: Path, filename: str, fmt: str | None) -> str:
    """The file's format: by its content's magic bytes first (a renamed XLSX is still a ZIP), then the
    extension, then its first character."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise _fatal("O arquivo está vazio.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _fatal("Arquivos .xls (Excel 97-2003) não são aceitos: salve a planilha como .xlsx ou CSV.")
    by_content = "xlsx" if head.startswith(b"PK\x03\x04") else None
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise _fatal(f"Formato desconhecido: {fmt}. Use json, csv ou xlsx.", field="format")
        if by_content == "xlsx" and fmt != "xlsx":
            raise _fatal(f"O arquivo é uma planilha XLSX (ZIP), não {fmt.upper()}.")
        if fmt == "xlsx" and by_content != "xlsx":
            raise _fatal("O arquivo não é uma planilha XLSX válida.")
        return fmt
    if by_content:
        return by_content
    ext = _EXTENSIONS.get(Path(filename or "").suffix.lower())
    if ext == "json":
        return ext
    # A CSV header never starts with '[' or '{': such a .txt/.csv (or extension-less) file is JSON.
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if stripped[:1] in (b"[", b"{") else "csv"


def open_rows(
    path: Path,
    file_format: str,
    warnings: list[str],
    row_warnings: RowWarnings | None = None,
    plan: ColumnPlan | None = None,
) -> Iterator[RowTuple]:
    """The rows of the file. `warnings` collects notes about the whole file; `row_warnings`, when given,
    notes about single rows, appended while the row is yielded (the caller drains it per row); `plan`, when
    given, maps a spreadsheet's unknown columns and records them (JSON keys are not mapped)."""
    if file_format == "json":
        return iter_json(path, warnings)
    if file_format == "csv":
        return iter_csv(path, warnings, row_warnings, plan)
    if file_format == "xlsx":
        return iter_xlsx(path, warnings, plan)
    raise _fatal(f"Formato desconhecido: {file_format}.")


# --- JSON
# --------------------------------------------------------------------------------------------------------


def iter_json(path: Path, warnings: list[str]) -> Iterator[RowTuple]:
    import ijson

    with open(path, "rb") as fh:
        head = fh.read(4096)
        offset = 3 if head.startswith(codecs.BOM_UTF8) else 0
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise _fatal("O JSON deve estar codificado em UTF-8.")
        first = head[offset:].lstrip(b" \t\r\n")[:1]
        if not first:
            raise _fatal("O arquivo está vazio.")
        if first == b"{":
            raise _fatal('O JSON deve ser uma lista de cobranças: [{"id": …, "name": …, "phone": …}, …].')
        if first != b"[":
            raise _fatal("O arquivo não é um JSON válido: ele deve começar com '['.")
        fh.seek(offset)
        # Items of one file nearly always share their keys: map each distinct key tuple to fields once.
        layouts: dict[tuple, list[tuple[str, str]]] = {}
        ignored: set[str] = set()
        row = 0
        try:
            for item in ijson.items(fh, "item"):
                row += 1
                if not isinstance(item, dict):
                    yield (
                        row,
                        None,
                        "cada item da lista deve ser um objeto com nome, telefone, valor e vencimento",
                    )
                    continue
                keys = tuple(item)
                pairs = layouts.get(keys)
                if pairs is None:
                    pairs = _layout(keys, ignored)
                    if len(layouts) < 1000:
                        layouts[keys] = pairs
                values: dict[str, object] = {}
                for key, field in pairs:
                    value = item[key]
                    if field not in values or values[field] in (None, ""):
                        values[field] = value
                yield row, values, None
        except ijson.IncompleteJSONError as exc:
            raise _json_error(exc, row) from None
        except ijson.JSONError as exc:
            raise _json_error(exc, row) from None
        except UnicodeDecodeError:
            raise _fatal("O JSON deve estar codificado em UTF-8.") from None
    if ignored:
        warnings.append(f"Campos ignorados: {', '.join(sorted(ignored))}.")


def _layout(keys: tuple, ignored: set[str]) -> list[tuple[str, str]]:
    pairs = []
    for key in keys:
        field = field_for_header(key)
        if field is None:
            if len(ignored) < 20:
                ignored.add(str(key)[:40])
        else:
            pairs.append((key, field))
    return pairs


def _json_error(exc: Exception, row: int) -> ApplicationError:
    text = str(exc)
    if "utf" in text.lower() or "byte" in text.lower():
        return _fatal("O JSON deve estar codificado em UTF-8.", after_row=row)
    if "incomplete" in text.lower() or "premature" in text.lower():
        return _fatal(f"JSON incompleto (truncado) depois do item {row}. Nada foi importado.", after_row=row)
    return _fatal(
        f"JSON inválido depois do item {row}. Nada foi importado.", after_row=row, detail=text[:200]
    )


# --- CSV
# ---------------------------------------------------------------------------------------------------------


# A UTF-8 file in which some bytes are not UTF-8 (a line edited by a cp1252 program): read by `_MixedText`.
MIXED = "utf-8+cp1252"
# A well-formed multi-byte UTF-8 sequence: text that contains one is UTF-8, whatever else it contains.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _has_utf8_sequences(fh: IO[bytes]) -> bool:
    fh.seek(0)
    tail = b""
    while block := fh.read(1 << 20):
        if _UTF8_MULTIBYTE.search(tail + block):
            return True
        tail = block[-3:]  # a sequence cut by the block boundary
    return False


def detect_encoding(path: Path) -> str:
    """utf-8-sig (Excel "CSV UTF-8"), UTF-16 with BOM (Excel "Texto Unicode"), UTF-8, else cp1252 (Excel "CSV"
    on Windows), else latin-1. The whole file is checked for UTF-8 validity, in blocks, so a cp1252 'ç' on
    line 900,000 is not a crash halfway through the import.

    A file that is not valid UTF-8 but holds well-formed UTF-8 sequences is UTF-8 with stray cp1252 bytes
    (MIXED): decoding all of it as cp1252 would turn every 'ã' of the good lines into 'Ã£' and overwrite
    correct names with mojibake, so it is decoded line by line instead (`_MixedText`)."""
    with open(path, "rb") as fh:
        first = fh.read(1 << 16)
        if first.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        else:
            encoding = "utf-8"
        if b"\x00" in first:
            from charset_normalizer import from_bytes

            best = from_bytes(first).best()
            if best and best.encoding.startswith("utf_16"):
                sample = str(best)[:2000]
                printable = sum(1 for c in sample if c.isprintable() or c in "\r\n\t")
                if sample and printable / len(sample) > 0.95:
                    return best.encoding
            raise _fatal(
                "O arquivo não parece ser um CSV de texto (contém bytes nulos). Envie CSV, JSON ou XLSX."
            )
        decoder = codecs.getincrementaldecoder("utf-8")()
        block = first[3:] if encoding == "utf-8-sig" else first
        try:
            while block:
                decoder.decode(block)
                block = fh.read(1 << 20)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            pass
        if _has_utf8_sequences(fh):
            return MIXED
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("cp1252")()
        try:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def _single_byte(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return bytes([byte]).decode("latin-1")


class _MixedText:
    """A text stream over a UTF-8 file with stray single-byte characters: each line is decoded as UTF-8, and
    only the bytes that are not UTF-8 are decoded as cp1252 (Excel on Windows). Each such byte is recorded
    (offset in the file, byte, character) until `take_bad()`, so the caller can name the row that held it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._offset = 0
        self._bad: list[tuple[int, int, str]] = []

    def readline(self, limit: int = -1) -> str:
        raw = self._fh.readline(limit)
        start = self._offset
        self._offset += len(raw)
        parts, pos = [], 0
        while True:
            try:
                parts.append(raw[pos:].decode("utf-8"))
                break
            except UnicodeDecodeError as exc:
                bad_at = pos + exc.start
                parts.append(raw[pos:bad_at].decode("utf-8"))
                char = _single_byte(raw[bad_at])
                parts.append(char)
                self._bad.append((start + bad_at, raw[bad_at], char))
                pos = bad_at + 1
        return "".join(parts)

    def __iter__(self) -> _MixedText:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def take_bad(self) -> list[tuple[int, int, str]]:
        bad, self._bad = self._bad, []
        return bad


def _bad_bytes_message(bad: list[tuple[int, int, str]]) -> str:
    where = ", ".join(
        f"byte 0x{byte:02X} na posição {offset} do arquivo (lido como '{char}')"
        for offset, byte, char in bad[:5]
    )
    more = f" e mais {len(bad) - 5}" if len(bad) > 5 else ""
    return (
        f"{where}{more} não é UTF-8 como o resto do arquivo: lido como Windows-1252; confira o texto desta "
        "linha"
    )


def _sniff_delimiter(line: str) -> str:
    counts = {d: 0 for d in (";", "\t", ",")}
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts.values())
    if best == 0:
        return ";"
    # Ties go to ';' then tab: a ',' is more often a decimal mark in pt-BR data than a separator.
    return next(d for d in (";", "\t", ",") if counts[d] == best)


def iter_csv(
    path: Path,
    warnings: list[str],
    row_warnings: RowWarnings | None = None,
    plan: ColumnPlan | None = None,
) -> Iterator[RowTuple]:
    encoding = detect_encoding(path)
    row_warnings = row_warnings if row_warnings is not None else []
    if encoding != MIXED:
        with open(path, encoding=encoding, newline="") as fh:
            yield from _csv_rows(fh, warnings, row_warnings, plan=plan)
        return
    with open(path, "rb") as raw:
        mixed = _MixedText(raw)
        yield from _csv_rows(mixed, warnings, row_warnings, mixed=mixed, plan=plan)
    warnings.append(
        "O arquivo está em UTF-8, mas algumas linhas têm caracteres em outra codificação (Windows-1252, "
        "típico de uma edição no Excel): só esses caracteres foram lidos como Windows-1252. Confira as "
        "linhas indicadas nos avisos."
    )


def _csv_rows(
    fh,
    warnings: list[str],
    row_warnings: RowWarnings,
    *,
    mixed: _MixedText | None = None,
    plan: ColumnPlan | None = None,
) -> Iterator[RowTuple]:
    line = fh.readline(MAX_HEADER_LINE)
    if line.startswith("\ufeff"):
        line = line[1:]
    delimiter = None
    if line.lower().startswith("sep=") and len(line.strip()) == 5:
        # Excel's "sep=;" hint line: not data, and Excel does not show it as a row.
        delimiter = line.strip()[4]
        line = fh.readline(MAX_HEADER_LINE)
    if not line.strip():
        raise _fatal("O arquivo está vazio ou a primeira linha (cabeçalho) está em branco.")
    if len(line) >= MAX_HEADER_LINE and not line.endswith(("\n", "\r")):
        raise _fatal("A primeira linha do CSV é longa demais para ser um cabeçalho (mais de 1 MB).")
    delimiter = delimiter or _sniff_delimiter(line)
    headers = next(csv.reader([line], delimiter=delimiter), [])
    if len(headers) > MAX_COLUMNS:
        raise _fatal(f"O cabeçalho tem colunas demais ({len(headers)}; máximo {MAX_COLUMNS}).")
    mapping = _map_header([h.strip() for h in headers], warnings, plan)
    if mixed is not None and (bad := mixed.take_bad()):
        warnings.append(f"Cabeçalho: {_bad_bytes_message(bad)}.")
    width = len(headers)
    reader = csv.reader(fh, delimiter=delimiter)
    row = 1
    try:
        for cells in reader:
            row += 1
            # The reader pulls exactly the physical lines of this record: their stray bytes are this row's.
            if mixed is not None and (bad := mixed.take_bad()):
                row_warnings.append((row, "linha", _bad_bytes_message(bad)))
            if not cells or not any(c.strip() for c in cells):
                continue
            problem = None
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                problem = (
                    f"a linha tem {len(cells)} colunas e o cabeçalho {width}: um valor com "
                    f"'{delimiter}' sem aspas?"
                )
            values = {field: cells[i] if i < len(cells) else None for i, field in mapping.items()}
            yield row, values, problem
    except csv.Error as exc:
        text = str(exc)
        if "field larger" in text:
            raise _fatal(
                f"Linha {row + 1}: campo grande demais (mais de 128 KB); o arquivo não parece um CSV "
                "de cobranças.",
                row=row + 1,
            ) from None
        raise _fatal(f"CSV inválido na linha {row + 1}: {text}.", row=row + 1) from None
    except UnicodeDecodeError:
        raise _fatal(
            "Não foi possível ler o arquivo: codificação desconhecida. Salve como CSV UTF-8."
        ) from None
