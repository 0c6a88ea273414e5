"""WhatsApp (/painel/whatsapp/): the WAHA sessions with their status and QR code, start and stop.

The page and its JSON are dashboard pages; the WAHA calls and the session rules stay in whatsapp.services.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required
from whatsapp import services


def _session_name(request: HttpRequest) -> str:
    name = (request.POST.get("session") or request.GET.get("session") or settings.WAHA_SESSION_NAME).strip()
    return name[:100] or settings.WAHA_SESSION_NAME


@operator_required
@require_GET
def sessions_page(request: HttpRequest) -> HttpResponse:
    sessions = services.sessions_overview(refresh=True)
    return render(
        request,
        "dashboard/whatsapp.html",
        {"sessions": sessions, "default_session": settings.WAHA_SESSION_NAME},
    )


@operator_required
@require_GET
@never_cache
def sessions_status_json(request: HttpRequest) -> JsonResponse:
    """Polled by static/js/whatsapp.js to refresh the page without reloading it."""
    return JsonResponse({"sessions": services.sessions_overview(refresh=True)})


@operator_required
@require_GET
@never_cache
def session_qr_png(request: HttpRequest) -> HttpResponse:
    """Same-origin proxy of WAHA's QR PNG: the browser never sees WAHA's URL or API key."""
    try:
        png = services.session_qr(name=_session_name(request), raw=False)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain; charset=utf-8")
    return HttpResponse(png, content_type="image/png")


@operator_required
@require_POST
def session_start(request: HttpRequest) -> HttpResponse:
    name = _session_name(request)
    try:
        services.session_start(name=name)
        messages.success(request, f"Sessão {name} iniciada. Aguarde o QR code, se necessário.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:whatsapp-sessions")


@operator_required
@require_POST
def session_stop(request: HttpRequest) -> HttpResponse:
    name = _session_name(request)
    try:
        services.session_stop(name=name)
        messages.success(request, f"Sessão {name} parada.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:whatsapp-sessions")
