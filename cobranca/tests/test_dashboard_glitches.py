"""Issue #13 item 4 on the dashboard pages: a draft's empty progress, the live progress swapping the lifecycle
buttons, the Sistema page's model and alerts, the inbox's intent confidence."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from billing.models import Campaign, Dispatch
from billing.tests.factories import CampaignFactory, DispatchFactory
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_waha(settings):
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"
    settings.WAHA_CONNECT_TIMEOUT = 0.2
    from whatsapp.client import get_client

    get_client.cache_clear()
    yield
    get_client.cache_clear()


@pytest.fixture
def op_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    return client


def test_a_draft_without_dispatches_shows_zero_percent_not_a_full_bar(op_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    html = op_client.get(reverse("dashboard:campaign-detail", args=[campaign.pk])).content.decode()
    # No bar at all for a draft (operator test: "0 % (0 de 0)" said nothing): its audience instead.
    assert 'id="progress-bar"' not in html and "99 %" not in html and "100 %" not in html
    assert 'id="campaign-audience"' in html


def test_the_polled_progress_swaps_the_action_buttons_when_the_campaign_finishes(op_client):
    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    DispatchFactory(campaign=campaign, status=Dispatch.Status.PENDING)
    url = reverse("dashboard:campaign-progress", args=[campaign.pk])
    running = op_client.get(url).content.decode()
    assert 'id="campaign-actions" hx-swap-oob="true"' in running
    assert "Pausar" in running and "Cancelar" in running

    Dispatch.objects.filter(campaign=campaign).update(status=Dispatch.Status.SENT)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    done = op_client.get(url).content.decode()
    assert 'id="campaign-actions" hx-swap-oob="true"' in done
    assert "Pausar" not in done and "Cancelar" not in done
    assert "Exportar CSV" in done
    # The full page renders the buttons in place, without the out-of-band marker.
    page = op_client.get(reverse("dashboard:campaign-detail", args=[campaign.pk])).content.decode()
    assert 'id="campaign-actions">' in page


def _checks(response) -> dict:
    return {label: check for label, _icon, check in response.context["checks"]}


def test_a_fresh_install_shows_the_shipped_model_answering_not_a_red_card(op_client):
    response = op_client.get(reverse("dashboard:sistema"))
    model = _checks(response)["Modelo do assistente"]
    assert model["ok"] is True, model
    assert "modelo embarcado" in model["detail"] and "respondeu" in model["detail"]
    assert "Nenhuma versão ativa" not in response.content.decode()


def test_a_trained_active_version_is_the_one_reported(op_client, tmp_path):
    from chatbot.models import ModelVersion
    from chatbot.nlu.classifier import DEFAULT_MODEL_PATH

    ModelVersion.objects.create(
        version="v9", path=str(DEFAULT_MODEL_PATH), is_active=True, metrics={"macro_f1": 0.93}
    )
    model = _checks(op_client.get(reverse("dashboard:sistema")))["Modelo do assistente"]
    assert model["ok"] is True and model["detail"].startswith("v9 (torch), F1 macro 0.930")


def test_the_system_page_lists_the_active_alerts(op_client, settings):
    from cobranca.alerts import alerts_run
    from whatsapp.models import WahaSession

    settings.ADMINS = []
    settings.ALERT_WEBHOOK_URL = ""
    html = op_client.get(reverse("dashboard:sistema")).content.decode()
    assert "Nenhum alerta ativo." in html

    WahaSession.objects.create(name="vendas", status=WahaSession.Status.FAILED)
    alerts_run()
    html = op_client.get(reverse("dashboard:sistema")).content.decode()
    assert 'data-alert="waha_session_failed"' in html
    assert "Sessão WhatsApp vendas falhou" in html


def test_the_intent_badge_shows_the_real_confidence_not_a_rounded_100(op_client):
    from cobranca.dashboard.templatetags.dashboard import confianca
    from conversations.tests.factories import ConversationFactory, MessageFactory

    assert confianca(0.9998) == "99,9 %"
    assert confianca(0.995) == "99,5 %"
    assert confianca(0.873) == "87 %"
    assert confianca(1.0) == "100 %"
    assert confianca(None) == "—"

    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, direction="in", intent="saudacao", confidence=0.9973)
    html = op_client.get(reverse("dashboard:inbox")).content.decode()
    assert "99,7 %" in html and "100 %" not in html
