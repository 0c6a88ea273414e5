"""WhatsApp URLs, included at the site root: the WAHA webhook and the session API (the operators' page is the
dashboard's: cobranca/dashboard/views/sessions.py)."""

from __future__ import annotations

from django.urls import path

from whatsapp import apis, views

urlpatterns = [
    path("webhook/waha", views.waha_webhook, name="waha-webhook"),
    path("api/waha/status", apis.WahaStatusApi.as_view(), name="waha-status"),
    path("api/waha/start", apis.WahaStartApi.as_view(), name="waha-start"),
    path("api/waha/stop", apis.WahaStopApi.as_view(), name="waha-stop"),
    path("api/waha/qr", apis.WahaQrApi.as_view(), name="waha-qr"),
]
