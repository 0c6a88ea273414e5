"""Prometheus metrics at /metrics.

Two kinds, on a registry of our own (not the global one, so nothing a library registers leaks out):

- Business numbers computed from the database at scrape time (dispatches per status per WAHA session,
  messages, webhook events, queue depth, sessions, answer time). Every gunicorn worker and qcluster process
  shares the database, so these are correct whichever worker answers the scrape: no multi-process counter
  plumbing needed.
- Process-local timings (webhook latency, bot answer time, classification confidence, HTTP responses by
  class). With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR (a tmpfs directory, emptied at start)
  and prometheus_client aggregates them across workers; without it, each scrape sees the answering worker
  only.

Feeding functions for other modules: `observe_webhook(seconds)`, `observe_pix_webhook(seconds)`,
`observe_bot_answer(seconds)`, `observe_classification(intent, confidence)`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from billing.models import Campaign, Dispatch, PixNotification
from conversations.models import Message
from whatsapp.models import WahaSession, WebhookEvent

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_SECONDS = Histogram(
    "cobranca_webhook_seconds",
    "Time to answer a WAHA webhook request",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
PIX_WEBHOOK_SECONDS = Histogram(
    "cobranca_pix_webhook_seconds",
    "Time to answer a PSP payment webhook request (API Pix)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
BOT_ANSWER_SECONDS = Histogram(
    "cobranca_bot_answer_seconds",
    "Time from a debtor's message to the bot's reply",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
CLASSIFICATION_CONFIDENCE = Histogram(
    "cobranca_classification_confidence",
    "Confidence of the intent classifier per predicted intent",
    ["intent"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
    registry=REGISTRY,
)
HTTP_RESPONSES = Counter(
    "cobranca_http_responses",
    "HTTP responses by status class (5xx is the error rate)",
    ["status_class"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "cobranca_http_request_seconds",
    "Request latency (all views)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)

# Intents are a closed label set; anything else is bucketed so a bad caller cannot explode label cardinality.
_MAX_INTENT_LEN = 40


def observe_webhook(seconds: float) -> None:
    WEBHOOK_SECONDS.observe(max(seconds, 0.0))


def observe_pix_webhook(seconds: float) -> None:
    PIX_WEBHOOK_SECONDS.observe(max(seconds, 0.0))


def observe_bot_answer(seconds: float) -> None:
    BOT_ANSWER_SECONDS.observe(max(seconds, 0.0))


def observe_classification(intent: str, confidence: float) -> None:
    label = (
        intent if intent and len(intent) <= _MAX_INTENT_LEN and intent.replace("_", "").isalnum() else "other"
    )
    CLASSIFICATION_CONFIDENCE.labels(intent=label).observe(min(max(float(confidence), 0.0), 1.0))


def observe_http(status_code: int, seconds: float) -> None:
    HTTP_RESPONSES.labels(status_class=f"{status_code // 100}xx").inc()
    HTTP_SECONDS.observe(seconds)


def queue_depth() -> int | None:
    """Tasks waiting in django-q2's broker (ORM table or Redis list); None when the broker cannot be asked."""
    try:
        from django_q.brokers import get_broker

        return int(get_broker().queue_size())
    except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the broker is down
        logger.warning("metrics.queue_depth_failed error={}", type(exc).__name__)
        return None


def _pix_notifications_family() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "cobranca_pix_notifications", "PSP payment notifications per status", labels=["status"]
    )
    for row in PixNotification.objects.values("status").annotate(n=Count("pk")).order_by():
        family.add_metric([row["status"]], row["n"])
    return family


class DatabaseCollector:
    """Gauges read from the database on every scrape (cheap aggregate queries over indexed columns)."""

    def describe(self):
        # Without it, registering would call collect() (database queries) at import time.
        return []

    def collect(self):
        dispatches = GaugeMetricFamily(
            "cobranca_dispatches", "Dispatches per status and WAHA session", labels=["session", "status"]
        )
        rows = Dispatch.objects.values("campaign__session_name", "status").annotate(n=Count("pk")).order_by()
        for row in rows:
            dispatches.add_metric([row["campaign__session_name"] or "", row["status"]], row["n"])
        yield dispatches

        campaigns = GaugeMetricFamily("cobranca_campaigns", "Campaigns per status", labels=["status"])
        for row in Campaign.objects.values("status").annotate(n=Count("pk")).order_by():
            campaigns.add_metric([row["status"]], row["n"])
        yield campaigns

        messages = GaugeMetricFamily(
            "cobranca_messages", "Messages per direction and author", labels=["direction", "author"]
        )
        for row in Message.objects.values("direction", "author").annotate(n=Count("pk")).order_by():
            messages.add_metric([row["direction"], row["author"]], row["n"])
        yield messages

        webhooks = GaugeMetricFamily(
            "cobranca_webhook_events", "Stored webhook events per state", labels=["state"]
        )
        for row in WebhookEvent.objects.values("state").annotate(n=Count("pk")).order_by():
            webhooks.add_metric([row["state"]], row["n"])
        yield webhooks

        yield _pix_notifications_family()

        sessions = GaugeMetricFamily(
            "cobranca_waha_session_up", "1 when the WAHA session is WORKING", labels=["session", "status"]
        )
        for name, status in WahaSession.objects.values_list("name", "status"):
            sessions.add_metric([name, status], 1.0 if status == WahaSession.Status.WORKING else 0.0)
        yield sessions

        since = timezone.now() - dt.timedelta(hours=1)
        answer = (
            Message.objects.filter(
                direction=Message.Direction.IN, replied_at__isnull=False, sent_at__gte=since
            )
            .annotate(delay=ExpressionWrapper(F("replied_at") - F("sent_at"), output_field=DurationField()))
            .aggregate(avg=Avg("delay"))["avg"]
        )
        yield GaugeMetricFamily(
            "cobranca_answer_seconds_avg_1h",
            "Average time to answer a debtor's message over the last hour (any process)",
            value=answer.total_seconds() if answer else 0.0,
        )

        depth = queue_depth()
        if depth is not None:
            yield GaugeMetricFamily(
                "cobranca_queue_depth", "Tasks waiting in the django-q2 broker", value=depth
            )


REGISTRY.register(DatabaseCollector())


def render_metrics() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorized(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Staff session or `Authorization: Bearer <METRICS_TOKEN>`. 401 otherwise (never 302: scrapers don't log
    in)."""
    if not _authorized(request):
        logger.bind(security=True).warning(
            "security.metrics_denied ip={}", request.META.get("REMOTE_ADDR", "")
        )
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
