"""Request metrics: latency and status class of every response, webhook latency, and a shared error-rate
window.

The error-rate window (used by cobranca.alerts) must be shared across gunicorn workers, so counts go to the
cache (database or Redis). Writing the cache on every request would double the hot path's writes; instead each
process accumulates and flushes at most every FLUSH_SECONDS into per-minute buckets.
"""

from __future__ import annotations

import threading
import time

from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from loguru import logger

from cobranca import metrics

FLUSH_SECONDS = 10.0
BUCKET_SECONDS = 60
BUCKET_TTL = 3600
WEBHOOK_PATH = "/webhook/waha"
# The PSP's payment webhook: /webhook/pix/<token>/pix (billing.payments.pix_webhook).
PIX_WEBHOOK_PREFIX = "/webhook/pix/"


def bucket_key(kind: str, bucket: int) -> str:
    return f"metrics:http:{kind}:{bucket}"


class _Window:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, int], int] = {}
        self.last_flush = time.monotonic()

    def add(self, *, is_error: bool) -> None:
        bucket = int(time.time()) // BUCKET_SECONDS
        with self.lock:
            self.counts[("total", bucket)] = self.counts.get(("total", bucket), 0) + 1
            if is_error:
                self.counts[("errors", bucket)] = self.counts.get(("errors", bucket), 0) + 1
            due = is_error or time.monotonic() - self.last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            pending, self.counts = self.counts, {}
            self.last_flush = time.monotonic()
        for (kind, bucket), n in pending.items():
            key = bucket_key(kind, bucket)
            try:
                cache.add(key, 0, BUCKET_TTL)
                cache.incr(key, n)
            except Exception as exc:  # noqa: BLE001 - metrics must never break a request
                logger.warning("metrics.flush_failed error={}", type(exc).__name__)


WINDOW = _Window()


def error_window(*, minutes: int) -> tuple[int, int]:
    """(total requests, 5xx responses) over the last `minutes` minutes, all processes together."""
    WINDOW.flush()
    now_bucket = int(time.time()) // BUCKET_SECONDS
    keys = {kind: [bucket_key(kind, now_bucket - i) for i in range(minutes)] for kind in ("total", "errors")}
    totals = {kind: sum(v or 0 for v in cache.get_many(names).values()) for kind, names in keys.items()}
    return totals["total"], totals["errors"]


class RequestMetricsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            # Django turns it into a 500 further out; count it here since we will not see that response.
            self._record(request.path, 500, time.perf_counter() - start)
            raise
        self._record(request.path, response.status_code, time.perf_counter() - start)
        return response

    @staticmethod
    def _record(path: str, status_code: int, seconds: float) -> None:
        metrics.observe_http(status_code, seconds)
        if path == WEBHOOK_PATH:
            metrics.observe_webhook(seconds)
        elif path.startswith(PIX_WEBHOOK_PREFIX):
            metrics.observe_pix_webhook(seconds)
        WINDOW.add(is_error=status_code >= 500)


# --- request body limit -------------------------------------------------------------------------------------


def _size_label(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{max(1, n // 1024)} KB"


class RequestBodyLimitMiddleware:
    """The one size limit for every request body: uploads (API, dashboard), JSON documents and the webhook.

    It refuses from Content-Length, before anything (CSRF, DRF's parsers, a view) reads the body, so an
    oversize upload costs neither memory nor a temporary file. Django never reads past Content-Length (a
    request without one, e.g. chunked, has an empty body to Django), so the declared length bounds what can
    be read. The WAHA webhook keeps its own, smaller limit and its own answer shape (docs/webhook.md)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if request.path == WEBHOOK_PATH:
            if declared > settings.WAHA_WEBHOOK_MAX_BYTES:
                return JsonResponse({"status": "error", "reason": "too_large"}, status=413)
            return self.get_response(request)
        if request.path.startswith(PIX_WEBHOOK_PREFIX):
            if declared > settings.PIX_WEBHOOK_MAX_BYTES:
                return JsonResponse({"status": "error", "reason": "too_large"}, status=413)
            return self.get_response(request)
        limit = settings.MAX_UPLOAD_BYTES
        if declared <= limit:
            return self.get_response(request)
        logger.bind(security=True).warning(
            "security.body_too_large path={} content_length={} limit={}", request.path, declared, limit
        )
        message = f"Arquivo ou requisição grande demais: o limite é {_size_label(limit)}."
        if request.path.startswith(("/api/", "/auth/")) or not request.accepts("text/html"):
            return JsonResponse(
                {
                    "message": message,
                    "extra": {"code": "too_large", "limit_bytes": limit, "content_length": declared},
                },
                status=413,
            )
        return HttpResponse(
            f'<!doctype html><html lang="pt-br"><meta charset="utf-8"><title>Arquivo grande demais</title>'
            f"<p>{message} Volte e envie um arquivo menor ou divida-o em partes.</p></html>",
            status=413,
            content_type="text/html; charset=utf-8",
        )
