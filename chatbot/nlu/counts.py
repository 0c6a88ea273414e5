"""Which of several installment counts in one message the debtor asks for ("não, em 3x não dá. e em 6x?").
Used by the entity extractor (chatbot.nlu.entities) and the policy's plan picks (chatbot.policy.parsing)."""

from __future__ import annotations

import re

__all__ = ["asked_count"]

_NOT_RE = re.compile(r"\bnao\b")
_CLOSES_RE = re.compile(r"^\s*[,.;!?]")
_PUNCTUATION_RE = re.compile(r"[,.;!?]")


def asked_count(text: str, spans: list[tuple[int, int, int]]) -> int | None:
    """Of several counts in one message (start, end, value), the one asked for: "não, em 3x não dá. e em
    6x?" → 6, "3x não, 6x" → 6, "quero em 4x, não em 6x" → 4. A "não" refuses the count it is said with:
    the next one ("não em 6x", "não dá 3 vezes") unless a comma or stop closes it ("3x não, 6x"), then the
    one before ("3x não dá."). Of the counts not refused, the last one said wins (the debtor corrects himself
    forward)."""
    if not spans:
        return None
    spans = sorted(spans)

    def near(gap: str) -> bool:
        return len(gap) <= 12 and not _PUNCTUATION_RE.search(gap)

    refused = set()
    for no in _NOT_RE.finditer(text):
        following = [sp for sp in spans if sp[0] >= no.end() and near(text[no.end() : sp[0]])]
        before = [sp for sp in spans if sp[1] <= no.start() and near(text[sp[1] : no.start()])]
        if following and not _CLOSES_RE.match(text[no.end() :]):
            refused.add(following[0])
        elif before:
            refused.add(before[-1])
    kept = [sp for sp in spans if sp not in refused] or spans
    return kept[-1][2]
