from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditLog
from billing.tests.factories import CampaignFactory, DispatchFactory
from cobranca import alerts, middleware
from whatsapp.models import WahaSession

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def receiver():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_a_failed_session_alerts_once_by_webhook_and_email(receiver, settings):
    url, received = receiver
    settings.ALERT_WEBHOOK_URL = url
    settings.ADMINS = [("Ops", "ops@example.com")]
    WahaSession.objects.create(name="default", status="FAILED")
    assert alerts.alerts_run() == 1
    assert alerts.alerts_run() == 0  # deduped within ALERT_RESEND_MINUTES
    assert [r["alert"]["key"] for r in received] == ["waha_session_failed:default"]
    assert len(mail.outbox) == 1 and "falhou" in mail.outbox[0].subject
    assert alerts.alerts_active()[0]["kind"] == "waha_session_failed"
    assert AuditLog.objects.filter(action="alert.sent").count() == 1


def test_a_running_campaign_with_pending_dispatches_and_no_recent_send_is_stalled(settings):
    settings.ALERT_CAMPAIGN_STALL_MINUTES = 15
    settings.SEND_WINDOW = (
        "always"  # stalled inside an open window (a closed one is test_..._waits_for_its_window)
    )
    campaign = CampaignFactory(status="running", started_at=timezone.now() - dt.timedelta(hours=1))
    DispatchFactory(campaign=campaign, status="sent", sent_at=timezone.now() - dt.timedelta(minutes=30))
    DispatchFactory(campaign=campaign, status="pending")
    healthy = CampaignFactory(status="running", started_at=timezone.now() - dt.timedelta(hours=1))
    DispatchFactory(campaign=healthy, status="sent", sent_at=timezone.now() - dt.timedelta(minutes=1))
    DispatchFactory(campaign=healthy, status="pending")
    keys = [a.key for a in alerts.alerts_evaluate()]
    assert f"campaign_stalled:{campaign.pk}" in keys and f"campaign_stalled:{healthy.pk}" not in keys


def test_a_campaign_that_only_waits_for_its_window_is_not_stalled(settings):
    """Issue #13 item 2: started on a Sunday evening, pending, nothing sent: waiting, not stalled."""
    from zoneinfo import ZoneInfo

    settings.ALERT_CAMPAIGN_STALL_MINUTES = 15
    settings.SEND_WINDOW = "mon-fri 08:00-20:00; sat 08:00-14:00"
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    sunday = dt.datetime(2026, 12, 6, 23, 30, tzinfo=ZoneInfo("America/Sao_Paulo"))
    campaign = CampaignFactory(status="running", started_at=sunday - dt.timedelta(hours=3))
    DispatchFactory(campaign=campaign, status="pending")
    assert f"campaign_stalled:{campaign.pk}" not in [a.key for a in alerts.alerts_evaluate(now=sunday)]
    # Monday 08:05, window open for 5 minutes only: still not stalled; at 08:30 with nothing sent, stalled.
    monday = dt.datetime(2026, 12, 7, 8, 5, tzinfo=ZoneInfo("America/Sao_Paulo"))
    assert f"campaign_stalled:{campaign.pk}" not in [a.key for a in alerts.alerts_evaluate(now=monday)]
    later = monday + dt.timedelta(minutes=25)
    assert f"campaign_stalled:{campaign.pk}" in [a.key for a in alerts.alerts_evaluate(now=later)]


def test_an_error_rate_above_the_threshold_alerts(settings):
    settings.ALERT_ERROR_RATE_PERCENT = 5
    for i in range(40):
        middleware.WINDOW.add(is_error=i < 4)
    assert "error_rate" in [a.key for a in alerts.alerts_evaluate()]


def test_a_growing_backlog_above_the_threshold_alerts(settings, monkeypatch):
    settings.ALERT_QUEUE_BACKLOG = 10
    depths = iter([20, 30, 40])
    monkeypatch.setattr("cobranca.metrics.queue_depth", lambda: next(depths))
    results = [[a.key for a in alerts.alerts_evaluate()] for _ in range(3)]
    assert "queue_backlog" not in results[1] and "queue_backlog" in results[2]


def test_a_webhook_that_fails_is_retried_on_the_next_run(settings):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/closed"
    settings.ADMINS = []
    WahaSession.objects.create(name="default", status="FAILED")
    assert alerts.alerts_run() == 0
    assert AuditLog.objects.filter(action="alert.sent").count() == 0


def test_a_second_outage_after_recovery_alerts_again_inside_the_resend_window(settings):
    settings.ALERT_WEBHOOK_URL = ""
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.ALERT_RESEND_MINUTES = 60
    session = WahaSession.objects.create(name="default", status="FAILED")
    assert alerts.alerts_run() == 1
    assert alerts.alerts_run() == 0  # the same outage, still going: not repeated

    session.status = "WORKING"
    session.save()
    assert alerts.alerts_run() == 0 and alerts.alerts_active() == []

    session.status = "FAILED"
    session.save()
    assert alerts.alerts_run() == 1  # a new outage, minutes after the first: reported
    assert len(mail.outbox) == 2
