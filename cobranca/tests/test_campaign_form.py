"""Issue #13 item 5: the new-campaign form speaks Portuguese: a session select with its status, pace presets
with messages per hour and the campaign's sending time, a weekday/time window picker serialised to the window
syntax, the import preselected from its "Campanha" link, and a preview drawn from the chosen audience."""

from __future__ import annotations

import os
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from billing.dispatch.window import parse_window
from billing.models import ImportBatch
from billing.tests.factories import ChargeFactory, ClientFactory, MessageTemplateFactory
from cobranca.dashboard.forms import CampaignForm
from cobranca.roles import OPERATORS
from whatsapp.models import WahaSession

pytestmark = pytest.mark.django_db
URL = "/painel/cobranca/campanhas/nova/"


@pytest.fixture
def op_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    return client


def _batch(name: str, client_name: str) -> ImportBatch:
    batch = ImportBatch.objects.create(filename=name, file_format="csv", total_rows=1)
    ChargeFactory(client=ClientFactory(name=client_name), import_batch=batch)
    return batch


def _form(**data) -> CampaignForm:
    template = MessageTemplateFactory()
    batch = _batch("a.csv", "Ana")
    form = CampaignForm({"modelo": template.pk, "importacao": batch.pk, "sessao": "default", **data})
    return form


def test_the_session_is_a_select_of_the_known_sessions_with_their_status(op_client, settings):
    settings.WAHA_SESSION_NAME = "default"
    WahaSession.objects.create(name="vendas", status=WahaSession.Status.WORKING)
    html = op_client.get(URL).content.decode()
    assert '<select name="sessao"' in html
    assert "vendas — conectada" in html and '<option value="default" selected>' in html
    form = _form(sessao="digitada-errada")
    assert not form.is_valid() and "sessao" in form.errors


@pytest.mark.parametrize(("preset", "delay", "per_hour"), [("cauteloso", 60, 60), ("rapido", 15, 240)])
def test_a_pace_preset_sets_the_interval_and_the_page_shows_messages_per_hour_and_eta(
    op_client, preset, delay, per_hour
):
    form = _form(ritmo=preset, intervalo="999")
    assert form.is_valid(), form.errors
    assert form.service_kwargs()["delay_seconds"] == delay
    template = MessageTemplateFactory()
    batch = _batch("b.csv", "Bia")
    ChargeFactory(import_batch=batch)
    html = op_client.post(
        URL,
        {
            "modelo": template.pk,
            "importacao": batch.pk,
            "sessao": "default",
            "ritmo": preset,
            "acao": "validar",
        },
    ).content.decode()
    assert f"Ritmo: {per_hour} mensagens por hora; 2 envio(s) em cerca de" in html


def test_the_custom_pace_needs_an_interval():
    form = _form(ritmo="personalizado")
    assert not form.is_valid() and "intervalo" in form.errors
    form = _form(ritmo="personalizado", intervalo="7", variacao="2")
    assert form.is_valid(), form.errors
    assert (form.service_kwargs()["delay_seconds"], form.service_kwargs()["jitter_seconds"]) == (7, 2)


def test_the_window_picker_serialises_to_the_window_syntax():
    form = _form(janela_dias=["0", "1", "2", "3", "4"], janela_inicio="08:00", janela_fim="18:30")
    assert form.is_valid(), form.errors
    window = form.service_kwargs()["send_window"]
    assert window == "mon,tue,wed,thu,fri 08:00-18:30"
    parse_window(window)  # the driver's parser accepts it
    assert _form(janela_sempre="on").is_valid()
    always = _form(janela_sempre="on")
    always.is_valid()
    assert always.service_kwargs()["send_window"] == "always"
    nothing = _form()
    nothing.is_valid()
    assert nothing.service_kwargs()["send_window"] == ""  # the system's default window
    reversed_hours = _form(janela_dias=["5"], janela_inicio="14:00", janela_fim="08:00")
    assert not reversed_hours.is_valid() and "janela_fim" in reversed_hours.errors


def test_the_form_has_no_english_window_syntax_nor_seconds_typed_by_hand(op_client):
    html = op_client.get(URL).content.decode()
    assert "mon-fri" not in html
    for day in ("seg", "ter", "qua", "qui", "sex", "sáb", "dom"):
        assert re.search(rf'name="janela_dias" value="\d"[^>]*>\s*{day}</label>', html), day


def test_the_campaign_link_of_an_import_preselects_it(op_client):
    _batch("primeira.csv", "Ana")
    second = _batch("segunda.csv", "Bia")
    html = op_client.get(URL + f"?importacao={second.pk}").content.decode()
    assert f'<option value="{second.pk}" selected>' in html


def test_the_preview_uses_a_charge_of_the_chosen_audience(op_client):
    template = MessageTemplateFactory(body="Olá {name}.")
    _batch("primeira.csv", "Ana Primeira")
    second = _batch("segunda.csv", "Bia Segunda")
    html = op_client.post(
        reverse("dashboard:campaign-preview"), {"modelo": template.pk, "importacao": second.pk}
    ).content.decode()
    assert "Bia Segunda" in html and "Ana Primeira" not in html


def test_windows_are_shown_in_portuguese_on_the_form_and_the_campaign_page(op_client, settings):
    from billing.tests.factories import CampaignFactory
    from cobranca.dashboard.formatting import send_window_pt

    settings.SEND_WINDOW = "mon-fri 08:00-20:00; sat 08:00-14:00"
    assert send_window_pt("") == "seg a sex 08:00–20:00; sáb 08:00–14:00"
    assert send_window_pt("always") == "a qualquer hora"
    assert (
        send_window_pt("mon,wed 09:00-12:00,14:00-18:00")
        == "seg 09:00–12:00, 14:00–18:00; qua 09:00–12:00, 14:00–18:00"
    )
    assert (
        "janela padrão do sistema (seg a sex 08:00–20:00; sáb 08:00–14:00)"
        in op_client.get(URL).content.decode()
    )
    campaign = CampaignFactory(send_window="mon-fri 09:00-18:00")
    html = op_client.get(reverse("dashboard:campaign-detail", args=[campaign.pk])).content.decode()
    assert "janela seg a sex 09:00–18:00" in html and "mon-fri" not in html


def test_the_default_pace_is_the_systems_and_says_its_messages_per_hour(op_client, settings):
    settings.DISPATCH_DELAY_SECONDS = 45
    settings.DISPATCH_JITTER_SECONDS = 5
    html = op_client.get(URL).content.decode()
    assert "Padrão do sistema — 1 a cada 45 s (80 msg/h)" in html
    assert re.search(r'value="padrao"[^>]*checked', html)
    form = _form(ritmo="padrao")
    assert form.is_valid(), form.errors
    assert (form.service_kwargs()["delay_seconds"], form.service_kwargs()["jitter_seconds"]) == (45, 5)


def test_the_validation_does_not_say_all_is_well_while_the_audience_has_warnings(op_client, settings):
    settings.SEND_WINDOW = "mon-sun 00:00-23:59"
    settings.SEND_WINDOW_SKIP_HOLIDAYS = False
    template = MessageTemplateFactory(body="Olá {name}, sua conta está vencida há {days_overdue} dias.")
    batch = ImportBatch.objects.create(filename="fixo.csv", file_format="csv", total_rows=1)
    ChargeFactory(client=ClientFactory(phone="+551133334444"), import_batch=batch)
    data = {"modelo": template.pk, "importacao": batch.pk, "sessao": "default", "acao": "validar"}
    html = op_client.post(URL, data).content.decode()
    assert "1 destinatário(s) com telefone fixo" in html and "1 cobrança(s) ainda não venceram" in html
    assert "Tudo certo" not in html and "Pode criar a campanha, mas leia os avisos" in html


def test_starting_a_campaign_without_window_at_night_needs_the_checkbox(op_client, monkeypatch):
    import datetime as dt

    from billing.dispatch import services
    from billing.models import Campaign
    from cobranca import clock

    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC))  # 23:00 local
    campaign = services.campaign_create(
        template=MessageTemplateFactory(), import_batch=_batch("n.csv", "Noite"), send_window="always"
    )
    page = op_client.get(reverse("dashboard:campaign-detail", args=[campaign.pk])).content.decode()
    assert 'id="off-hours-warning"' in page and 'name="confirmar_fora_do_horario"' in page
    start = reverse("dashboard:campaign-action", args=[campaign.pk, "iniciar"])
    op_client.post(start, {"confirmar_conformidade": "on"})
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DRAFT
    op_client.post(start, {"confirmar_conformidade": "on", "confirmar_fora_do_horario": "on"})
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING


def test_a_draft_shows_its_audience_and_no_eta(op_client):
    """Operator test: a draft showed "0 % (0 de 0)" and "Previsão de término: 0 s"."""
    from billing.tests.factories import CampaignFactory

    batch = _batch("tres.csv", "Ana")
    for name in ("Bia", "Caio"):
        ChargeFactory(client=ClientFactory(name=name), import_batch=batch)
    campaign = CampaignFactory(import_batch=batch, segment={})
    assert campaign.status == "draft"
    for url in ("dashboard:campaign-detail", "dashboard:campaign-progress"):
        html = op_client.get(reverse(url, args=[campaign.pk])).content.decode()
        assert "(0 de 0)" not in html and "Previsão de término" not in html, url
        assert re.search(r'id="campaign-audience">\s*3 cobranças', html), url
