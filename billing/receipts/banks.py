"""Pix participants the generator draws and the reader recognises: ISPB → the institution's short
name.

The ISPB is the first part of every end-to-end id (it names the payer's institution), so a receipt whose
bank name the OCR missed still gets one from its e2eid. Public data from the Central Bank's list of Pix
participants; a handful is enough, an unknown ISPB just leaves the name as read."""

from __future__ import annotations

from unidecode import unidecode

BANKS: dict[str, str] = {
    "00000000": "Banco do Brasil",
    "60701190": "Itaú Unibanco",
    "60746948": "Bradesco",
    "00360305": "Caixa Econômica Federal",
    "90400888": "Santander",
    "18236120": "Nu Pagamentos",
    "00416968": "Banco Inter",
    "31872495": "C6 Bank",
    "22896431": "PicPay",
    "10573521": "Mercado Pago",
    "01181521": "Sicredi",
    "02038232": "Sicoob",
}


def _key(text: str) -> str:
    return "".join(ch for ch in unidecode(text).lower() if ch.isalnum())


_BY_KEY = {_key(name): name for name in BANKS.values()}
# Words that name a bank on a receipt without its full name ("Itaú", "Nubank", "Caixa").
_ALIASES = {
    "itau": "Itaú Unibanco",
    "nubank": "Nu Pagamentos",
    "nu": "Nu Pagamentos",
    "caixa": "Caixa Econômica Federal",
    "inter": "Banco Inter",
    "c6": "C6 Bank",
    "bb": "Banco do Brasil",
}


def bank_by_ispb(ispb: str) -> str | None:
    return BANKS.get(ispb)


def bank_canonical(text: str) -> str | None:
    """The known institution a line of text names ("NU PAGAMENTOS S.A. - IP" → "Nu Pagamentos"), or None."""
    key = _key(text)
    if not key:
        return None
    for known, name in _BY_KEY.items():
        if known in key:
            return name
    words = [_key(w) for w in text.split()]
    for word in words:
        if word in _ALIASES:
            return _ALIASES[word]
    return None
