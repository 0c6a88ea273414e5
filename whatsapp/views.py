"""WhatsApp views: the WAHA webhook (machine-to-machine) and the operators' session page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required
from whatsapp import services
from whatsapp.webhooks import WebhookRejected, webhook_receive


@csrf_exempt  # WAHA cannot send a CSRF token; the HMAC signature authenticates the request instead.
@require_POST
def waha_webhook(request: HttpRequest) -> JsonResponse:
    max_bytes = settings.WAHA_WEBHOOK_MAX_BYTES
    # Refuse on the declared length before Django reads the body into memory, then on the real length (a
    # chunked request has no Content-Length).
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        return JsonResponse({"status": "error", "reason": "too_large"}, status=413)
    body = request.body
    if len(body) > max_bytes:
        return JsonResponse({"status": "error", "reason": "too_large"}, status=413)
    try:
        result = webhook_receive(
            body=body,
            signature=request.headers.get("X-Webhook-Hmac"),
            header_timestamp=request.headers.get("X-Webhook-Timestamp"),
            request_id=request.headers.get("X-Webhook-Request-Id"),
            client_ip=request.META.get("REMOTE_ADDR", ""),
        )
    except WebhookRejected as exc:
        return JsonResponse({"status": "error", "reason": exc.reason}, status=exc.status)
    return JsonResponse({"status": result.status})


# --- operators' page ----------------------------------------------------------------------------------------


def _session_name(request: HttpRequest) -> str:
    name = (request.POST.get("session") or request.GET.get("session") or settings.WAHA_SESSION_NAME).strip()
    return name[:100] or settings.WAHA_SESSION_NAME


@operator_required
@require_GET
def sessions_page(request: HttpRequest) -> HttpResponse:
    sessions = services.sessions_overview(refresh=True)
    return render(
        request,
        "whatsapp/sessions.html",
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
def session_start_view(request: HttpRequest) -> HttpResponse:
    name = _session_name(request)
    try:
        services.session_start(name=name)
        messages.success(request, f"Sessão {name} iniciada. Aguarde o QR code, se necessário.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("whatsapp-sessions")


@operator_required
@require_POST
def session_stop_view(request: HttpRequest) -> HttpResponse:
    name = _session_name(request)
    try:
        services.session_stop(name=name)
        messages.success(request, f"Sessão {name} parada.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("whatsapp-sessions")
