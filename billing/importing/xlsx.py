"""The XLSX reader: the archive checked against ZIP bombs first, then openpyxl in read-only mode."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from cobranca.exceptions import ApplicationError

from .columns import ColumnPlan
from .rows import RowTuple, _fatal, _map_header

# Why the archive is checked before openpyxl sees it: an XLSX is a ZIP of XML parts, and a few hundred KB can
# inflate to gigabytes (issue #10: 412 KB → 400 MB took a worker to ~1 GB). zipfile reads the whole central
# directory into ZipInfo objects when it opens an archive, and never inflates a member past the size the
# central directory declares (a member that lies ends in a CRC error), so three numbers bound everything:
# the central directory's size (checked from the end record, before ZipFile builds one object per entry),
# the member count, and the sum of the declared uncompressed sizes.
MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024
# The total cap alone let through a 125 KB file whose shared-strings table unpacked to 51 MB (ratio ~400):
# openpyxl loads that table whole, so it cost 53 s and ~750 MB. Real sheets compress 5-30x (a generated
# 100,000-row workbook: 9.4x), so a member past this size is also held to XLSX_MAX_RATIO, and the
# shared-strings table has its own cap (XLSX_MAX_SHARED_STRINGS_BYTES).
RATIO_CHECKED_FROM_BYTES = 1024 * 1024
SHARED_STRINGS_PART = "xl/sharedStrings.xml"


def _too_many_members(count: int | str, limit: int) -> ApplicationError:
    return _fatal(
        f"Planilha XLSX recusada: tem {count} arquivos internos (limite {limit}). Uma planilha de cobranças "
        "tem poucas dezenas; salve-a de novo no Excel ou LibreOffice.",
        limit_members=limit,
    )


def check_xlsx_archive(path: Path) -> None:
    """Refuse a ZIP bomb from the archive's directory alone (nothing is inflated). Limits:
    XLSX_MAX_MEMBERS, XLSX_MAX_UNCOMPRESSED_BYTES, XLSX_MAX_RATIO and XLSX_MAX_SHARED_STRINGS_BYTES
    (settings)."""
    import zipfile

    from django.conf import settings

    max_members = settings.XLSX_MAX_MEMBERS
    max_bytes = settings.XLSX_MAX_UNCOMPRESSED_BYTES
    try:
        with open(path, "rb") as fh:
            # zipfile's own end-record reader (also handles ZIP64); private, but stable since Python 2 and
            # the only way to see the directory's size before ZipFile() parses all of it.
            end = zipfile._EndRecData(fh)
        if end is None:
            raise zipfile.BadZipFile("no end of central directory record")
        entries, directory_size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
        if entries > max_members or directory_size > MAX_CENTRAL_DIRECTORY_BYTES:
            raise _too_many_members(entries if entries > max_members else "milhares de", max_members)
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _fatal("Planilha XLSX inválida ou corrompida.", detail=str(exc)[:200]) from None
    if len(members) > max_members:
        raise _too_many_members(len(members), max_members)
    expanded = sum(member.file_size for member in members)
    if expanded > max_bytes:
        raise _fatal(
            f"Planilha XLSX recusada: descompactada ela teria {expanded // (1024 * 1024)} MB (limite "
            f"{max_bytes // (1024 * 1024)} MB). Divida a planilha ou envie os dados como CSV.",
            limit_bytes=max_bytes,
            uncompressed_bytes=expanded,
        )
    _check_members(members, settings.XLSX_MAX_RATIO, settings.XLSX_MAX_SHARED_STRINGS_BYTES)


def _check_members(members: list, max_ratio: int, max_shared_strings: int) -> None:
    for member in members:
        if member.file_size > RATIO_CHECKED_FROM_BYTES:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > max_ratio:
                raise _fatal(
                    f"Planilha XLSX recusada: a parte interna {member.filename} tem taxa de compactação "
                    f"{ratio:.0f}:1 (limite {max_ratio}:1), típica de arquivo malicioso e não de planilha. "
                    "Salve a planilha de novo no Excel ou LibreOffice, ou envie os dados como CSV.",
                    member=member.filename,
                    ratio=round(ratio),
                    limit_ratio=max_ratio,
                )
        if member.filename == SHARED_STRINGS_PART and member.file_size > max_shared_strings:
            raise _fatal(
                f"Planilha XLSX recusada: a tabela de textos compartilhados tem "
                f"{member.file_size // (1024 * 1024)} MB descompactada (limite "
                f"{max_shared_strings // (1024 * 1024)} MB). Divida a planilha ou envie os dados como CSV.",
                member=member.filename,
                limit_shared_strings_bytes=max_shared_strings,
            )


def _from_defusedxml(exc: BaseException | None) -> bool:
    """openpyxl wraps parser errors in its own ValueError: look down the chain for defusedxml's refusal."""
    from defusedxml import DefusedXmlException

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DefusedXmlException):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _xml_entities_refused() -> ApplicationError:
    return _fatal(
        "Planilha XLSX recusada: contém declarações de entidades XML (DTD), que não são aceitas por "
        "segurança. Salve a planilha de novo no Excel ou LibreOffice.",
        reason="xml_entities",
    )


def iter_xlsx(path: Path, warnings: list[str], plan: ColumnPlan | None = None) -> Iterator[RowTuple]:
    import zipfile
    from xml.etree.ElementTree import ParseError

    from openpyxl import DEFUSEDXML, load_workbook
    from openpyxl.utils.datetime import from_excel
    from openpyxl.utils.exceptions import InvalidFileException

    if not DEFUSEDXML:
        # openpyxl parses with defusedxml only when it is installed and OPENPYXL_DEFUSEDXML is not False;
        # without it an entity bomb reaches expat. Refuse to read XLSX at all rather than read it unsafely.
        raise _fatal("Leitura de XLSX desativada neste servidor (defusedxml ausente); envie um CSV.")
    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, ParseError) as exc:
        if _from_defusedxml(exc):
            raise _xml_entities_refused() from None
        raise _fatal("Planilha XLSX inválida ou corrompida.", detail=str(exc)[:200]) from None
    try:
        sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        if not sheets:
            raise _fatal("A planilha não tem nenhuma aba com dados.")
        sheet = sheets[0]
        # Files written by some tools declare a wrong dimension (A1:A1); read everything that is there.
        sheet.reset_dimensions()
        rows = sheet.iter_rows(values_only=True)
        header_row = 0
        headers: list[object] = []
        for header_row, cells in enumerate(rows, start=1):
            if any(c not in (None, "") for c in cells):
                headers = [c.strip() if isinstance(c, str) else c for c in cells]
                break
            if header_row >= 20:
                break
        if not headers:
            raise _fatal("A planilha está vazia: nenhum cabeçalho nas primeiras 20 linhas.")
        mapping = _map_header(headers, warnings, plan)
        due_index = next(i for i, f in mapping.items() if f == "due_date")
        for row, cells in enumerate(rows, start=header_row + 1):
            if not any(c not in (None, "") and not (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            values = {field: cells[i] if i < len(cells) else None for i, field in mapping.items()}
            due = values.get("due_date")
            if isinstance(due, (int, float)) and not isinstance(due, bool) and due_index < len(cells):
                # A date typed into a cell without date format arrives as the Excel serial number.
                values["due_date"] = from_excel(due) if 1 <= due <= 2958465 else due
                if isinstance(values["due_date"], dt.datetime):
                    values["due_date"] = values["due_date"].date()
            yield row, values, None
    except (zipfile.BadZipFile, KeyError, ValueError, ParseError) as exc:
        if _from_defusedxml(exc):
            raise _xml_entities_refused() from None
        raise _fatal("Planilha XLSX inválida ou corrompida.", detail=str(exc)[:200]) from None
    finally:
        workbook.close()
