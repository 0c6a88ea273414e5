"""Templates have a natural name for people (`title`, the display name) and a slug for integrations (`name`,
the API's template_name): the editor and the API derive a unique slug from the name when none is given."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from billing.models import MessageTemplate
from billing.tests.factories import MessageTemplateFactory
from cobranca.roles import OPERATORS
from cobranca.tests.security_helpers import api_for

pytestmark = pytest.mark.django_db
BODY = "Olá {nome}, sua fatura de {valor} vence em {vencimento}."


@pytest.fixture
def operator() -> User:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


@pytest.fixture
def op_client(operator) -> HttpClient:
    client = HttpClient()
    client.force_login(operator)
    return client


def test_an_operator_creates_a_template_with_a_natural_name_and_gets_a_slug(op_client):
    response = op_client.post(
        reverse("dashboard:template-new"),
        {"title": "Lembrete de vencimento", "name": "", "body": BODY, "is_active": "on"},
    )
    template = MessageTemplate.objects.get(title="Lembrete de vencimento")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert template.name == "lembrete-de-vencimento"
    assert str(template) == template.display_name == "Lembrete de vencimento"


def test_the_derived_slug_is_unique_ascii_and_never_reserved(op_client):
    MessageTemplateFactory(name="cobranca-a-vista")
    for _ in range(2):
        op_client.post(reverse("dashboard:template-new"), {"title": "Cobrança à vista", "body": BODY})
    op_client.post(reverse("dashboard:template-new"), {"title": "Preview", "body": BODY})
    names = set(MessageTemplate.objects.values_list("name", flat=True))
    assert {"cobranca-a-vista", "cobranca-a-vista-2", "cobranca-a-vista-3"} <= names
    assert "preview" not in names and "preview-2" in names


def test_the_editor_still_takes_an_explicit_slug_and_needs_a_name_or_a_slug(op_client):
    op_client.post(reverse("dashboard:template-new"), {"title": "Aviso", "name": "aviso-x", "body": BODY})
    assert MessageTemplate.objects.get(name="aviso-x").title == "Aviso"
    before = MessageTemplate.objects.count()  # migrations seed a few templates
    response = op_client.post(reverse("dashboard:template-new"), {"title": "", "name": "", "body": BODY})
    assert response.status_code == 200
    assert MessageTemplate.objects.count() == before
    assert "Dê um nome ao modelo" in response.content.decode()


def test_editing_with_a_blank_slug_keeps_the_one_integrations_use(op_client):
    template = MessageTemplateFactory(name="lembrete", title="Lembrete")
    op_client.post(
        reverse("dashboard:template-edit", args=[template.pk]),
        {"title": "Lembrete amigável", "name": "", "body": BODY, "is_active": "on"},
    )
    template.refresh_from_db()
    assert (template.name, template.title) == ("lembrete", "Lembrete amigável")


def test_the_campaign_form_lists_templates_by_their_display_name(op_client):
    MessageTemplateFactory(name="lembrete-de-vencimento", title="Lembrete de vencimento")
    MessageTemplateFactory(name="sem-titulo", title="")
    html = op_client.get(reverse("dashboard:campaign-new")).content.decode()
    assert ">Lembrete de vencimento</option>" in html
    assert ">lembrete-de-vencimento</option>" not in html
    assert ">sem-titulo</option>" in html  # no display name: the slug is all there is


def test_the_api_derives_the_slug_from_the_title_and_keeps_taking_name(settings):
    from cobranca.tests.security_helpers import make_user

    settings.RATELIMIT_ENABLE = False
    api = api_for(make_user("operator"))
    created = api.post("/api/billing/templates", {"title": "Aviso final", "body": BODY}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "aviso-final"
    assert created.json()["display_name"] == "Aviso final"
    assert api.get("/api/billing/templates/aviso-final").json()["title"] == "Aviso final"
    old_style = api.post("/api/billing/templates", {"name": "aviso-2", "body": BODY}, format="json")
    assert old_style.status_code == 201
    assert old_style.json()["display_name"] == "aviso-2"
    neither = api.post("/api/billing/templates", {"body": BODY}, format="json")
    assert neither.status_code == 400
    assert "name" in neither.json()["extra"]["fields"]
