"""Hostile payloads shared by the unit tests and the attack script (tests/security/attack.py).

Everything is built in memory or in a temporary folder from a real openpyxl workbook, so the files look like
what an attacker would upload: a valid XLSX whose parts were swapped for hostile ones.
"""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook

SHEET_PART = "xl/worksheets/sheet1.xml"
SHARED_STRINGS_PART = "xl/sharedStrings.xml"
_SHEET_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_ROW = (
    '<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>Nome {r}</t></is></c>'
    '<c r="B{r}" t="inlineStr"><is><t>11987654321</t></is></c><c r="C{r}"><v>10</v></c>'
    '<c r="D{r}" t="inlineStr"><is><t>15/01/2030</t></is></c></row>'
)


def workbook_bytes() -> bytes:
    """A small valid import sheet: nome, telefone, valor, vencimento and one row."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["nome", "telefone", "valor", "vencimento"])
    sheet.append(["Ana Souza", "11987654321", 10, "15/01/2030"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _replace_parts(replacements: dict[str, bytes], *, extra_members: int = 0) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            target.writestr(info.filename, replacements.get(info.filename, source.read(info.filename)))
        for i in range(extra_members):
            target.writestr(f"xl/media/pad{i}.bin", b"")
    return out.getvalue()


def xlsx_zip_bomb(uncompressed_mb: int = 400) -> bytes:
    """A sheet of `uncompressed_mb` MB of repeated rows: a few hundred KB on the wire (the issue's 412 KB
    file expanded to 400 MB), streamed into the archive so building it never holds the expanded sheet."""
    head = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {_SHEET_NS}><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>nome</t></is></c><c r="B1" t="inlineStr"><is><t>telefone'
        '</t></is></c><c r="C1" t="inlineStr"><is><t>valor</t></is></c><c r="D1" t="inlineStr"><is><t>'
        "vencimento</t></is></c></row>"
    ).encode()
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != SHEET_PART:
                target.writestr(info.filename, source.read(info.filename))
        with target.open(SHEET_PART, "w", force_zip64=True) as sheet:
            sheet.write(head)
            # Identical rows (same row number) compress best; the reader never gets that far anyway.
            block = _ROW.format(r=2).encode() * 4096
            written = len(head)
            while written < uncompressed_mb * 1024 * 1024:
                sheet.write(block)
                written += len(block)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def xlsx_shared_strings_bomb(strings: int = 3_000_000) -> bytes:
    """A shared-strings table of `strings` one-letter entries (the attacker's file: 3,000,000 of them are
    51 MB unpacked from ~125 KB, under the total cap); openpyxl loads the whole table into memory."""
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != SHARED_STRINGS_PART:
                target.writestr(info.filename, source.read(info.filename))
        with target.open(SHARED_STRINGS_PART, "w", force_zip64=True) as table:
            table.write(f'<?xml version="1.0" encoding="UTF-8"?><sst {_SHEET_NS} count="{strings}">'.encode())
            block = b"<si><t>a</t></si>" * 10_000
            for _ in range(strings // 10_000):
                table.write(block)
            table.write(b"<si><t>a</t></si>" * (strings % 10_000) + b"</sst>")
    return out.getvalue()


def xlsx_with_many_members(members: int) -> bytes:
    """A valid workbook padded with `members` empty files: each costs a ZipInfo object before any check."""
    return _replace_parts({}, extra_members=members)


def _sheet_with_dtd(dtd: str, cell: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{dtd}\n<worksheet {_SHEET_NS}><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>nome</t></is></c><c r="B1" t="inlineStr"><is><t>telefone'
        '</t></is></c><c r="C1" t="inlineStr"><is><t>valor</t></is></c><c r="D1" t="inlineStr"><is><t>'
        'vencimento</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>'
        f"{cell}</t></is></c>"
        '<c r="B2" t="inlineStr"><is><t>11987654321</t></is></c><c r="C2"><v>10</v></c>'
        '<c r="D2" t="inlineStr"><is><t>15/01/2030</t></is></c></row></sheetData></worksheet>'
    ).encode()


def xlsx_entity_bomb() -> bytes:
    """Billion laughs in the worksheet: ten levels of ten references, 10^9 'lol's if expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    dtd = f"<!DOCTYPE worksheet [{''.join(entities)}]>"
    return _replace_parts({SHEET_PART: _sheet_with_dtd(dtd, "&lol9;")})


def xlsx_external_entity(target: str = "file:///etc/passwd") -> bytes:
    """XXE: a cell whose text is an external entity pointing at a local file."""
    dtd = f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "{target}">]>'
    return _replace_parts({SHEET_PART: _sheet_with_dtd(dtd, "&xxe;")})


def ofx_statement(amount: str) -> bytes:
    """A one-line OFX 1.02 (SGML) statement whose TRNAMT is `amount` as written (third outside test)."""
    head = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
    head += "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    body = (
        "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>BRL\n"
        "<BANKACCTFROM><BANKID>0999<BRANCHID>0042<ACCTID>9999<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        "<BANKTRANLIST><DTSTART>20261201<DTEND>20261207\n"
        f"<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261207100000[-3:BRT]<TRNAMT>{amount}<FITID>ATK17\n"
        "<NAME>TERCEIRO<MEMO>PIX RECEBIDO</STMTTRN>\n"
        "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    return (head + body).encode("ascii")
