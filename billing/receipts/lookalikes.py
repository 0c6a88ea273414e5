"""Which characters of the end-to-end id's random tail may stand for which (`LOOK_ALIKES`), and the tail's
shape: most apps give it lowercase hex after a first letter or digit, or capitals and digits, and a reading
with one of those shapes limits what each look-alike may be (`tail_alphabets`). Pure text: the drawings that
judge the look-alikes are `billing.receipts.glyphs`."""

from __future__ import annotations

import string

# Characters Tesseract mixes up on small text; each one may be any other of its groups.
LOOK_ALIKES = (
    "0OoQD", "9O0", "9S", "sJ", "1IlijJL", "5Ss", "8B", "2Zz", "9gq", "ftF", "f1lI", "6Gb", "5b", "7T", "cC",
    "vV", "wW", "xX", "uU", "pP", "kK", "yY", "hb",
)  # fmt: skip
# The two shapes most apps give the tail: lowercase hex after a first letter or digit, or capitals and digits.
HEX_TAIL = "0123456789abcdef"
LOWER_TAIL = string.ascii_lowercase + string.digits
UPPER_TAIL = string.ascii_uppercase + string.digits


def alternatives(char: str) -> str:
    """`char` and every character of its look-alike groups."""
    found = dict.fromkeys(char)
    for group in LOOK_ALIKES:
        if char in group:
            found.update(dict.fromkeys(group))
    return "".join(found)


def tail_alphabets(tail: str) -> list[str] | None:
    """Per tail position, the characters it may hold when the reading has one of the two common shapes, else
    None (mixed case: any letter or digit). Lowercase hex: from the second character on, at most 3 not hex
    and each a look-alike of a hex one, and one of the letters a-f among them at least (capitals-and-digits
    tails read that way are rare). Capitals and digits: at most 1 character that is neither, a look-alike
    of one. A random mixed-case tail reads like either once in a hundred or so; then the look-alike is
    turned into its capital (or hex) twin, as wrong as it was before. Ten digits after the first character
    are hex (a capitals-and-digits tail is all digits there about once in 370,000), whatever the first
    one reads."""
    rest = tail[1:]
    if rest.isdigit() and rest.isascii():  # hex without a letter after the first (1 tail in 100 or so)
        return [LOWER_TAIL] + [HEX_TAIL] * len(rest)  # capitals and digits all digits: (10/36)^10
    strict = sum(c in HEX_TAIL for c in rest)
    if (
        strict >= len(rest) - 3
        and any(c in "abcdef" for c in rest)
        and _all_fit(rest, HEX_TAIL)
        and _all_fit(tail[:1], LOWER_TAIL)
    ):
        return [LOWER_TAIL] + [HEX_TAIL] * len(rest)
    if sum(c in UPPER_TAIL for c in tail) >= len(tail) - 1 and _all_fit(tail, UPPER_TAIL):
        return [UPPER_TAIL] * len(tail)
    return None


def _all_fit(text: str, alphabet: str) -> bool:
    return all(any(c in alphabet for c in alternatives(char)) for char in text)


def choices_for(char: str, alphabet: str | None) -> str:
    """The look-alikes `char` may stand for, within `alphabet` when one applies (`char` first if in it)."""
    found = alternatives(char)
    return "".join(c for c in found if c in alphabet) if alphabet else found


def fit_tail(e2eid: str, tail_from: int = 21) -> str:
    """The id with each tail character outside its shape's alphabet replaced by its twin in it (`_twin`):
    for when no drawing could judge them."""
    alphabets = tail_alphabets(e2eid[tail_from:])
    if alphabets is None:
        return e2eid
    tail = "".join(_twin(c, alphabet) for c, alphabet in zip(e2eid[tail_from:], alphabets, strict=True))
    return e2eid[:tail_from] + tail


def _twin(char: str, alphabet: str) -> str:
    """`char` in `alphabet`: itself, else "I" for an "l", its other case, or its first look-alike there."""
    for twin in (char, "I" if char in "l|" else "", char.upper(), char.lower()):
        if twin and twin in alphabet:
            return twin
    return choices_for(char, alphabet)[0]
