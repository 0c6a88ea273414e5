"""Small text helpers shared by the apps."""

from __future__ import annotations


def normalize_newlines(text: str) -> str:
    """Browser textareas post CRLF line endings; WhatsApp messages (and the bot's own) use LF only."""
    if not isinstance(text, str):
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")
