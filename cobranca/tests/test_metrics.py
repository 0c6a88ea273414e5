from __future__ import annotations

import pytest
from django.test import Client as DjangoClient

from billing.tests.factories import DispatchFactory
from cobranca import metrics
from cobranca.tests.security_helpers import URLCONF, make_user
from whatsapp.models import WahaSession

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)]


def test_metrics_need_a_staff_session_or_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    staff = DjangoClient()
    staff.force_login(make_user("staff"))
    assert staff.get("/metrics").status_code == 200


def test_business_numbers_come_from_the_database_at_scrape_time(settings):
    DispatchFactory(status="sent")
    DispatchFactory(status="failed")
    WahaSession.objects.create(name="default", status="FAILED")
    metrics.observe_classification("promessa_pagamento", 0.83)
    metrics.observe_classification("<script>", 0.5)
    metrics.observe_webhook(0.012)
    text = metrics.render_metrics().decode()
    assert 'cobranca_dispatches{session="default",status="sent"} 1.0' in text
    assert 'cobranca_dispatches{session="default",status="failed"} 1.0' in text
    assert 'cobranca_waha_session_up{session="default",status="FAILED"} 0.0' in text
    assert 'cobranca_classification_confidence_count{intent="promessa_pagamento"}' in text
    assert 'intent="other"' in text and "<script>" not in text
    assert "cobranca_webhook_seconds_count" in text and "cobranca_queue_depth" in text


def test_the_middleware_counts_5xx_and_times_the_webhook(client):
    before = metrics.HTTP_RESPONSES.labels(status_class="4xx")._value.get()
    webhook_before = metrics.WEBHOOK_SECONDS._sum.get()
    client.post("/webhook/waha", data=b"{}", content_type="application/json")
    assert metrics.HTTP_RESPONSES.labels(status_class="4xx")._value.get() == before + 1
    assert metrics.WEBHOOK_SECONDS._sum.get() > webhook_before
