"""Operational alerts: evaluated by a django-q2 schedule, sent to admins (email) and/or ALERT_WEBHOOK_URL.

- `alerts_evaluate()` looks at the database and the shared metrics window and returns what is wrong now.
- `alerts_run()` (the schedule's func) evaluates, stores the active list for the dashboard
  (`alerts_active()`), and notifies each alert at most once per ALERT_RESEND_MINUTES (dedupe key in the shared
  cache, so two workers running the schedule concurrently still send once: `cache.add` is atomic). A condition
  that clears drops its dedupe key, so the next occurrence (a second outage) is notified again.

No network call happens inside a transaction; the webhook POST has a short timeout and its failure is logged,
not raised (the next run tries again because the dedupe key is only set after a successful send).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from django.core.mail import mail_admins
from django.db.models import Max, Q
from django.utils import timezone
from loguru import logger

from billing.dispatch.window import window_for_campaign
from billing.models import Campaign, Dispatch
from cobranca import clock
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from whatsapp.models import WahaSession

ACTIVE_CACHE_KEY = "alerts:active"
QUEUE_HISTORY_KEY = "alerts:queue_depth_history"
SENT_KEY = "alerts:sent:{key}"


@dataclass(frozen=True)
class Alert:
    key: str  # stable identity of the condition, e.g. "waha_session_failed:default" (the dedupe key)
    kind: str
    severity: str  # "critical" | "warning"
    title: str  # pt-BR, shown in the dashboard and the email subject
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _waha_sessions_failed() -> list[Alert]:
    return [
        Alert(
            key=f"waha_session_failed:{name}",
            kind="waha_session_failed",
            severity="critical",
            title=f"Sessão WhatsApp {name} falhou",
            detail="A sessão WAHA está em FAILED: nenhuma mensagem sai até ela ser reiniciada.",
        )
        for name in WahaSession.objects.filter(status=WahaSession.Status.FAILED).values_list(
            "name", flat=True
        )
    ]


def _window_open_throughout(campaign: Campaign, since: dt.datetime, now: dt.datetime) -> bool:
    """A campaign only waiting for its send window is not stalled: its window must be open now and at the
    start of the stall period (it did not just open) for silence to mean something is wrong."""
    try:
        window = window_for_campaign(campaign)
    except ApplicationError:  # a bad spec is the driver's problem; the alert judges by sends alone
        return True
    return window.is_open(now) and window.is_open(since)


def _campaigns_stalled(now: dt.datetime) -> list[Alert]:
    minutes = int(settings.ALERT_CAMPAIGN_STALL_MINUTES)
    limit = now - dt.timedelta(minutes=minutes)
    running = (
        Campaign.objects.filter(status=Campaign.Status.RUNNING)
        .annotate(
            last_sent=Max("dispatches__sent_at"),
            has_pending=Max("dispatches__pk", filter=Q(dispatches__status=Dispatch.Status.PENDING)),
        )
        .filter(has_pending__isnull=False)
    )
    alerts = []
    for campaign in running:
        last = campaign.last_sent or campaign.started_at or campaign.created_at
        if last and last < limit and _window_open_throughout(campaign, limit, now):
            alerts.append(
                Alert(
                    key=f"campaign_stalled:{campaign.pk}",
                    kind="campaign_stalled",
                    severity="warning",
                    title=f"Campanha #{campaign.pk} parada",
                    detail=f"Em execução com envios pendentes e nada enviado há mais de {minutes} minutos.",
                )
            )
    return alerts


def _error_rate() -> list[Alert]:
    from cobranca.middleware import error_window

    minutes = 5
    total, errors = error_window(minutes=minutes)
    threshold = float(settings.ALERT_ERROR_RATE_PERCENT)
    # Below a minimum volume one failed request would be "100%": not a signal.
    if total < int(settings.ALERT_ERROR_RATE_MIN_REQUESTS) or errors * 100 <= threshold * total:
        return []
    return [
        Alert(
            key="error_rate",
            kind="error_rate",
            severity="critical",
            title="Taxa de erros alta",
            detail=f"{errors} de {total} respostas com erro 5xx nos últimos {minutes} minutos "
            f"(limite {threshold:g}%).",
        )
    ]


def _queue_backlog() -> list[Alert]:
    """Backlog above the threshold AND growing over the last three evaluations (a burst that drains is
    fine)."""
    from cobranca.metrics import queue_depth

    depth = queue_depth()
    if depth is None:
        return []
    history = [*(cache.get(QUEUE_HISTORY_KEY) or [])[-2:], depth]
    cache.set(QUEUE_HISTORY_KEY, history, 3600)
    threshold = int(settings.ALERT_QUEUE_BACKLOG)
    growing = len(history) == 3 and history[0] < history[1] < history[2]
    if depth < threshold or not growing:
        return []
    return [
        Alert(
            key="queue_backlog",
            kind="queue_backlog",
            severity="warning",
            title="Fila de tarefas crescendo",
            detail=f"{depth} tarefas aguardando (limite {threshold}) e aumentando: verifique o qcluster.",
        )
    ]


def alerts_evaluate(*, now: dt.datetime | None = None) -> list[Alert]:
    now = now or clock.now()
    return [*_waha_sessions_failed(), *_campaigns_stalled(now), *_error_rate(), *_queue_backlog()]


def alerts_active() -> list[dict]:
    """The alerts of the last evaluation, for the dashboard (a list of dicts: key, kind, severity, title,
    detail)."""
    return cache.get(ACTIVE_CACHE_KEY) or []


def _send(alert: Alert) -> bool:
    sent = False
    url = settings.ALERT_WEBHOOK_URL
    if url:
        try:
            response = requests.post(url, json={"alert": alert.as_dict(), "app": "cobranca"}, timeout=(3, 5))
            response.raise_for_status()
            sent = True
        except requests.RequestException as exc:
            logger.warning("alerts.webhook_failed key={} error={}", alert.key, type(exc).__name__)
    if settings.ADMINS:
        try:
            mail_admins(f"[alerta] {alert.title}", alert.detail, fail_silently=False)
            sent = True
        except Exception as exc:  # noqa: BLE001 - SMTP errors vary by backend; the next run retries
            logger.warning("alerts.mail_failed key={} error={}", alert.key, type(exc).__name__)
    if not url and not settings.ADMINS:
        logger.warning("alerts.no_destination key={} (set ADMINS or ALERT_WEBHOOK_URL)", alert.key)
    return sent


def alerts_notify(alerts: list[Alert]) -> list[Alert]:
    """Send the alerts not sent within ALERT_RESEND_MINUTES. Returns the ones sent now."""
    resend = int(settings.ALERT_RESEND_MINUTES) * 60
    sent_now = []
    for alert in alerts:
        key = SENT_KEY.format(key=alert.key)
        if not cache.add(key, timezone.now().isoformat(), resend):
            continue  # sent recently (by this or another process)
        if _send(alert):
            sent_now.append(alert)
            audit_record(
                action="alert.sent",
                target_type="alert",
                target_id=alert.key[:64],
                details={"kind": alert.kind, "severity": alert.severity},
            )
        else:
            cache.delete(key)  # let the next run retry
    return sent_now


def alerts_run() -> int:
    """django-q2 schedule entry point (`cobranca.alerts.alerts_run`, every minute). Returns how many were
    sent."""
    alerts = alerts_evaluate()
    current = {a.key for a in alerts}
    # A condition that cleared since the last run forgets its dedupe key: a new outage after the recovery is a
    # new incident and alerts again, even inside ALERT_RESEND_MINUTES (the window only stops repeats of one
    # continuing condition).
    recovered = [SENT_KEY.format(key=a["key"]) for a in alerts_active() if a.get("key") not in current]
    if recovered:
        cache.delete_many(recovered)
    cache.set(ACTIVE_CACHE_KEY, [a.as_dict() for a in alerts], 3600)
    for alert in alerts:
        logger.warning("alerts.active key={} title={}", alert.key, alert.title)
    return len(alerts_notify(alerts))
