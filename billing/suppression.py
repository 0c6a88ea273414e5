"""Who must not be contacted: the one place that says whether a client, or a bare number, may get a message.

Two kinds of suppression live here:

- flags on the client row (forgotten, opted out, wrong number, not on WhatsApp);
- the suppression list: numbers that asked never to be contacted (opt-out) or whose owner was forgotten
  (LGPD), remembered even after the client row is anonymised. The list stores a keyed hash (HMAC-SHA256 with
  SUPPRESSION_HASH_KEY) of each form of the number, never the number: after `forget_client` it must still
  recognise the phone when it comes back (a re-import, a send-single, a WhatsApp message) without keeping a
  value that identifies the person. A bare SHA-256 of a Brazilian mobile is reversed by enumerating ~10^9
  numbers; an HMAC needs the key, which lives outside the database. `Client.phone_hash` (the same HMAC of the
  client's phone) lets SQL match rows against the list.

Both kinds are answered by the same functions, in two forms kept side by side so they cannot drift apart:

- `client_suppression_reason(client)` for one loaded row (the driver at send time, send-single, the bot);
- `suppressed_clients_q(prefix)` for the database (audience counts, dashboards, the claim, the régua), e.g.
  `Charge.objects.filter(suppressed_clients_q("client__"))`; `exclude_suppressed` / `annotate_suppressed`
  wrap it;
- for numbers without a client row: `is_suppressed(phone)` and `suppressed_subset(phones)`.

Writes: `suppress` / `suppress_client` (the debtor's opt-out, forget, the admin's opt-out action) and
`suppression_lift` (an operator holding `billing.lift_suppressedphone`, with the debtor's new consent).

A new reason not to contact someone is added to both rule functions here, and every caller follows.
The reasons are pt-BR: operators read them on skipped dispatches and refused sends. The key must never change
once numbers are listed: the hashes cannot be recomputed (the numbers are gone).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from loguru import logger

from billing.models import Client, SuppressedPhone, SuppressionLift, SuppressionReason
from billing.phones import PhoneError, normalize_phone, phone_variants
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

LIFT_PERMISSION = "billing.lift_suppressedphone"
Reason = SuppressionReason

_CHUNK = 500


@functools.lru_cache(maxsize=4)
def _keyed(key: str) -> hmac.HMAC:
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def phone_hash(phone: str) -> str:
    """HMAC-SHA256 (hex) of one exact form of a phone number (E.164 as stored on Client)."""
    key = settings.SUPPRESSION_HASH_KEY
    if not key:
        # Without the key the list can be neither written nor checked; sending anyway would break the promise.
        raise ImproperlyConfigured("SUPPRESSION_HASH_KEY is not set: the suppression list cannot be used.")
    # Copying an HMAC already keyed (cached per key) skips the key setup: ~5 µs a phone against ~9 µs for
    # hmac.digest on a loaded machine, and an import hashes the phone of every new client.
    mac = _keyed(key).copy()
    mac.update((phone or "").encode())
    return mac.hexdigest()


def phone_from_chat_id(chat_id: str) -> str | None:
    """'5511987654321@c.us' → '+5511987654321' (normalised); None for LIDs, groups and anything else."""
    if not chat_id or not chat_id.endswith("@c.us"):
        return None
    digits = chat_id.split("@", 1)[0]
    if not digits.isdigit():
        return None
    try:
        return normalize_phone("+" + digits)
    except PhoneError:
        return None


def _forms(phone: str) -> list[str]:
    """The forms of `phone` the app treats as one number; a value that does not parse stands for itself."""
    text = (phone or "").strip()
    if text.endswith("@c.us"):
        text = phone_from_chat_id(text) or text
    try:
        return phone_variants(normalize_phone(text))
    except PhoneError:
        return [text] if text else []


def _hashes(phone: str) -> list[str]:
    return [phone_hash(form) for form in _forms(phone)]


REASON_FORGOTTEN = "cliente anonimizado (LGPD)"
REASON_OPTED_OUT = "cliente pediu para não receber mensagens"
REASON_WRONG_NUMBER = "número errado"
REASON_NOT_ON_WHATSAPP = "número sem WhatsApp"
REASON_LISTED = "número na lista de supressão (descadastrado ou titular anonimizado)"


class _ClientFlags(Protocol):
    forgotten_at: object
    opted_out_at: object
    wrong_number: bool
    not_on_whatsapp: bool
    phone_hash: str


def client_suppression_reason(client: _ClientFlags, *, listed: bool | None = None) -> str:
    """Why this client must not get a message, or "" when it may. First reason wins (most serious first).

    `listed` is whether the client's number is on the suppression list, when the caller already knows it
    (a queryset annotated with `annotate_suppressed`); None looks it up (one indexed query).
    """
    if client.forgotten_at:
        return REASON_FORGOTTEN
    if client.opted_out_at:
        return REASON_OPTED_OUT
    if client.wrong_number:
        return REASON_WRONG_NUMBER
    if client.not_on_whatsapp:
        return REASON_NOT_ON_WHATSAPP
    if listed is None:
        digest = client.phone_hash
        listed = bool(digest) and SuppressedPhone.objects.filter(phone_hash=digest).exists()
    if listed:
        return REASON_LISTED
    return ""


def _listed(prefix: str) -> Exists:
    return Exists(SuppressedPhone.objects.filter(phone_hash=OuterRef(f"{prefix}phone_hash")))


def listed_q(prefix: str = "") -> Q:
    """The rows whose client's number is on the suppression list (EXISTS on `phone_hash`)."""
    return Q(_listed(prefix))


def suppressed_clients_q(prefix: str = "") -> Q:
    """The rows whose client must not be contacted; `prefix` reaches the client ("client__" from a charge or
    a dispatch, "" on Client itself). Matches exactly the clients `client_suppression_reason` refuses."""
    return (
        Q(**{f"{prefix}forgotten_at__isnull": False})
        | Q(**{f"{prefix}opted_out_at__isnull": False})
        | Q(**{f"{prefix}wrong_number": True})
        | Q(**{f"{prefix}not_on_whatsapp": True})
        | listed_q(prefix)
    )


def exclude_suppressed(queryset: QuerySet, *, prefix: str = "") -> QuerySet:
    """The queryset without the rows whose client must not be contacted (for the régua and other planners)."""
    return queryset.exclude(suppressed_clients_q(prefix))


def annotate_suppressed(
    queryset: QuerySet, *, prefix: str = "", name: str = "on_suppression_list"
) -> QuerySet:
    """Adds a boolean `name` per row: the client's number is on the list (pass it as `listed=` to
    `client_suppression_reason`)."""
    return queryset.annotate(**{name: _listed(prefix)})


# --- reads --------------------------------------------------------------------------------------------------


def is_suppressed(phone: str) -> bool:
    """Is this number (any format: E.164, as typed, a `…@c.us` chat id) on the suppression list?"""
    hashes = _hashes(phone)
    return bool(hashes) and SuppressedPhone.objects.filter(phone_hash__in=hashes).exists()


def suppressed_subset(phones: Iterable[str]) -> set[str]:
    """The members of `phones` (as given) that are suppressed. One query per 500 distinct numbers."""
    by_hash: dict[str, set[str]] = {}
    for phone in set(phones):
        for digest in _hashes(phone):
            by_hash.setdefault(digest, set()).add(phone)
    found: set[str] = set()
    digests = list(by_hash)
    for start in range(0, len(digests), _CHUNK):
        chunk = digests[start : start + _CHUNK]
        listed = SuppressedPhone.objects.filter(phone_hash__in=chunk).values_list("phone_hash", flat=True)
        for digest in listed:
            found |= by_hash[digest]
    return found


# --- writes -------------------------------------------------------------------------------------------------


def suppress(phone: str, *, reason: str, by=None) -> bool:
    """Put a number (every form of it) on the list and mark its live client as opted out.

    Idempotent: listing a listed number changes nothing (the first reason stays). Returns True when at
    least one new form was listed. Safe inside a transaction (no network).
    """
    if reason not in Reason.values:
        raise ValueError(f"unknown suppression reason {reason!r}")
    forms = _forms(phone)
    if not forms:
        return False
    number_hash = phone_hash(forms[0])
    hashes = [phone_hash(form) for form in forms]
    existing = set(SuppressedPhone.objects.filter(phone_hash__in=hashes).values_list("phone_hash", flat=True))
    new = [h for h in hashes if h not in existing]
    actor = by if getattr(by, "is_authenticated", False) else None
    for digest in new:
        try:
            with transaction.atomic():
                SuppressedPhone.objects.create(
                    phone_hash=digest, number_hash=number_hash, reason=reason, created_by=actor
                )
        except IntegrityError:
            pass  # listed concurrently by another path: the list holds it, which is all that matters
    now = timezone.now()
    Client.objects.filter(phone_hash__in=hashes, opted_out_at__isnull=True).update(
        opted_out_at=now, updated_at=now
    )
    if new:
        logger.info("suppression.added reason={} forms={}", reason, len(new))
    return bool(new)


def suppress_client(*, client: Client, reason: str, by=None) -> bool:
    """`suppress` for a client's phone and WhatsApp chat id (which may be the other 8/9-digit form)."""
    added = suppress(client.phone, reason=reason, by=by)
    chat_phone = phone_from_chat_id(client.chat_id)
    if chat_phone and chat_phone != client.phone:
        added = suppress(chat_phone, reason=reason, by=by) or added
    return added


def _lift_check(*, by, consent_at, consent_channel: str, justification: str) -> tuple[str, str]:
    """Refuse a lift without the permission or without the whole consent; the cleaned channel and reason."""
    if not getattr(by, "is_authenticated", False) or not by.has_perm(LIFT_PERMISSION):
        raise ApplicationError(
            "Você não tem permissão para reativar números suprimidos.",
            {"permission": LIFT_PERMISSION},
            status_code=403,
        )
    consent_channel = (consent_channel or "").strip()
    justification = (justification or "").strip()
    problems = {}
    if not consent_channel:
        problems["consent_channel"] = "informe como o titular deu o novo consentimento"
    if not justification:
        problems["justification"] = "informe o motivo da reativação"
    if consent_at is None:
        problems["consent_at"] = "informe quando o titular deu o novo consentimento"
    elif consent_at > timezone.now() + dt.timedelta(minutes=5):
        problems["consent_at"] = "a data do consentimento está no futuro"
    if problems:
        raise ApplicationError("Consentimento incompleto: nada foi alterado.", problems)
    return consent_channel, justification


@transaction.atomic
def suppression_lift(
    *,
    phone: str,
    by,
    consent_at: dt.datetime,
    consent_channel: str,
    justification: str,
    ip: str | None = None,
) -> SuppressionLift:
    """Take a number off the list because the debtor consented again, and let its live client be messaged.

    Only for a user holding `billing.lift_suppressedphone`; the consent (when, through which channel) and the
    operator's justification are required and kept in a SuppressionLift row and in the audit log. A forgotten
    client stays forgotten: lifting only allows a new record for the number to be contacted.
    """
    consent_channel, justification = _lift_check(
        by=by, consent_at=consent_at, consent_channel=consent_channel, justification=justification
    )
    hashes = _hashes(phone)
    rows = list(SuppressedPhone.objects.select_for_update().filter(phone_hash__in=hashes))
    if not rows:
        raise ApplicationError(
            "Este número não está na lista de supressão.", {"phone": "não suprimido"}, status_code=404
        )
    number_hashes = {row.number_hash for row in rows}
    previous = rows[0].reason
    SuppressedPhone.objects.filter(number_hash__in=number_hashes).delete()
    SuppressedPhone.objects.filter(phone_hash__in=hashes).delete()
    lift = SuppressionLift.objects.create(
        number_hash=rows[0].number_hash,
        previous_reason=previous,
        consent_at=consent_at,
        consent_channel=consent_channel[:100],
        justification=justification[:2000],
        lifted_by=by,
    )
    reactivated = list(
        Client.objects.filter(phone_hash__in=hashes, forgotten_at__isnull=True).values_list("pk", flat=True)
    )
    Client.objects.filter(pk__in=reactivated).update(opted_out_at=None, updated_at=timezone.now())
    audit_record(
        action="suppression.lift",
        actor=by,
        target=lift,
        details={
            "previous_reason": previous,
            "consent_at": consent_at.isoformat(),
            "consent_channel": consent_channel[:100],
            "clients": reactivated,
        },
        ip=ip,
    )
    return lift
