"""Client of the API Pix (Banco Central do Brasil, v2), the standard every Brazilian PSP implements.

This package is a leaf like ``whatsapp.client``: it imports no app of the project (an import-linter contract
says so), only ``django.conf`` inside :func:`get_pix_client`, so models, services and tasks can all use it.
Errors are one :class:`PixApiError` with ``permanent``, ``status``, ``title``, ``detail`` and a short
``reason``; :class:`PixNotFound` for 404.

Privacy rule: request bodies carry the debtor's CPF/CNPJ and name, and PSPs echo them in problems and error
pages. Nothing from a body, a token or the client secret goes into an exception or a log line here: only the
method, the path, the status and the reason.

The PSP simulator (``billing.pix_api.simulator``, ``manage.py pix_simulator``) is the stand-in for tests,
demos and ``make run``; the contract (``docs/specs/pix/openapi.yaml``) is the same for both.
"""

from __future__ import annotations

import threading
from typing import Any

from .client import PixApiClient, is_loopback
from .errors import REASONS, PixApiError, PixNotFound, classify_response

__all__ = [
    "REASONS",
    "PixApiClient",
    "PixApiError",
    "PixNotFound",
    "classify_response",
    "get_pix_client",
    "is_loopback",
]

REQUIRED_SETTINGS = ("PIX_API_BASE_URL", "PIX_OAUTH_URL", "PIX_CLIENT_ID", "PIX_CLIENT_SECRET")
OPTIONAL_SETTINGS = ("PIX_CERT_FILE", "PIX_KEY_FILE")

_clients: dict[tuple[Any, ...], PixApiClient] = {}
_clients_lock = threading.Lock()


def get_pix_client() -> PixApiClient:
    """The process-wide client for the ``PIX_*`` settings (one keep-alive pool, one cached token).

    A new client is built when the settings change (tests override them). Raises ImproperlyConfigured naming
    the missing or wrong variable. ``get_pix_client.cache_clear()`` drops the clients.
    """
    # Imported here, not at module level: the package stays usable (and testable) without Django settings.
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    values = {name: getattr(settings, name) for name in REQUIRED_SETTINGS + OPTIONAL_SETTINGS}
    for name in REQUIRED_SETTINGS:
        if not values[name]:
            raise ImproperlyConfigured(
                f"{name} is not set: the API Pix client needs it (PIX_PROVIDER=api_pix)"
            )
    key = tuple(values[name] for name in REQUIRED_SETTINGS + OPTIONAL_SETTINGS)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            try:
                client = PixApiClient(
                    values["PIX_API_BASE_URL"],
                    values["PIX_OAUTH_URL"],
                    values["PIX_CLIENT_ID"],
                    values["PIX_CLIENT_SECRET"],
                    cert_file=values["PIX_CERT_FILE"] or None,
                    key_file=values["PIX_KEY_FILE"] or None,
                )
            except ValueError as exc:
                raise ImproperlyConfigured(str(exc)) from exc
            _clients[key] = client
        return client


def _clear_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


get_pix_client.cache_clear = _clear_clients  # type: ignore[attr-defined]
