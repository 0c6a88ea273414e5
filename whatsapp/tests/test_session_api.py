"""Session control against the WAHA simulator: the API, the operators' page and the QR proxy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from whatsapp.models import WahaSession
from whatsapp.tests.test_webhook_processing import install_billing_stub

pytestmark = pytest.mark.django_db

PNG_MAGIC = b"\x89PNG"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}


@pytest.fixture
def billing_calls(monkeypatch):
    return install_billing_stub(monkeypatch)


@pytest.fixture
def operator():
    return User.objects.create_user("operadora", password="x", is_staff=True, is_superuser=True)


@pytest.fixture
def api(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


def test_status_merges_our_rows_with_the_live_waha_view(api, waha_settings):
    WahaSession.objects.create(name="default", status=WahaSession.Status.SCAN_QR_CODE)
    response = api.get("/api/waha/status")
    assert response.status_code == 200
    (session,) = response.json()["sessions"]
    assert session["name"] == "default"
    assert session["status"] == "SCAN_QR_CODE"
    assert session["live_status"] == "WORKING"
    assert session["waha_reachable"] is True


def test_status_still_answers_when_waha_is_down(api, settings):
    from whatsapp.client import get_client

    settings.WAHA_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    get_client.cache_clear()
    try:
        response = api.get("/api/waha/status")
    finally:
        get_client.cache_clear()
    assert response.status_code == 200
    assert response.json()["sessions"][0]["waha_reachable"] is False


def test_start_configures_our_signed_webhook_and_starts_the_session(api, waha_settings, waha_simulator):
    waha_settings.WAHA_WEBHOOK_URL = "http://127.0.0.1:8000/webhook/waha"
    waha_settings.WAHA_WEBHOOK_HMAC_KEY = "segredo-de-teste"

    response = api.post("/api/waha/start", {"session": "cobranca2"}, format="json")

    assert response.status_code == 200
    info = waha_simulator.session("cobranca2")
    (hook,) = info["config"]["webhooks"]
    assert hook["url"] == "http://127.0.0.1:8000/webhook/waha"
    assert hook["hmac"] == {"key": "segredo-de-teste"}
    assert info["status"] in ("STARTING", "SCAN_QR_CODE", "WORKING")


def test_stop_stops_waha_and_pauses_the_campaigns_at_once(api, waha_settings, waha_simulator, billing_calls):
    response = api.post("/api/waha/stop")
    assert response.status_code == 200
    waha_simulator.wait_for_status("STOPPED")
    assert WahaSession.objects.get(name="default").status == WahaSession.Status.STOPPED
    assert billing_calls.names() == ["campaigns_pause_for_session"]


def test_qr_is_a_png_or_the_raw_value_while_waiting_for_a_scan(api, waha_settings, waha_simulator):
    waha_simulator.set_session_status("SCAN_QR_CODE")

    png = api.get("/api/waha/qr")
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(PNG_MAGIC)

    raw = api.get("/api/waha/qr", {"format": "raw"})
    assert raw.status_code == 200
    assert raw.json()["value"]


def test_qr_outside_scan_state_is_a_409_with_the_error_shape(api, waha_settings):
    response = api.get("/api/waha/qr")
    assert response.status_code == 409
    assert response.json()["extra"]["reason"] == "no_qr"


def test_a_bad_session_name_is_a_400(api, waha_settings):
    assert api.post("/api/waha/start", {"session": "../admin"}, format="json").status_code == 400


# --- operators' page ----------------------------------------------------------------------------------------


def test_the_page_needs_a_login(client):
    response = client.get("/painel/whatsapp/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_page_is_forbidden_to_non_operators(client):
    client.force_login(User.objects.create_user("visitante", password="x"))
    assert client.get("/painel/whatsapp/").status_code == 403


def test_the_page_shows_the_qr_through_a_same_origin_proxy(client, operator, waha_settings, waha_simulator):
    waha_simulator.set_session_status("SCAN_QR_CODE")
    client.force_login(operator)

    page = client.get("/painel/whatsapp/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/painel/whatsapp/qr.png?session=default" in html
    assert "js/whatsapp.js" in html
    assert "<script>" not in html  # no inline scripts

    qr = client.get("/painel/whatsapp/qr.png", {"session": "default"})
    assert qr.status_code == 200 and qr.content.startswith(PNG_MAGIC)

    status = client.get("/painel/whatsapp/status.json").json()
    assert status["sessions"][0]["needs_qr"] is True


def test_start_and_stop_buttons_post_with_csrf(
    client, operator, waha_settings, waha_simulator, billing_calls
):
    client.force_login(operator)
    assert client.get("/painel/whatsapp/stop").status_code == 405
    response = client.post("/painel/whatsapp/stop", {"session": "default"})
    assert response.status_code == 302
    waha_simulator.wait_for_status("STOPPED")
    response = client.post("/painel/whatsapp/start", {"session": "default"})
    assert response.status_code == 302
    waha_simulator.wait_for_status("WORKING")
