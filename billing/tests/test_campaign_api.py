"""Campaign API: send-batch with each audience kind, clients_file confinement, send-single, batch-status,
actions."""

from __future__ import annotations

import json
import os

import pytest
from django.contrib.auth import get_user_model
from django.urls import include, path
from rest_framework.test import APIClient

from billing.models import Campaign, Client, Dispatch
from billing.tests import dispatch_support as support
from billing.tests.dispatch_support import drive, make_charges, plain_template, start_campaign
from billing.tests.factories import ChargeFactory, ClientFactory
from conversations.models import Message

# Self-contained routing: this module is its own URLconf, wherever cobranca/urls.py mounts billing.urls.
fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture

urlpatterns = [path("api/billing/", include("billing.urls"))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
DS = Dispatch.Status

ROWS = [
    {
        "id": "FAT-1",
        "name": "Ana Souza",
        "phone": "+5511987650001",
        "amount": "150.50",
        "due_date": "2030-01-10",
        "description": "Mensalidade",
    },
    {
        "id": "FAT-2",
        "name": "Bruno Lima",
        "phone": "+5511987650002",
        "amount": "99.90",
        "due_date": "2030-01-11",
        "description": "Mensalidade",
    },
]


@pytest.fixture
def api(db):
    user = get_user_model().objects.create_user(
        username="integrador", password="x", is_staff=True, is_superuser=True
    )
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def uploads(tmp_path, settings):
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.UPLOADS_DIR = folder
    return folder


def test_anonymous_users_are_refused(db):
    response = APIClient().get("/api/billing/batch-status")
    assert response.status_code in (401, 403)
    assert "message" in response.json()


def test_send_batch_with_an_inline_client_list_imports_and_starts(api, fake_waha):
    template = plain_template()
    response = api.post(
        "/api/billing/send-batch",
        {"clients": ROWS, "template_name": template.name, "delay_seconds": 0},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["total"] == 2
    assert body["import"]["imported"] == 2
    campaign = Campaign.objects.get(pk=body["campaign_id"])
    assert campaign.status == Campaign.Status.RUNNING
    assert campaign.import_batch_id == body["import"]["batch_id"]


def test_send_batch_with_a_file_from_the_uploads_folder(api, uploads, fake_waha):
    (uploads / "clientes.json").write_text(json.dumps(ROWS), encoding="utf-8")
    response = api.post(
        "/api/billing/send-batch",
        {"clients_file": "clientes.json", "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == 2


def test_send_batch_with_a_segment(api, fake_waha):
    make_charges(3)
    response = api.post(
        "/api/billing/send-batch",
        {"segment": {"statuses": ["open"]}, "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == 3


def test_send_batch_needs_exactly_one_audience(api, fake_waha):
    response = api.post(
        "/api/billing/send-batch",
        {"clients": ROWS, "segment": {"statuses": ["open"]}, "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Dados inválidos."


def test_send_batch_with_an_unknown_template_is_404(api, fake_waha):
    response = api.post(
        "/api/billing/send-batch", {"clients": ROWS, "template_name": "nao-existe"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["extra"] == {"template_name": "nao-existe"}


def test_send_batch_with_compliance_warnings_needs_confirmation(api, fake_waha):
    from billing.tests.factories import MessageTemplateFactory

    template = MessageTemplateFactory(name="ameaca", body="Pague {amount} ou vamos protestar seu nome.")
    payload = {"clients": ROWS, "template_name": template.name}
    refused = api.post("/api/billing/send-batch", payload, format="json")
    assert refused.status_code == 400
    assert refused.json()["extra"]["warnings"]
    accepted = api.post("/api/billing/send-batch", {**payload, "confirm_compliance": True}, format="json")
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    "name",
    [
        "../secret.json",
        "/etc/passwd",
        "a/../../secret.json",
        "..",
        "C:\\x.json",
        "sub\\..\\x.json",
        "bad\x00.json",
        "x" * 300 + ".json",  # longer than a file name may be: the OS error must not become a 500
    ],
)
def test_clients_file_cannot_leave_the_uploads_folder(api, uploads, fake_waha, name):
    (uploads.parent / "secret.json").write_text(json.dumps(ROWS), encoding="utf-8")
    response = api.post(
        "/api/billing/send-batch",
        {"clients_file": name, "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 400
    assert Campaign.objects.count() == 0


def test_clients_file_symlinks_pointing_outside_are_refused(api, uploads, fake_waha):
    outside = uploads.parent / "outside.json"
    outside.write_text(json.dumps(ROWS), encoding="utf-8")
    os.symlink(outside, uploads / "link.json")
    response = api.post(
        "/api/billing/send-batch",
        {"clients_file": "link.json", "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 400
    assert Campaign.objects.count() == 0


def test_a_missing_clients_file_is_404(api, uploads, fake_waha):
    response = api.post(
        "/api/billing/send-batch",
        {"clients_file": "nada.json", "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 404


def test_send_single_sends_now_and_returns_the_message_id(api, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    charge = ChargeFactory(client=ClientFactory(phone="+5511987651234"))
    response = api.post(
        "/api/billing/send-single",
        {"phone": "(11) 98765-1234", "template_name": plain_template().name},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["message_id"] == fake_waha.sent[0]["id"]
    assert charge.client.name in fake_waha.sent[0]["text"]


def test_send_single_with_text_to_a_client_id(api, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    client = ClientFactory()
    response = api.post("/api/billing/send-single", {"client_id": client.pk, "text": "Olá!"}, format="json")
    assert response.status_code == 200
    assert fake_waha.sent[0]["text"] == "Olá!"
    # Recorded in the client's conversation (billing's messages_sent signal → conversations).
    message = Message.objects.select_related("conversation").get(waha_id=response.json()["message_id"])
    assert (message.author, message.body, message.conversation.client_id) == ("operator", "Olá!", client.pk)
    assert message.operator is not None


def test_send_single_refuses_a_suppressed_client(api, monkeypatch, fake_waha):
    from django.utils import timezone

    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    client = ClientFactory(opted_out_at=timezone.now())
    response = api.post("/api/billing/send-single", {"client_id": client.pk, "text": "Olá!"}, format="json")
    assert response.status_code == 409
    assert fake_waha.sent == []


def test_send_single_to_a_number_without_whatsapp_is_422(api, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    client = ClientFactory()
    fake_waha.unknown_phones.add(client.phone)
    response = api.post("/api/billing/send-single", {"client_id": client.pk, "text": "Oi"}, format="json")
    assert response.status_code == 422
    assert Client.objects.get(pk=client.pk).not_on_whatsapp is True


def test_batch_status_reports_counts_rate_and_eta(api, fake_waha):
    campaign = start_campaign(make_charges(3))
    drive()
    response = api.get(f"/api/billing/batch-status?campaign_id={campaign.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "completed"
    assert body["counts"]["sent"] == 3
    assert body["total"] == 3 and body["remaining"] == 0
    assert body["rate_per_minute"] > 0
    assert body["eta_seconds"] == 0


def test_batch_status_without_id_reports_the_current_campaign(api, fake_waha):
    campaign = start_campaign(make_charges(2), delay="30", jitter="5")
    body = api.get("/api/billing/batch-status").json()
    assert body["campaign_id"] == campaign.pk
    assert body["counts"]["pending"] == 2
    assert body["eta_seconds"] == 60


def test_batch_status_of_a_campaign_outside_its_window_waits_for_it(api, settings, tmp_path):
    """Issue #13 item 2: started on a Sunday at 20:48, the ETA counts from Monday 08:00, not 8 s from now."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from cobranca.clock import set_clock

    sp = ZoneInfo("America/Sao_Paulo")
    settings.CLOCK_FILE = str(tmp_path / "clock")
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    set_clock(settings.CLOCK_FILE, dt.datetime(2026, 12, 6, 20, 48, tzinfo=sp))
    campaign = start_campaign(make_charges(4), delay="2", jitter="0", send_window="mon-fri 08:00-20:00")
    body = api.get(f"/api/billing/batch-status?campaign_id={campaign.pk}").json()
    assert body["status"] == "running" and body["waiting_for_window"] is True
    assert body["state_display"] == "aguardando janela de envio: segunda 08:00"
    opens = dt.datetime(2026, 12, 7, 8, 0, tzinfo=sp)
    assert dt.datetime.fromisoformat(body["window_opens_at"]) == opens
    eta_at = dt.datetime.fromisoformat(body["eta_at"])
    assert opens + dt.timedelta(seconds=7) <= eta_at <= opens + dt.timedelta(seconds=9)  # 4 sends, 2 s apart
    # Once the window is open the campaign is simply running again.
    set_clock(settings.CLOCK_FILE, opens + dt.timedelta(minutes=1))
    body = api.get(f"/api/billing/batch-status?campaign_id={campaign.pk}").json()
    assert body["waiting_for_window"] is False and body["state_display"] == "em execução"
    assert body["eta_seconds"] == 8
    # One sent in the minute since the opening: the rate counts from the opening (1/min), not over the last
    # 5 minutes the window was closed (0.2/min, "20 min" for a campaign 3 sends from the end).
    first = campaign.dispatches.order_by("pk").first()
    Dispatch.objects.filter(pk=first.pk).update(status="sent", sent_at=opens + dt.timedelta(seconds=30))
    body = api.get(f"/api/billing/batch-status?campaign_id={campaign.pk}").json()
    assert body["rate_per_minute"] == 1.0


def test_validation_warns_when_the_window_is_closed_now(settings, tmp_path):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from billing.dispatch.selectors import campaign_validate
    from billing.models import ImportBatch
    from cobranca.clock import set_clock

    settings.CLOCK_FILE = str(tmp_path / "clock")
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    set_clock(settings.CLOCK_FILE, dt.datetime(2026, 12, 6, 20, 48, tzinfo=ZoneInfo("America/Sao_Paulo")))
    batch = ImportBatch.objects.create(filename="x.csv", file_format="csv")
    ChargeFactory(import_batch=batch)
    closed = campaign_validate(
        template=plain_template(), import_batch=batch, send_window="mon-fri 08:00-20:00"
    )
    assert closed.ok  # a warning, not a problem: the campaign may start and wait
    assert any("fechada agora" in w and "segunda 08:00" in w for w in closed.warnings)
    always = campaign_validate(template=plain_template("t2"), import_batch=batch, send_window="always")
    assert not any("fechada agora" in w for w in always.warnings)


def test_batch_status_with_nothing_is_idle(api):
    assert api.get("/api/billing/batch-status").json() == {
        "success": True,
        "campaign_id": None,
        "status": "idle",
    }


def test_campaign_actions_pause_resume_cancel(api, fake_waha):
    campaign = start_campaign(make_charges(1))
    assert api.post(f"/api/billing/campaigns/{campaign.pk}/pause").json()["status"] == "paused"
    assert api.post(f"/api/billing/campaigns/{campaign.pk}/pause").status_code == 409
    assert api.post(f"/api/billing/campaigns/{campaign.pk}/resume").json()["status"] == "running"
    assert api.post(f"/api/billing/campaigns/{campaign.pk}/cancel").json()["status"] == "cancelled"
    listing = api.get("/api/billing/campaigns").json()
    assert listing["results"][0]["id"] == campaign.pk
    detail = api.get(f"/api/billing/campaigns/{campaign.pk}").json()
    assert detail["counts"]["skipped"] == 1


def test_start_a_draft_through_the_api(api, sibling_modules):
    from billing.dispatch import services
    from billing.models import ImportBatch

    batch = ImportBatch.objects.create(filename="a.json", file_format="json")
    ChargeFactory(import_batch=batch)
    campaign = services.campaign_create(template=plain_template(), import_batch=batch)
    response = api.post(
        f"/api/billing/campaigns/{campaign.pk}/start", {"confirm_compliance": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_resend_an_unknown_dispatch(api, fake_waha):
    campaign = start_campaign(make_charges(1))
    dispatch = Dispatch.objects.get(campaign=campaign)
    assert api.post(f"/api/billing/dispatches/{dispatch.pk}/resend").status_code == 409
    Dispatch.objects.filter(pk=dispatch.pk).update(status=DS.UNKNOWN)
    response = api.post(f"/api/billing/dispatches/{dispatch.pk}/resend")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_the_api_needs_confirm_off_hours_to_start_a_campaign_without_window_at_night(
    api, sibling_modules, monkeypatch
):
    import datetime as dt

    from billing.dispatch import services
    from billing.models import ImportBatch
    from cobranca import clock

    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC))  # 23:00 local
    batch = ImportBatch.objects.create(filename="a.json", file_format="json")
    ChargeFactory(import_batch=batch)
    campaign = services.campaign_create(template=plain_template(), import_batch=batch, send_window="always")
    url = f"/api/billing/campaigns/{campaign.pk}/start"
    refused = api.post(url, {"confirm_compliance": True}, format="json")
    assert refused.status_code == 400 and refused.json()["extra"]["confirm_off_hours"] is False
    started = api.post(url, {"confirm_compliance": True, "confirm_off_hours": True}, format="json")
    assert started.status_code == 200 and started.json()["status"] == "running"
