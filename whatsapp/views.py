"""The WAHA webhook view (machine-to-machine); the operators' session page is the dashboard's
(cobranca/dashboard/views/sessions.py)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from whatsapp.webhooks import WebhookRejected, webhook_receive


@csrf_exempt  # WAHA cannot send a CSRF token; the HMAC signature authenticates the request instead.
@require_POST
def waha_webhook(request: HttpRequest) -> JsonResponse:
    # WAHA_WEBHOOK_MAX_BYTES is enforced before this view, from Content-Length, by
    # cobranca.middleware.RequestBodyLimitMiddleware (the one body limit for every path).
    body = request.body
    try:
        result = webhook_receive(
            body=body,
            signature=request.headers.get("X-Webhook-Hmac"),
            header_timestamp=request.headers.get("X-Webhook-Timestamp"),
            client_ip=request.META.get("REMOTE_ADDR", ""),
        )
    except WebhookRejected as exc:
        return JsonResponse({"status": "error", "reason": exc.reason}, status=exc.status)
    return JsonResponse({"status": result.status})
