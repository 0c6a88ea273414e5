"""What a bank statement line says about who paid: the txid, the payer's CPF/CNPJ (full or masked) and name,
read from the line's NAME and MEMO; and the rules that compare them with a client.

Pure functions (no database): `billing.payments.statements` uses them for every line of a statement.

- Names are compared accent- and case-insensitively (unidecode), ignoring the connectives (da, de, dos…):
  the client's first name must be in the line and at least two of the client's names (all of them when it
  has one), each equal, a prefix of at least four letters (banks cut long names: "CONCEI") or nearly equal
  (difflib ratio ≥ 0.85, a typo). Words of the bank's own ("PIX RECEBIDO", "TED", "CPF"…) never count.
- A document matches when every digit shown equals the client's (a Pix statement often masks the CPF as
  `***.456.789-**`), with at least six digits shown.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher

from unidecode import unidecode

__all__ = [
    "LineIdentity",
    "document_matches",
    "fingerprint",
    "line_identity",
    "name_matches",
    "name_tokens",
]

_CONNECTIVES = frozenset({"da", "de", "do", "das", "dos", "e", "d"})
# Words banks write around the payer's name; never part of it.
_BANK_WORDS = frozenset(
    """pix recebido recebida receb rec transf transferencia transferencias ted doc credito cred cr deposito
    dep pagamento pagto pgto pag remetente origem cpf cnpj txid id conta ag agencia cc banco bco ltda me sa
    eireli tit titular qr code qrcode chave via""".split()
)
# A txid (API Pix: 26 to 35 letters and digits) stands alone in the text.
_TXID_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{26,35}(?![A-Za-z0-9])")
# CPF/CNPJ, formatted or bare, possibly masked with '*' or 'x'.
_DOC_RE = re.compile(
    r"(?<![\w*])(?:[\d*xX]{3}\.?[\d*xX]{3}\.?[\d*xX]{3}-?[\d*xX]{2}"
    r"|[\d*xX]{2}\.?[\d*xX]{3}\.?[\d*xX]{3}/?[\d*xX]{4}-?[\d*xX]{2})(?![\w*])"
)
_MIN_SHOWN_DIGITS = 6
_FUZZY = 0.85


@dataclass(frozen=True, slots=True)
class LineIdentity:
    """What a line tells about its payer. `documents` hold digits and '*' for the masked ones."""

    tokens: frozenset[str]
    payer_name: str
    documents: tuple[str, ...]
    txids: tuple[str, ...]

    @property
    def full_document(self) -> str:
        return next((d for d in self.documents if "*" not in d), "")


def name_tokens(text: str) -> list[str]:
    """Lower-case ASCII words, connectives dropped: "João da Conceição" → ["joao", "conceicao"]."""
    words = re.findall(r"[a-z]+", unidecode(text or "").lower())
    return [w for w in words if w not in _CONNECTIVES]


def _documents(text: str) -> tuple[str, ...]:
    found = []
    for match in _DOC_RE.finditer(text):
        pattern = re.sub(r"[.\-/]", "", match.group(0)).upper().replace("X", "*")
        if len(pattern) in (11, 14) and sum(c.isdigit() for c in pattern) >= _MIN_SHOWN_DIGITS:
            found.append(pattern)
    return tuple(dict.fromkeys(found))


def line_identity(name: str, memo: str) -> LineIdentity:
    text = f"{name} {memo}"
    # Words with digits (a txid, an account, a CPF) and the bank's own words are not the payer's name.
    words = [w for w in text.split() if not any(c.isdigit() for c in w)]
    tokens = [t for t in name_tokens(" ".join(words)) if t not in _BANK_WORDS and len(t) > 1]
    payer = " ".join(w for w in (name or "").split() if not any(c.isdigit() for c in w)).strip()
    if not payer:
        payer = " ".join(w for w in memo.split() if _is_name_word(w))
    txids = tuple(dict.fromkeys(m.group(0) for m in _TXID_RE.finditer(text) if _looks_like_txid(m.group(0))))
    return LineIdentity(frozenset(tokens), payer[:200], _documents(text), txids)


def _is_name_word(word: str) -> bool:
    if any(c.isdigit() for c in word):
        return False
    plain = re.findall(r"[a-z]+", unidecode(word).lower())
    return bool(plain) and all(t not in _BANK_WORDS for t in plain)


def _looks_like_txid(token: str) -> bool:
    # A long word made of letters only is a name or a bank's word, not a txid.
    return any(c.isdigit() for c in token)


def document_matches(patterns: tuple[str, ...], document: str) -> bool | None:
    """True when a pattern matches the client's document, False when the line shows a document of the same
    kind that differs, None when the line says nothing about it."""
    digits = re.sub(r"\W", "", document or "").upper()
    if not digits or not patterns:
        return None
    verdict: bool | None = None
    for pattern in patterns:
        if len(pattern) != len(digits):
            continue
        if all(p == "*" or p == d for p, d in zip(pattern, digits, strict=True)):
            return True
        verdict = False
    return verdict


def _token_found(token: str, line_tokens: frozenset[str]) -> bool:
    if token in line_tokens:
        return True
    for other in line_tokens:
        if len(other) >= 4 and token.startswith(other):
            return True
        if abs(len(other) - len(token)) <= 2 and len(token) >= 4:
            if SequenceMatcher(None, token, other).ratio() >= _FUZZY:
                return True
    return False


def name_matches(client_tokens: list[str], line_tokens: frozenset[str]) -> bool:
    if not client_tokens or not line_tokens:
        return False
    if not _token_found(client_tokens[0], line_tokens):
        return False
    needed = min(2, len(client_tokens))
    found = 1 + sum(1 for t in client_tokens[1:] if _token_found(t, line_tokens))
    return found >= needed


def fingerprint(*, posted_date: str, amount: Decimal, memo: str, name: str) -> str:
    """The line's content, for banks that reuse a FITID: same date, amount and text = the same transaction."""
    text = " ".join(name_tokens(f"{name} {memo}")) + "|" + re.sub(r"\D", "", f"{name}{memo}")
    digest = hashlib.sha256(f"{posted_date}|{amount:.2f}|{text}".encode()).hexdigest()
    # Never all digits and an "e": SQLite's JSON key lookup (raw__fingerprint) would hand back "227e84160703"
    # as the float 2.27e86 and the line would look new.
    return "f" + digest[:12]
