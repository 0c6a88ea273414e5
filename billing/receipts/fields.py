"""From a receipt's text (a PDF's text layer or Tesseract's lines) to its fields. Pure: no Django, no OCR.

Brazilian bank apps print the same facts under different words ("Destino", "Para", "Quem recebeu",
"Dados do recebedor"…), either "label: value" on one line, the label alone with the value under it, or a
sentence ("Você pagou R$ 10,00 para FULANO"). The text is read line by line, keeping which party's
section (recipient or payer) we are in, so "Nome" and "CPF" land on the right side.

The end-to-end id carries the payer's institution (ISPB) and the minute of the payment in UTC: it fills the
bank when the name was not read, and it confirms (or repairs) the date."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from unidecode import unidecode

from billing.receipts import documents
from billing.receipts.banks import bank_by_ispb, bank_canonical

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
RECIPIENT, PAYER = "recipient", "payer"

_MONTHS = {
    "jan": 1, "fev": 2, "mar": 3, "abr": 4, "mai": 5, "jun": 6,
    "jul": 7, "ago": 8, "set": 9, "out": 10, "nov": 11, "dez": 12,
}  # fmt: skip
_AMOUNT = re.compile(r"(?<![\d,.])(\d{1,3}(?:\.\d{3})+|\d{1,7}),(\d{2})(?!\d)")
_CURRENCY = re.compile(r"r\s?[$s5§]")
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{2})\s?[/.\-]\s?(\d{2})\s?[/.\-]\s?(\d{4})(?!\d)")
_TEXT_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s*(?:de\s+)?(jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez)[a-z]*\.?,?\s*(?:de\s+)?(\d{4})"
)
_TIME = re.compile(r"(?<!\d)([01]\d|2[0-3])\s?[:h]\s?([0-5]\d)(?:\s?[:m]\s?([0-5]\d))?(?!\d)")
_E2E = re.compile(r"E[0-9OoIl|]{20}[A-Za-z0-9\])|]{11}")
_E2E_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
# Tesseract's Portuguese model reads a tail's "J" as "]" or ")" now and then (and its letters-only re-read
# then drops it altogether), an "I" or "l" as "|": the tail is put back into letters (the look-alike judge
# may still change them).
_E2E_TAIL_MARKS = str.maketrans({"]": "J", ")": "J", "|": "I"})
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_KEY = re.compile(r"\+55\s?\(?\d{2}\)?\s?9?\d{4}-?\d{4}")
_RANDOM_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Section headings (normalised: lower case, no accents). A heading may carry the name after a colon.
_RECIPIENT_HEADINGS = (
    "dados do recebedor", "dados de quem recebeu", "quem recebeu", "recebedor", "destino", "destinatario",
    "favorecido", "conta destino", "para", "pago para", "enviado para",
)  # fmt: skip
_PAYER_HEADINGS = (
    "dados do pagador", "dados de quem pagou", "quem pagou", "pagador", "origem", "remetente", "conta origem",
    "de", "pago por", "enviado por",
)  # fmt: skip
_AMOUNT_IGNORED = ("tarifa", "saldo", "limite", "juros", "cashback")


@dataclass
class ReceiptReading:
    """What was read from one receipt. `confidence` holds a 0–1 figure per field (0 when not read)."""

    amount: Decimal | None = None
    paid_at: dt.datetime | None = None
    e2eid: str | None = None
    recipient_name: str | None = None
    recipient_document: str | None = None
    recipient_key: str | None = None
    payer_name: str | None = None
    bank: str | None = None
    confidence: dict[str, float] = field(default_factory=dict)
    amounts_seen: list[Decimal] = field(default_factory=list)
    source: str = ""  # "pdf_text", "pdf_ocr" or "image_ocr"
    text: str = ""

    def as_json(self) -> dict:
        """The command's contract: the eight keys, null for what was not read."""
        return {
            "amount": f"{self.amount:.2f}" if self.amount is not None else None,
            "paid_at": self.paid_at.isoformat() if self.paid_at else None,
            "e2eid": self.e2eid,
            "recipient_name": self.recipient_name,
            "recipient_document": self.recipient_document or self.recipient_key,
            "payer_name": self.payer_name,
            "bank": self.bank,
            "confidence": {k: round(v, 2) for k, v in self.confidence.items()},
        }


def norm(text: str) -> str:
    return " ".join(unidecode(text).lower().split())


@dataclass
class _Line:
    raw: str
    low: str  # normalised
    section: str | None


def extract(text: str, *, ocr_quality: float = 1.0, id_rereads: list[str] | None = None) -> ReceiptReading:
    """Every field of the receipt whose text is `text`. `ocr_quality` (0–1, Tesseract's mean word confidence;
    1 for a PDF's text layer) scales the per-field confidence; `id_rereads` are the end-to-end id read again
    from its own crop (see `_vote_e2eid`)."""
    lines = _sectioned_lines(text)
    reading = ReceiptReading(text=text)
    conf: dict[str, float] = {}
    reading.amount, reading.amounts_seen, conf["amount"] = _amount(lines)
    reading.e2eid, conf["e2eid"] = _e2eid(lines)
    if id_rereads:
        reading.e2eid, conf["e2eid"] = _vote_e2eid(reading.e2eid, conf["e2eid"], id_rereads)
    reading.paid_at, conf["paid_at"] = _paid_at(lines, reading.e2eid)
    reading.recipient_name, conf["recipient_name"] = _name(lines, RECIPIENT)
    reading.payer_name, conf["payer_name"] = _name(lines, PAYER)
    reading.recipient_document, reading.recipient_key, conf["recipient_document"] = _recipient_id(lines)
    reading.bank, conf["bank"] = _bank(lines, reading.e2eid)
    reading.confidence = {k: round(v * ocr_quality, 3) if v else 0.0 for k, v in conf.items()}
    return reading


# --- Lines and sections -------------------------------------------------------------------------------------


def _heading(low: str) -> tuple[str | None, str]:
    """(section, rest of the line) when the line opens a party's section: "Para: FULANO" → (recipient,
    "FULANO")."""
    for section, words in ((RECIPIENT, _RECIPIENT_HEADINGS), (PAYER, _PAYER_HEADINGS)):
        for word in words:
            if low == word or low.startswith(word + ":") or low.startswith(word + " -"):
                return section, low[len(word) :].lstrip(" :-")
    return None, low


def _sectioned_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    section = None
    for raw in text.splitlines():
        raw = " ".join(raw.split())
        if not raw:
            continue
        low = norm(raw)
        found, _rest = _heading(low)
        if found:
            section = found
        elif re.search(r"\b(voce pagou|voce enviou|transferiu)\b", low):
            section = None
        elif low.startswith(("id da transacao", "id/transacao", "identificador", "autenticacao", "codigo")):
            section = None
        lines.append(_Line(raw, low, section))
    return lines


def _value_after_label(lines: list[_Line], i: int, labels: tuple[str, ...]) -> str | None:
    """The value of line i when it starts with one of `labels`: the rest of the line, or the next line."""
    low = lines[i].low
    for label in labels:
        if low == label or low.startswith(label + ":") or low.startswith(label + " "):
            raw = lines[i].raw
            rest = raw[len(label) :].lstrip(" :-") if len(raw) >= len(label) else ""
            # The raw line may hold accents the normalised label lacks: cut at the same word count.
            rest = " ".join(raw.split()[len(label.split()) :]).lstrip(":- ").strip()
            if rest:
                return rest
            if i + 1 < len(lines):
                return lines[i + 1].raw
    return None


# --- Amount -------------------------------------------------------------------------------------------------


def _to_decimal(whole: str, cents: str) -> Decimal:
    return Decimal(f"{whole.replace('.', '')}.{cents}")


def _amount(lines: list[_Line]) -> tuple[Decimal | None, list[Decimal], float]:
    """The first labelled amount (the big "R$" or "Valor"), every distinct amount shown, and a confidence."""
    found: list[tuple[Decimal, bool]] = []  # (amount, labelled)
    for i, line in enumerate(lines):
        if any(word in line.low for word in _AMOUNT_IGNORED):
            continue
        previous = lines[i - 1].low if i else ""
        for match in _AMOUNT.finditer(line.low.replace(" ,", ",").replace(", ", ",")):
            before = line.low[: match.start()]
            labelled = bool(
                _CURRENCY.search(before[-4:])
                or "valor" in before
                or "pagou" in before
                or (previous.startswith("valor") and not _AMOUNT.search(previous))
            )
            found.append((_to_decimal(match.group(1), match.group(2)), labelled))
    labelled = [amount for amount, is_labelled in found if is_labelled and amount > 0]
    seen = list(dict.fromkeys(labelled))
    if labelled:
        return labelled[0], seen, 0.95 if len(seen) == 1 else 0.5
    others = [amount for amount, _ in found if amount > 0]
    if others:
        return others[0], list(dict.fromkeys(others)), 0.5
    return None, [], 0.0


# --- End-to-end id ------------------------------------------------------------------------------------------


def e2eid_valid(candidate: str) -> bool:
    """E + 8-digit ISPB + a real yyyyMMddHHmm + 11 letters or digits."""
    if len(candidate) != 32 or candidate[0] != "E" or not candidate[1:21].isdigit():
        return False
    if not candidate[21:].isalnum() or not candidate[21:].isascii():
        return False
    return e2eid_time(candidate) is not None


def e2eid_time(e2eid: str) -> dt.datetime | None:
    """The minute embedded in the id (UTC, by the Central Bank's rule), None when it is no real date."""
    try:
        moment = dt.datetime.strptime(e2eid[9:21], "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return moment if 2020 <= moment.year <= 2099 else None


def _e2eid(lines: list[_Line]) -> tuple[str | None, float]:
    # A long id may wrap: each line is tried alone, then joined to the next one.
    squeezed = [re.sub(r"\s+", "", line.raw.split(":")[-1]) for line in lines]
    pieces = squeezed + [a + b for a, b in itertools.pairwise(squeezed)]
    for piece in pieces:
        for match in _E2E.finditer(piece):
            raw = match.group(0)
            fixed = "E" + raw[1:21].translate(_E2E_DIGITS) + raw[21:].translate(_E2E_TAIL_MARKS)
            if e2eid_valid(fixed):
                return fixed, 0.95 if fixed == raw else 0.8
    return None, 0.0


_E2E_LOOSE = re.compile(r"E[0-9OoIl|]{20}([A-Za-z0-9\])|]{11,13})")


def e2eid_candidates(text: str) -> list[str]:
    """The valid ids `text` may hold, for a reading that may have one character too many in the tail
    (Tesseract splits a wide letter in two, or sees a stroke twice): as read, then with each one of its
    first 12 tail characters dropped."""
    found = []
    for match in _E2E_LOOSE.finditer(re.sub(r"\s+", "", text)):
        head = "E" + match.group(0)[1:21].translate(_E2E_DIGITS)
        tail = match.group(1).translate(_E2E_TAIL_MARKS)
        found.append(head + tail[:11])
        if len(tail) > 11:
            found += [head + tail[:i] + tail[i + 1 : 12] for i in range(12)]
    return [c for c in dict.fromkeys(found) if e2eid_valid(c)]


def _vote_e2eid(first: str | None, first_conf: float, rereads: list[str]) -> tuple[str | None, float]:
    """The id from the page's reading and the crop's re-readings: the re-readings when they agree, else a
    character-by-character majority of the valid ones, else the first valid one (re-readings first)."""
    valid = [found for found, _ in (_e2eid([_Line(r, r.lower(), None)]) for r in rereads) if found]
    if first:
        valid.append(first)
    if not valid:
        return None, 0.0
    if len(valid) >= 2 and valid[0] == valid[1]:
        return valid[0], 0.97
    if len(valid) == 3:
        voted = "".join(max(set(chars), key=chars.count) for chars in zip(*valid, strict=True))
        if e2eid_valid(voted):
            return voted, 0.85 if voted in valid else 0.75
    return valid[0], 0.7 if valid[0] == first else 0.75


# --- Date and time ------------------------------------------------------------------------------------------


def _date_in(low: str) -> dt.date | None:
    for pattern, month_of in ((_NUMERIC_DATE, lambda g: int(g)), (_TEXT_DATE, lambda g: _MONTHS[g[:3]])):
        match = pattern.search(low)
        if match:
            try:
                return dt.date(int(match.group(3)), month_of(match.group(2)), int(match.group(1)))
            except ValueError:
                continue
    return None


def _time_in(low: str) -> dt.time | None:
    match = _TIME.search(re.sub(r"\d{2}[/.\-]\d{2}[/.\-]\d{4}", " ", low))
    if not match:
        return None
    return dt.time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _paid_at(lines: list[_Line], e2eid: str | None) -> tuple[dt.datetime | None, float]:
    date = time = None
    for i, line in enumerate(lines):
        found = _date_in(line.low)
        if found is None:
            continue
        date = found
        time = _time_in(line.low)
        if time is None:  # "Data 05/12/2026" then "Horário 14:32:10" on its own line
            for other in lines[i + 1 : i + 4] + lines[max(0, i - 2) : i]:
                time = _time_in(other.low)
                if time:
                    break
        break
    from_id = e2eid_time(e2eid).astimezone(SAO_PAULO) if e2eid else None
    if date is None or time is None:
        return (from_id, 0.5) if from_id else (None, 0.0)
    moment = dt.datetime.combine(date, time, tzinfo=SAO_PAULO)
    if from_id is None:
        return moment, 0.75
    if abs((moment - from_id).total_seconds()) <= 180:
        return moment, 0.97
    if abs((moment.replace(second=0) - from_id).total_seconds()) <= 180 + 60:
        return moment, 0.9
    return moment, 0.4


# --- Parties ------------------------------------------------------------------------------------------------

_NAME_LABELS = ("nome", "razao social", "nome do recebedor", "nome do pagador", "nome completo")
_NOT_A_NAME = (
    "nome", "cpf", "cnpj", "chave", "instituicao", "banco", "agencia", "conta", "tipo", "valor", "data",
    "id ", "r$", "pix", "comprovante", "transferencia", "documento", "horario",
)  # fmt: skip


def _looks_like_name(value: str) -> bool:
    low = norm(value)
    letters = sum(ch.isalpha() for ch in low)
    if letters < 3 or letters < 0.7 * len(low.replace(" ", "")):
        return False
    return not any(low.startswith(word) for word in _NOT_A_NAME) and "@" not in low


def _clean_name(value: str) -> str:
    return " ".join(re.sub(r"[^\w\s.&'-]", " ", value).split()).strip(" .-")


def _name(lines: list[_Line], section: str) -> tuple[str | None, float]:
    for i, line in enumerate(lines):
        heading, rest = _heading(line.low)
        if heading == section and rest:
            raw_rest = " ".join(line.raw.split()[len(line.low.split()) - len(rest.split()) :])
            if _looks_like_name(raw_rest):
                return _clean_name(raw_rest), 0.85
        if line.section != section:
            continue
        value = _value_after_label(lines, i, _NAME_LABELS)
        if value and _looks_like_name(value):
            return _clean_name(value), 0.9
        if heading == section and i + 1 < len(lines) and _looks_like_name(lines[i + 1].raw):
            return _clean_name(lines[i + 1].raw), 0.8
    if section == RECIPIENT:  # "Você pagou R$ 10,00 para FULANO", or "para FULANO" on the next line
        for i, line in enumerate(lines):
            match = re.search(r"\bpara\s+(.+)$", line.raw, flags=re.IGNORECASE)
            context = line.low + (lines[i - 1].low if i else "")
            if match and re.search(r"pagou|enviou|transferiu", context) and _looks_like_name(match.group(1)):
                return _clean_name(match.group(1)), 0.75
    return None, 0.0


def _recipient_id(lines: list[_Line]) -> tuple[str | None, str | None, float]:
    """(CPF/CNPJ with valid check digits or a masked CPF, Pix key, confidence) of the recipient."""
    document = key = None
    doc_conf = 0.0
    for i, line in enumerate(lines):
        if line.section != RECIPIENT:
            continue
        if "chave" in line.low and key is None:
            key = _pix_key(_value_after_label(lines, i, ("chave pix", "chave")) or "")
        if document is None and re.search(r"\b(cpf|cnp\S?|documento)\b", line.low):
            candidate = documents.find_document(line.raw)
            if candidate is None and i + 1 < len(lines):
                candidate = documents.find_document(lines[i + 1].raw)
            if candidate:
                document, doc_conf = candidate
    if document:
        return document, key, doc_conf
    return None, key, 0.8 if key else 0.0


def _pix_key(value: str) -> str | None:
    for pattern in (_EMAIL, _RANDOM_KEY, _PHONE_KEY):
        match = pattern.search(value if pattern is not _RANDOM_KEY else value.lower())
        if match:
            return match.group(0)
    found = documents.find_document(value)
    return found[0] if found else None


def _bank(lines: list[_Line], e2eid: str | None) -> tuple[str | None, float]:
    from_id = bank_by_ispb(e2eid[1:9]) if e2eid else None
    for i, line in enumerate(lines):
        if line.section == PAYER and line.low.startswith(("instituicao", "banco")):
            value = _value_after_label(lines, i, ("instituicao financeira", "instituicao", "banco"))
            known = bank_canonical(value or "")
            if known:
                return known, 0.95 if known == from_id or from_id is None else 0.6
    if from_id:
        return from_id, 0.85
    for line in lines[:4]:  # the app's own name in the header
        known = bank_canonical(line.raw)
        if known:
            return known, 0.6
    return None, 0.0
