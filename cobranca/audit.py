"""The one way to write an audit entry. Callers pass ids and field names, never personal values."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from loguru import logger

_FORBIDDEN_KEYS = frozenset(
    {"name", "nome", "phone", "telefone", "document", "cpf", "cnpj", "email", "body", "text"}
)


def client_ip(request) -> str | None:
    """The client's address. REMOTE_ADDR, unless BEHIND_PROXY: then the last X-Forwarded-For entry, the one
    our proxy appended (the entries before it are whatever the client sent). Without a proxy X-Forwarded-For
    is ignored: anyone can send it."""
    if request is None:
        return None
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    actor=None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
):
    """Append an AuditLog row. Refuses keys that would carry personal data (a programming error, not
    input)."""
    from audit.models import AuditLog

    details = details or {}
    leaked = _FORBIDDEN_KEYS.intersection(k.lower() for k in details)
    if leaked:
        raise ValueError(f"audit details must not carry personal data: {sorted(leaked)}")
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk
    entry = AuditLog.objects.create(
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        target_type=target_type,
        target_id=str(target_id or ""),
        details=details,
        ip=ip or None,
    )
    logger.info("audit.{} target={}#{} actor={}", action, target_type, target_id, getattr(actor, "pk", None))
    return entry
