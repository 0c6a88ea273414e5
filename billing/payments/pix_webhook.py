"""The PSP's payment webhook: `POST /webhook/pix/<PIX_WEBHOOK_TOKEN>/pix` (the PSP appends `/pix` to the URL
registered with `manage.py pix_register_webhook`).

The intake does as little as the WAHA webhook's: token (constant-time), size (PIX_WEBHOOK_MAX_BYTES, refused
from Content-Length by cobranca.middleware before the body is read), JSON, then one INSERT per Pix (unique
e2eid: a replay or a second delivery is stored once) and the confirmation task in the same transaction.
Nothing in the body is believed: `billing.payments.pix_notifications` confirms each Pix at the PSP first.

A wrong or unset token answers the site's ordinary 404, so a scan cannot tell the webhook exists.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from loguru import logger

from billing.models import PixNotification
from billing.payments.pix_notifications import CONFIRM_TASK, StoreResult, pix_notifications_store
from cobranca.json_numbers import JsonRejected, strict_loads
from cobranca.tasks import enqueue_with_rows

# More Pix than any PSP puts in one POST (they batch a few): a bigger list is refused, not half stored.
MAX_ITEMS = 500


class PixWebhookRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def token_matches(token: str) -> bool:
    expected = settings.PIX_WEBHOOK_TOKEN
    if not expected:
        return False  # the webhook is off until a token is configured
    return hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode("utf-8"))


def parse_notification(body: bytes) -> list[Any]:
    """The `pix` list of a notification body; PixWebhookRejected(400) for anything else."""
    try:
        data = strict_loads(body)  # the WAHA webhook's rules: NaN/Infinity and 1e400 (inf) refused
        if b"\\ud" in body.lower():
            # A lone surrogate (\ud800) is JSON but cannot be stored as text: refused, not mangled.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except JsonRejected as exc:
        raise PixWebhookRejected(400, exc.reason) from None
    except RecursionError:
        raise PixWebhookRejected(400, "too_deep") from None
    except (ValueError, UnicodeError):
        raise PixWebhookRejected(400, "malformed_json") from None
    if b"\\u0000" in body:  # NUL: valid JSON, refused by PostgreSQL's jsonb
        raise PixWebhookRejected(400, "nul_character")
    if not isinstance(data, dict) or not isinstance(data.get("pix"), list):
        raise PixWebhookRejected(400, "missing_pix_list")
    if len(data["pix"]) > MAX_ITEMS:
        raise PixWebhookRejected(400, "too_many_items")
    return data["pix"]


def pix_webhook_receive(*, body: bytes) -> StoreResult:
    """Store a notification's Pix and enqueue their confirmation, atomically (see the module docstring).

    The usual notification carries one Pix: it is stored without a savepoint, and a duplicate (the unique
    e2eid refusing the INSERT) rolls the whole transaction back, task included."""
    items = parse_notification(body)
    single = len(items) == 1
    try:
        with transaction.atomic():
            result = pix_notifications_store(items=items, savepoints=not single)
            if result.accepted:
                enqueue_with_rows(CONFIRM_TASK, result.accepted, using=router.db_for_write(PixNotification))
    except IntegrityError:
        e2eid = items[0].get("endToEndId") if single and isinstance(items[0], dict) else None
        if not single or not PixNotification.objects.filter(e2eid=e2eid).exists():
            raise
        return StoreResult(duplicates=1)
    return result


@csrf_exempt  # the PSP sends no CSRF token; the secret path segment (and mTLS at the proxy) stands in
@require_POST
def pix_webhook(request: HttpRequest, token: str) -> JsonResponse:
    if not token_matches(token):
        logger.bind(security=True).warning(
            "security.pix_webhook_bad_token ip={}", request.META.get("REMOTE_ADDR", "")
        )
        raise Http404()
    try:
        result = pix_webhook_receive(body=request.body)
    except PixWebhookRejected as exc:
        logger.warning("pix.webhook_rejected reason={}", exc.reason)
        return JsonResponse({"status": "error", "reason": exc.reason}, status=exc.status)
    return JsonResponse(
        {"status": "ok", "accepted": len(result.accepted), "duplicates": result.duplicates}, status=200
    )
