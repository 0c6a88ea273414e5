"""WhatsApp URLs, included at the site root: the WAHA webhook, the session API and the operators' page."""

from __future__ import annotations

from django.urls import path

from whatsapp import apis, views

urlpatterns = [
    path("webhook/waha", views.waha_webhook, name="waha-webhook"),
    path("api/waha/status", apis.WahaStatusApi.as_view(), name="waha-status"),
    path("api/waha/start", apis.WahaStartApi.as_view(), name="waha-start"),
    path("api/waha/stop", apis.WahaStopApi.as_view(), name="waha-stop"),
    path("api/waha/qr", apis.WahaQrApi.as_view(), name="waha-qr"),
    path("painel/whatsapp/", views.sessions_page, name="whatsapp-sessions"),
    path("painel/whatsapp/status.json", views.sessions_status_json, name="whatsapp-sessions-status"),
    path("painel/whatsapp/qr.png", views.session_qr_png, name="whatsapp-session-qr"),
    path("painel/whatsapp/start", views.session_start_view, name="whatsapp-session-start"),
    path("painel/whatsapp/stop", views.session_stop_view, name="whatsapp-session-stop"),
]
