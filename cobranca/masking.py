"""Masking of personal data (LGPD minimisation) for logs, admin lists and exports."""

from __future__ import annotations

import re

# Phone numbers in free text: 10 to 15 digits, possibly split by the separators the importer removes
# (billing.phones: space, ( ) - . / NBSP tab), so every form it accepts is caught: E.164, bare digits,
# (11) 98765-4321, 11.98765.4321, 0 21 11 98765-4321... Only a digit may not precede it, so numbers inside ids
# are caught too (false_5541988887777@c.us_3EB0…, 5511987654321@c.us, dispatch_5511987654321). Not phones,
# and left alone: IPv4 addresses and ISO dates (four groups / a yyyy-mm-dd start), and runs of 16+ digits.
_PHONE_RE = re.compile(
    r"(?<!\d)(?!\d{1,3}(?:\.\d{1,3}){3}(?!\d))(?!\d{4}-\d{2}-\d{2})"
    r"\+?\(?\d(?:[ ()\-./\u00a0\t]{0,3}\d){9,14}(?!\d)"
)
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


def _mask_phone_match(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    prefix = "+" if match.group(0).startswith("+") else ""
    if len(digits) <= 11:  # national: keep the area code and the last four digits
        return f"{prefix}{digits[:2]}{'*' * (len(digits) - 6)}{digits[-4:]}"
    return prefix + mask_phone(digits)


def mask_text(text: str) -> str:
    """Mask every phone, CPF/CNPJ and quoted message body inside a free-form log line."""
    if not text:
        return text
    text = _BODY_KEYS_RE.sub(lambda m: f'{m.group(1)}"[oculto]"', text)
    text = _CNPJ_RE.sub(lambda m: mask_document(m.group(0)), text)
    text = _CPF_RE.sub(lambda m: mask_document(m.group(0)), text)
    text = _PHONE_RE.sub(_mask_phone_match, text)
    text = _CPF_BARE_RE.sub(lambda m: mask_document(m.group(0)), text)
    return text


# --- who reads full values: the one rule of every API read --------------------------------------------------

# A model permission, so the full number is opt-in per group or per user (docs/security.md, "Roles").
FULL_CONTACT_PERMISSION = "billing.view_full_contact"


def sees_full_contact(user) -> bool:
    """Staff and holders of `billing.view_full_contact` (the Operadores group: they talk to debtors) read full
    phones, chat ids, documents and e-mails; everyone else reads them masked (LGPD art. 6 III)."""
    if not user or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or user.is_superuser or user.has_perm(FULL_CONTACT_PERMISSION))


def mask_email(value: str) -> str:
    local, sep, domain = (value or "").partition("@")
    if not sep:
        return "*" * len(local)
    return f"{local[:1]}***@{domain}"


def mask_embedded_numbers(value: str) -> str:
    """Ids that carry a phone (chat ids, WAHA message ids such as `false_5511987654321@c.us_3EB0…`): every
    number the one phone pattern finds (`_PHONE_RE`, as in the logs) is masked, the rest of the id is kept."""
    if not value:
        return value
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), value)


def full_contact_in(context: dict | None) -> bool:
    """Whether a serializer context may carry full values: an explicit `full_contact` wins (an echo of what
    the caller just sent), then the rule for the request's user. No request, no full values (fail closed)."""
    context = context or {}
    if "full_contact" in context:
        return bool(context["full_contact"])
    request = context.get("request")
    return sees_full_contact(getattr(request, "user", None))


class MaskedFieldsMixin:
    """For DRF serializers: `masked_fields = {"field": masker}` are masked in the output unless
    `full_contact_in(self.context)`. Fields named in the context's `unmasked_fields` stay as they are (the
    values the caller itself just sent). Nested serializers must get the parent's context."""

    masked_fields: dict = {}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if self.masked_fields and not full_contact_in(self.context):
            keep = set(self.context.get("unmasked_fields", ()))
            for field, masker in self.masked_fields.items():
                if field not in keep and data.get(field):
                    data[field] = masker(data[field])
        return data
