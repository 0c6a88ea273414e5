"""What every dashboard page shares: htmx detection and showing a service's error to the operator."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from cobranca.exceptions import ApplicationError


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def show_error(request: HttpRequest, exc: ApplicationError) -> None:
    """The service's message, then each of its listed errors and warnings, as flash messages."""
    messages.error(request, exc.message)
    for key in ("errors", "warnings"):
        for item in exc.extra.get(key) or []:
            messages.warning(request, str(item))
