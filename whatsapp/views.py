"""The WAHA webhook view (machine-to-machine); the operators' session page is the dashboard's
(cobranca/dashboard/views/sessions.py)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

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
