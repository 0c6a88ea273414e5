"""Masking of personal data (LGPD minimisation) for logs, admin lists and exports."""

from __future__ import annotations

import re

# Phone numbers as they appear in logs: E.164 (+5511987654321), bare digits, WhatsApp ids
# (5511987654321@c.us), and formatted Brazilian numbers ((11) 98765-4321).
_PHONE_RE = re.compile(r"(?<![\w*])\+?(\d{10,15})(?=@|\b)")
_FORMATTED_PHONE_RE = re.compile(r"\(?\b(\d{2})\)?[ \-]?9?\d{4}[ \-]\d{4}\b")
_CPF_RE = re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b")
_CNPJ_RE = re.compile(r"\b[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-\d{2}\b")
_CPF_BARE_RE = re.compile(r"(?<!\d)\d{11}(?!\d)")
_BODY_KEYS_RE = re.compile(
    r"""(["']?(?:body|text|message|mensagem|texto|name|nome)["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""",
    re.IGNORECASE,
)


def mask_phone(value: str) -> str:
    """+5511987654321 → +5511*****4321: keeps country + area code and the last four digits."""
    if not value:
        return value
    prefix = "+" if value.startswith("+") else ""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{prefix}{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def mask_chat_id(chat_id: str) -> str:
    user, sep, server = chat_id.partition("@")
    return mask_phone(user) + sep + server


def mask_document(value: str) -> str:
    digits = re.sub(r"\W", "", value or "")
    if not digits:
        return ""
    return f"{digits[:3]}{'*' * max(len(digits) - 5, 0)}{digits[-2:]}"


def mask_text(text: str) -> str:
    """Mask every phone, CPF/CNPJ and quoted message body inside a free-form log line."""
    if not text:
        return text
    text = _BODY_KEYS_RE.sub(lambda m: f'{m.group(1)}"[oculto]"', text)
    text = _CNPJ_RE.sub(lambda m: mask_document(m.group(0)), text)
    text = _CPF_RE.sub(lambda m: mask_document(m.group(0)), text)
    text = _PHONE_RE.sub(lambda m: ("+" if m.group(0).startswith("+") else "") + mask_phone(m.group(1)), text)
    text = _FORMATTED_PHONE_RE.sub(lambda m: f"({m.group(1)}) *****-****", text)
    text = _CPF_BARE_RE.sub(lambda m: mask_document(m.group(0)), text)
    return text
