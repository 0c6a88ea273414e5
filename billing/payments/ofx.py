"""Read an OFX bank statement as a stream of transactions, one `<STMTTRN>` at a time.

The OFX itself is read by `ofxtools` (its SGML/XML tag parser and its typed fields: amounts with a comma
decimal, `DTPOSTED` with a bracketed timezone such as `20261205120000[-3:BRT]`). What this module adds is
what Brazilian exports need before the library sees them, and streaming:

- **Streaming**: ofxtools reads a whole document into one tree; here the body is cut at the transaction
  aggregates (`<STMTTRN>`…`</STMTTRN>`) and at the account (`<BANKACCTFROM>`/`<CCACCTFROM>`), and each
  piece is parsed alone, so memory stays flat whatever the statement's size. A transaction whose closing
  tag is missing ends at the next `<STMTTRN>` or at `</BANKTRANLIST>`.
- **Header**: read leniently (any order, blank lines, a BOM, `KEY: VALUE`, all on one line, unknown keys).
  OFX 2 (`<?xml …?>`, closing tags everywhere) goes through the same path.
- **Text**: each line is decoded as UTF-8 when it is valid UTF-8 (pure ASCII included), else in the declared
  single-byte charset (`CHARSET:ISO-8859-1` → latin-1, anything else, `1252` first of all, → cp1252). Banks
  that declare 1252 and write UTF-8 are read right; a cp1252 line with accents is never valid UTF-8 in
  practice.
- **Fields** before ofxtools converts them: tag names upper-cased; `TRNAMT` "1.234,56" → "1234.56"
  (ofxtools itself takes "150,00"); an unknown `TRNTYPE` (e.g. `PIX`) → `OTHER` (credits are told by the
  amount's sign, never by the type); a repeated `MEMO`/`NAME` joined; `MEMO` cut at 255 characters; the
  fields converted one by one with ofxtools' spec elements (`STMTTRN.from_etree` would refuse children out
  of the spec's order, and banks do not keep it);
  fields we do not use (`CHECKNUM`, `REFNUM`, sub-aggregates…) kept as raw text only, so their spec limits
  (CHECKNUM ≤ 12 characters) cannot reject a statement.
- **Dates** without an offset are local time of `default_tz` (Brasília), not UTC as ofxtools assumes.

Errors raise `OfxError` with the line and the field. This module is a leaf: it imports no app.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

from ofxtools import models as ofx_models
from ofxtools.Parser import TreeBuilder

__all__ = ["OfxError", "OfxTransaction", "read_transactions"]

# A line longer than this is read in pieces of this size (a statement written on one line stays streamed).
_PIECE = 1 << 20
# ofxtools logs every tag at DEBUG (and INFO per aggregate): tens of records per transaction, kept by any
# handler that captures DEBUG (pytest does). What matters here is raised, never logged.
logging.getLogger("ofxtools").setLevel(logging.WARNING)
_HEADER_MAX_BYTES = 64 * 1024
_LATIN1 = frozenset({"ISO-8859-1", "ISO8859-1", "LATIN1", "LATIN-1", "8859-1"})
_BOUNDARY = re.compile(r"<(/?)(STMTTRN|BANKACCTFROM|CCACCTFROM|BANKTRANLIST)\s*>", re.IGNORECASE)
_LOWER_TAG = re.compile(r"<[^>]*[a-z]")
_TAG = re.compile(r"<(/?)([A-Za-z0-9._]+)\s*>")
_HEADER_FIELD = re.compile(r"([A-Za-z]+)\s*:\s*([^\s<]*)")
# What we read from a transaction, validated and typed by ofxtools; the rest is kept raw.
_TYPED = ("TRNTYPE", "DTPOSTED", "DTUSER", "TRNAMT", "FITID", "NAME", "MEMO")
_REQUIRED = ("DTPOSTED", "TRNAMT", "FITID")
_SPEC = {name: ofx_models.STMTTRN.spec[name.lower()] for name in _TYPED}
_TRNTYPES = frozenset(ofx_models.STMTTRN.spec["trntype"].valid)
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")
# Plain digits with an optional decimal part: no exponent (1E+400), no NaN/Infinity (Decimal takes them all).
_PLAIN_AMOUNT = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")
# Payment amounts are DecimalField(max_digits=12, decimal_places=2): 10 whole digits, whole cents.
_MAX_AMOUNT = Decimal("9999999999.99")
_CENT = Decimal("0.01")


class OfxError(ValueError):
    """The statement cannot be read. `line` is the 1-based line of the file, `field` the OFX element."""

    def __init__(self, message: str, *, line: int | None = None, field: str = "") -> None:
        where = f"linha {line}" if line else ""
        if field:
            where = f"{where}, campo {field}" if where else f"campo {field}"
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.field = field
        self.detail = message


@dataclass(frozen=True, slots=True)
class OfxTransaction:
    account: str
    fitid: str
    trntype: str
    posted: dt.datetime
    amount: Decimal
    name: str
    memo: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)


def read_transactions(source: BinaryIO, *, default_tz: str = "America/Sao_Paulo") -> Iterator[OfxTransaction]:
    """Yield every transaction of the statement in file order (debits too: the caller filters)."""
    reader = _Reader(source, ZoneInfo(default_tz))
    yield from reader.transactions()


class _Reader:
    def __init__(self, source: BinaryIO, tz: ZoneInfo) -> None:
        self.source = source
        self.tz = tz
        self.codec = "cp1252"  # for the lines that are not valid UTF-8 (see `_decode`)
        self.line = 0
        self.account = ""

    # --- bytes → text, line by line ----------------------------------------------------------------------

    def _decode(self, raw: bytes) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode(self.codec, errors="replace")

    def _pieces(self) -> Iterator[tuple[int, str]]:
        """(line number, text) for the body, in pieces of at most ~1 MB that never split a character."""
        number, first = self._header()
        if first:
            yield number, first
        while True:
            raw = self.source.readline(_PIECE)
            if not raw:
                return
            while raw[-1] >= 0x80:  # do not cut a multi-byte character
                more = self.source.read(1)
                if not more:
                    break
                raw += more
            number = self.line + 1
            self.line += raw.count(b"\n")
            yield number, self._decode(raw)

    def _header(self) -> tuple[int, str]:
        """Read the header up to the first tag; return the body text found on the header's last line and
        that line's number."""
        seen = b""
        header_text = ""
        while len(seen) < _HEADER_MAX_BYTES:
            raw = self.source.readline(_HEADER_MAX_BYTES)
            if not raw:
                break
            seen += raw
            text = self._decode(raw).lstrip("\ufeff")
            number = self.line + 1
            self.line += raw.count(b"\n")
            at = text.find("<")
            if at < 0:
                header_text += text
                continue
            if text.lstrip().startswith("<?"):
                self.codec = "cp1252"  # the fallback for a line that is not UTF-8
                return number, re.sub(r"<\?.*?\?>", "", text)
            header_text += text[:at]
            self._read_header_fields(header_text)
            return number, text[at:]
        raise OfxError("não é um arquivo OFX: nenhuma tag <OFX> no início do arquivo", line=1)

    def _read_header_fields(self, text: str) -> None:
        fields = {k.upper(): v.strip().upper() for k, v in _HEADER_FIELD.findall(text)}
        if fields and "OFXHEADER" not in fields and "DATA" not in fields:
            raise OfxError("cabeçalho OFX inválido (falta OFXHEADER)", line=1, field="OFXHEADER")
        # Every line is tried as UTF-8 first (`_decode`); this is the charset for the lines that are not.
        # A file declared UTF-8 with a line that is not is cp1252 in practice.
        self.codec = "latin-1" if fields.get("CHARSET", "") in _LATIN1 else "cp1252"

    # --- text → blocks ---------------------------------------------------------------------------------

    def transactions(self) -> Iterator[OfxTransaction]:
        buffer, buffer_line = "", 1  # text not yet given to a block, and the file line it starts on
        block: list[str] | None = None
        block_kind, block_line = "", 0
        saw_ofx = False
        for line_no, text in self._pieces():
            if not buffer:
                buffer_line = line_no
            buffer += text
            saw_ofx = saw_ofx or bool(re.search(r"<OFX\s*>", buffer, re.IGNORECASE))
            pos = 0
            for match in _BOUNDARY.finditer(buffer):
                closing, tag = match.group(1), match.group(2).upper()
                if block is not None:
                    block.append(buffer[pos : match.start()])
                    implicit_end = block_kind == "STMTTRN" and tag in ("STMTTRN", "BANKTRANLIST")
                    if (closing and tag == block_kind) or implicit_end:
                        yield from self._finish(block_kind, "".join(block), block_line)
                        block = None
                if not closing and tag != "BANKTRANLIST":
                    block, block_kind = [], tag
                    block_line = buffer_line + buffer.count("\n", 0, match.start())
                pos = match.end()
            # Keep a possibly cut tag ("<STMT" + "TRN>") for the next piece; give the rest to the open block.
            cut = buffer.rfind("<", pos)
            keep_from = cut if cut >= 0 and ">" not in buffer[cut:] else len(buffer)
            if block is not None:
                block.append(buffer[pos:keep_from])
            buffer_line += buffer.count("\n", 0, keep_from)
            buffer = buffer[keep_from:]
        if not saw_ofx:
            raise OfxError("não é um arquivo OFX: a tag <OFX> não foi encontrada", line=1)
        if block is not None and block_kind == "STMTTRN":
            block.append(buffer)
            yield from self._finish(block_kind, "".join(block), block_line)
        elif block is not None:
            raise OfxError(f"arquivo truncado: <{block_kind}> sem fim", line=block_line, field=block_kind)

    def _finish(self, kind: str, body: str, line: int) -> Iterator[OfxTransaction]:
        elem = self._tree(kind, body, line)
        if kind == "STMTTRN":
            yield self._transaction(elem, body, line)
        else:
            self.account = self._account(elem, body, line)

    def _tree(self, kind: str, body: str, line: int) -> ET.Element:
        text = (
            _TAG.sub(lambda m: f"<{m.group(1)}{m.group(2).upper()}>", body)
            if _LOWER_TAG.search(body)
            else body
        )
        builder = TreeBuilder()
        try:
            builder.feed(f"<{kind}>{text}</{kind}>")
            return builder.close()
        except Exception as exc:  # ofxtools raises ParseError, ElementTree AssertionError/IndexError
            raise OfxError(f"estrutura OFX inválida ({exc})", line=line, field=kind) from exc

    # --- blocks → values -------------------------------------------------------------------------------

    def _account(self, elem: ET.Element, body: str, line: int) -> str:
        parts = [(elem.findtext(tag) or "").strip() for tag in ("BANKID", "BRANCHID", "ACCTID")]
        if not parts[2]:
            raise OfxError("conta sem ACCTID", line=line, field="ACCTID")
        return "/".join(re.sub(r"\s+", "", p) for p in parts if p)

    def _transaction(self, elem: ET.Element, body: str, line: int) -> OfxTransaction:
        if not self.account:
            raise OfxError(
                "transação antes da conta (BANKACCTFROM): não dá para saber de que conta é", line=line
            )
        texts, extra = self._split(elem, line)
        values = {tag: self._convert(tag, text, body, line) for tag, text in texts.items()}
        posted = values["DTPOSTED"]
        if "[" not in texts["DTPOSTED"]:  # no offset given: local time, not UTC as ofxtools assumes
            posted = posted.replace(tzinfo=None).replace(tzinfo=self.tz)
        return OfxTransaction(
            account=self.account,
            fitid=values["FITID"].strip(),
            trntype=values.get("TRNTYPE") or "OTHER",
            posted=posted,
            amount=_amount(values["TRNAMT"], texts["TRNAMT"], body, line),
            name=(values.get("NAME") or "").strip(),
            memo=(values.get("MEMO") or "").strip(),
            line=line,
            extra=extra,
        )

    def _split(self, elem: ET.Element, line: int) -> tuple[dict[str, str], dict[str, str]]:
        """The text of the children we type (normalised) and the raw text of the others."""
        texts: dict[str, str] = {}
        extra: dict[str, str] = {}
        for child in elem:
            tag, value = child.tag, (child.text or "").strip()
            if tag not in _TYPED:
                extra.setdefault(tag, value[:255])
                continue
            if tag in texts:
                if tag not in ("MEMO", "NAME"):
                    raise OfxError("campo repetido na mesma transação", line=line, field=tag)
                texts[tag] = f"{texts[tag]} {value}".strip()
                continue
            if tag == "TRNAMT" and _THOUSANDS_COMMA.match(value):
                value = value.replace(".", "").replace(",", ".")
            elif tag == "TRNTYPE" and value.upper() not in _TRNTYPES:
                extra["TRNTYPE"] = value
                value = "OTHER"
            elif tag == "TRNTYPE":
                value = value.upper()
            texts[tag] = value
        for tag in _REQUIRED:
            if not texts.get(tag):
                raise OfxError("campo obrigatório ausente", line=line, field=tag)
        if "MEMO" in texts:
            texts["MEMO"] = texts["MEMO"][:255]
        return texts, extra

    def _convert(self, tag: str, text: str, body: str, line: int):
        """One field through its ofxtools spec element (the same conversion `STMTTRN.from_etree` makes,
        field by field: a third of the time, and the refused field is known)."""
        if not text:
            return None
        try:
            if tag != "NAME":
                return _SPEC[tag].convert(text)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NAME over 32 characters is a warning in ofxtools: fine here
                return _SPEC[tag].convert(text)
        except Exception as exc:  # ofxtools raises ValueError/TypeError subclasses
            raise OfxError(f"valor inválido {text!r}", line=_line_of(body, tag, line), field=tag) from exc


def _amount(value, text: str, body: str, line: int) -> Decimal:
    """TRNAMT as stored: finite, plain notation, at most 10 whole digits and whole cents (what the model's
    field holds); anything else is refused with its line, so nothing of the file is applied."""
    amount = Decimal(value) if _PLAIN_AMOUNT.match(text) else None
    if amount is None or not amount.is_finite():
        reason = f"valor inválido {text!r} (só dígitos, sem expoente)"
    elif abs(amount) > _MAX_AMOUNT:
        reason = f"valor fora do limite {text!r} (máximo 9999999999,99)"
    elif amount != amount.quantize(_CENT):
        reason = f"valor com frações de centavo {text!r}"
    else:
        return amount.quantize(_CENT)
    raise OfxError(reason, line=_line_of(body, "TRNAMT", line), field="TRNAMT")


def _line_of(body: str, tag: str, start: int) -> int:
    """The file line of `<tag>` inside a block that began on line `start`."""
    if not tag:
        return start
    match = re.search(rf"<{tag}\s*>", body, re.IGNORECASE)
    return start + body.count("\n", 0, match.start()) if match else start
