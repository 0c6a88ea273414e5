from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import include, path
from rest_framework.test import APIClient

from billing.models import MessageTemplate
from billing.templating import sample_context, template_create, template_render, template_validate
from billing.tests.factories import CampaignFactory, ChargeFactory, ClientFactory, MessageTemplateFactory
from cobranca.exceptions import ApplicationError

urlpatterns = [path("api/billing/", include("billing.urls"))]
NOW = dt.datetime(2026, 1, 20, 15, 30, tzinfo=dt.UTC)  # 12:30 in São Paulo


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("Olá {name.__class__}", "atributos"),
        ("Olá {name[0]}", "atributos"),
        ("Valor {amount:>10}", "formatação"),
        ("Valor {amount!r}", "formatação"),
        ("Olá {nome_cliente}", "desconhecida"),
        ("Valor {amout}", "Você quis dizer {amount}"),
        ("Olá {}", "vazia"),
        ("Olá {0}", "vazia"),
        ("Olá {name", "'{' sem"),
        ("Olá name}", "'}' sem"),
        ("", "vazio"),
    ],
)
def test_it_rejects_unsafe_or_unknown_placeholders_saying_which(body, fragment):
    errors = template_validate(body)

    assert errors and any(fragment in e for e in errors), errors


def test_a_valid_body_has_no_errors_and_escaped_braces_are_literal():
    assert template_validate("Olá {name}, {{não é variável}} {valor}") == []


@pytest.mark.django_db
def test_it_renders_every_variable_for_a_charge():
    client = ClientFactory(name="Maria da Silva", phone="+5511987654321")
    charge = ChargeFactory(
        client=client, amount=Decimal("150.5"), due_date=dt.date(2026, 1, 15), description="Mensalidade"
    )
    body = (
        "{first_name}|{name}|{amount}|{phone}|{due_date}|{description}|{current_date}|{current_time}|"
        "{days_overdue}|{creditor_name}|{creditor_document}|{valor}"
    )

    text = template_render(body=body, charge=charge, now=NOW)

    assert text == (
        "Maria|Maria da Silva|R$ 150,50|+55 11 98765-4321|15/01/2026|Mensalidade|20/01/2026|12:30|"
        "5|Cobrança Inteligente Demo Ltda|00.000.000/0001-91|R$ 150,50"
    )


def test_rendering_an_invalid_body_raises_instead_of_evaluating_it():
    with pytest.raises(ApplicationError):
        template_render(body="{name.__init__.__globals__}", context={"name": "x"})


def test_sample_context_fills_every_variable_for_previews():
    text = template_render(body="{name} {amount} {due_date}", context=sample_context(NOW))

    assert text == "Maria da Silva R$ 150,50 23/01/2026"  # due 3 days after NOW


@pytest.mark.django_db
def test_creating_a_template_with_a_bad_variable_fails_naming_it():
    with pytest.raises(ApplicationError) as exc_info:
        template_create(name="x", body="Olá {cliente}")

    assert "{cliente}" in exc_info.value.extra["fields"]["body"][0]


# --- API
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def api():
    user = get_user_model().objects.create_user("op", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
@pytest.mark.urls("billing.tests.test_templating")
class TestTemplateApi:
    def test_it_creates_a_template_and_returns_compliance_warnings(self, api):
        response = api.post(
            "/api/billing/templates",
            {"name": "lembrete", "body": "Olá {name}, pague {amount}."},
            format="json",
        )

        assert response.status_code == 201
        body = response.json()
        assert body["variables"] == ["name", "amount"]
        assert any("42-A" in w for w in body["warnings"])
        assert MessageTemplate.objects.filter(name="lembrete").exists()

    def test_it_refuses_to_save_an_injection_attempt(self, api):
        response = api.post(
            "/api/billing/templates", {"name": "mau", "body": "{name.__class__.__mro__}"}, format="json"
        )

        assert response.status_code == 400
        assert "atributos" in str(response.json()["extra"])
        assert not MessageTemplate.objects.filter(name="mau").exists()

    def test_it_lists_reads_updates_and_deletes_by_name(self, api):
        MessageTemplateFactory(name="aviso", body="Olá {name}")

        assert api.get("/api/billing/templates").json()["results"][0]["name"] == "aviso"
        assert api.get("/api/billing/templates/aviso").json()["body"] == "Olá {name}"
        patched = api.patch("/api/billing/templates/aviso", {"body": "Oi {first_name}"}, format="json")
        assert patched.status_code == 200 and patched.json()["body"] == "Oi {first_name}"
        put = api.put("/api/billing/templates/aviso", {"name": "aviso", "body": "Oi {x}"}, format="json")
        assert put.status_code == 400
        assert api.delete("/api/billing/templates/aviso").status_code == 204
        assert api.get("/api/billing/templates/aviso").status_code == 404

    def test_a_template_used_by_a_campaign_cannot_be_deleted(self, api):
        campaign = CampaignFactory()

        response = api.delete(f"/api/billing/templates/{campaign.template.name}")

        assert response.status_code == 409

    def test_preview_renders_sample_data_and_reports_errors_and_warnings(self, api):
        ok = api.post(
            "/api/billing/templates/preview",
            {"body": "Olá {name}, {amount}. Vamos acionar a justiça."},
            format="json",
        ).json()
        bad = api.post("/api/billing/templates/preview", {"body": "Olá {nome_x}"}, format="json").json()

        assert ok["text"] == "Olá Maria da Silva, R$ 150,50. Vamos acionar a justiça." and ok["errors"] == []
        assert any("judicial" in w for w in ok["warnings"])
        assert bad["text"] == "" and "desconhecida" in bad["errors"][0]

    def test_preview_with_a_client_uses_their_next_open_charge(self, api):
        charge = ChargeFactory(client=ClientFactory(name="Zeca Pagodinho"), amount=Decimal("99.90"))
        MessageTemplateFactory(name="t1", body="{first_name}: {amount}")

        response = api.post(
            "/api/billing/templates/preview",
            {"template_name": "t1", "client_id": charge.client_id},
            format="json",
        )

        assert response.json()["text"] == "Zeca: R$ 99,90"


# --- fallbacks for empty variables (issue #13 item 3) -------------------------------------------------------


def test_a_fallback_renders_where_the_variable_is_empty_and_only_there():
    body = 'Consta em aberto *{description|"sua mensalidade"}* no valor de {valor}.'
    assert template_validate(body) == []
    empty = template_render(body=body, context={"description": "", "amount": "R$ 10,00"})
    assert empty == "Consta em aberto *sua mensalidade* no valor de R$ 10,00."
    full = template_render(body=body, context={"description": "Plano anual", "amount": "R$ 10,00"})
    assert full == "Consta em aberto *Plano anual* no valor de R$ 10,00."
    # A ':' inside the quotes is text, not a format spec; the alias takes a fallback too.
    assert template_render(body='{descricao|"obs: mensalidade"}', context={"description": " "}) == (
        "obs: mensalidade"
    )


@pytest.mark.parametrize(
    "body",
    [
        "{description|}",
        '{description|""}',
        "{description|sua mensalidade}",
        '{|"x"}',
        '{descricao|"' + "a" * 61 + '"}',
    ],
)
@pytest.mark.django_db
def test_a_malformed_fallback_is_refused_when_saved(body):
    errors = template_validate(body)
    assert errors and "valor padrão" in errors[0]
    with pytest.raises(ApplicationError):
        template_create(name="com-padrao", body=body)


def test_the_variables_that_can_reach_a_debtor_empty_are_those_without_a_fallback(settings):
    from billing.templating import empty_variables_q

    settings.CREDITOR_ADDRESS = ""
    q, names = empty_variables_q('{nome|"cliente"} {description} {valor} {creditor_address} {descricao|"x"}')
    assert names == ["description", "creditor_address"] and q is not None
    assert empty_variables_q('{nome|"cliente"} {description|"x"} {valor}') == (None, [])


@pytest.mark.django_db
def test_a_charge_without_description_has_a_readable_title_never_its_generated_id():
    charge = ChargeFactory(
        description="", external_id="auto-06e35c402207c692a92e", due_date=dt.date(2026, 1, 15)
    )
    assert charge.title == "Cobrança com vencimento em 15/01/2026"
    assert ChargeFactory(description="Plano anual").title == "Plano anual"


@pytest.mark.django_db
def test_a_template_posted_with_crlf_is_saved_and_rendered_with_lf_only():
    template = MessageTemplateFactory(body="Olá {name},\r\nsua conta\r\n\r\nvence {due_date}.\r")
    template.refresh_from_db()
    assert template.body == "Olá {name},\nsua conta\n\nvence {due_date}.\n"
    text = template_render(body="Linha 1\r\nLinha 2", context={"name": "Ana"})
    assert text == "Linha 1\nLinha 2" and "\r" not in text
