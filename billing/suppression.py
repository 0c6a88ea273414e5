"""Who must not be contacted: the one place that says whether a client may receive a message.

Two forms of the same rule, kept side by side so they cannot drift apart:

- `client_suppression_reason(client)` for one loaded row (the driver at send time, send-single, the bot);
- `suppressed_clients_q(prefix)` for the database (audience counts, dashboards), e.g.
  `Charge.objects.filter(suppressed_clients_q("client__"))`.

A new reason not to contact someone is added to both functions here, and every caller follows.
The reasons are pt-BR: operators read them on skipped dispatches and refused sends.
"""

from __future__ import annotations

from typing import Protocol

from django.db.models import Q

REASON_FORGOTTEN = "cliente anonimizado (LGPD)"
REASON_OPTED_OUT = "cliente pediu para não receber mensagens"
REASON_WRONG_NUMBER = "número errado"
REASON_NOT_ON_WHATSAPP = "número sem WhatsApp"


class _ClientFlags(Protocol):
    forgotten_at: object
    opted_out_at: object
    wrong_number: bool
    not_on_whatsapp: bool


def client_suppression_reason(client: _ClientFlags) -> str:
    """Why this client must not get a message, or "" when it may. First reason wins (most serious first)."""
    if client.forgotten_at:
        return REASON_FORGOTTEN
    if client.opted_out_at:
        return REASON_OPTED_OUT
    if client.wrong_number:
        return REASON_WRONG_NUMBER
    if client.not_on_whatsapp:
        return REASON_NOT_ON_WHATSAPP
    return ""


def suppressed_clients_q(prefix: str = "") -> Q:
    """The rows whose client must not be contacted; `prefix` reaches the client ("client__" from a charge or
    a dispatch, "" on Client itself). Matches exactly the clients `client_suppression_reason` refuses."""
    return (
        Q(**{f"{prefix}forgotten_at__isnull": False})
        | Q(**{f"{prefix}opted_out_at__isnull": False})
        | Q(**{f"{prefix}wrong_number": True})
        | Q(**{f"{prefix}not_on_whatsapp": True})
    )
