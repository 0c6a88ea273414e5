"""Who gets what: every route × method × role, asserted. Built from the URL resolver, so a new route without a
row fails `test_every_route_and_method_has_a_row` — add its row here when you add the route.

Expectations: "401", "403", "405", "400", "200", "302" exact status; "login": a redirect to a login page;
"4xx": any client error; "ok": allowed — not 401/403, not a login redirect, not a 5xx (a 400 for the empty
body or a 404 for the sample id, or a 502 from the unreachable WAHA, still proves the role got through).
Roles: anonymous, Integradores, Operadores, staff (superuser). Each role's client carries both a JWT (API) and
a session (pages), like a real integrator script and a real operator browser.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client as DjangoClient
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework_simplejwt.tokens import AccessToken

from cobranca.tests.security_helpers import ROLES, URLCONF, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)]

API = ("401", "ok", "ok", "ok")  # default: cobranca.permissions.IsApiUser
OPERATOR_ONLY = ("401", "403", "ok", "ok")
STAFF_ONLY = ("401", "403", "403", "ok")
PAGE_OPERATOR = ("login", "403", "ok", "ok")
PUBLIC = ("ok", "ok", "ok", "ok")
# Writes that need a model permission only some groups hold (cobranca/roles.py, cobranca.permissions).
OPERATOR_WRITE = ("401", "403", "ok", "ok")
STAFF_WRITE = ("401", "403", "403", "ok")

# (route as the resolver spells it, method) → expectation per role (anonymous, integrator, operator, staff).
TABLE: dict[tuple[str, str], tuple[str, str, str, str]] = {
    # project pages
    ("", "GET"): ("302", "302", "302", "302"),
    ("health", "GET"): ("200", "200", "200", "200"),
    ("favicon.ico", "GET"): ("301", "301", "301", "301"),  # to the static favicon.svg, for every role
    ("admin/", "GET"): ("login", "login", "login", "200"),
    ("admin/login/", "GET"): ("200", "200", "200", "302"),  # limited like /auth/login (test_auth.py)
    ("accounts/login/", "GET"): ("200", "200", "200", "200"),
    ("accounts/password_reset/", "GET"): PUBLIC,
    ("accounts/password_reset/done/", "GET"): PUBLIC,
    ("accounts/reset/<uidb64>/<token>/", "GET"): PUBLIC,  # an invalid link: the "link expired" page
    ("accounts/reset/done/", "GET"): PUBLIC,
    ("accounts/logout/", "POST"): ("302", "302", "302", "302"),
    ("metrics", "GET"): ("401", "401", "401", "200"),
    # JWT endpoints (AllowAny for login/refresh: an empty body is a 400 for everyone)
    ("auth/login", "POST"): ("400", "400", "400", "400"),
    ("auth/refresh", "POST"): ("400", "400", "400", "400"),
    ("auth/logout", "POST"): ("401", "400", "400", "400"),
    ("api/schema/", "GET"): ("401", "200", "200", "200"),
    ("api/docs/", "GET"): ("401", "200", "200", "200"),
    # cobranca/resources
    ("api/clients/", "GET"): API,
    ("api/clients/", "POST"): API,
    ("api/clients/<pk>", "GET"): API,
    ("api/clients/<pk>", "PUT"): API,
    ("api/clients/<pk>", "PATCH"): API,
    ("api/clients/<pk>/export", "GET"): STAFF_ONLY,
    ("api/clients/<pk>/forget", "POST"): STAFF_ONLY,
    ("api/charges/", "GET"): API,
    ("api/charges/", "POST"): API,
    ("api/charges/<pk>", "GET"): API,
    ("api/charges/<pk>", "PUT"): API,
    ("api/charges/<pk>", "PATCH"): API,
    ("api/charges/<pk>/mark-paid", "POST"): API,
    ("api/dispatches/", "GET"): API,
    ("api/dispatches/<pk>", "GET"): API,
    # billing: imports and templates (billing/apis_import.py, billing/apis_templates.py)
    ("api/billing/import", "POST"): API,
    # An import's report and rejected rows: any API role reaches the view, which answers 404 unless the caller
    # uploaded the batch or sees full contact data (billing.apis_import.readable_batch; test_import_api.py).
    ("api/billing/import/<int:batch_id>", "GET"): API,
    ("api/billing/import/<int:batch_id>/rejected.csv", "GET"): API,
    ("api/billing/templates", "GET"): API,
    ("api/billing/templates", "POST"): OPERATOR_WRITE,  # Integradores have no template permissions
    ("api/billing/templates/preview", "POST"): API,
    ("api/billing/templates/<slug:name>", "GET"): API,
    ("api/billing/templates/<slug:name>", "PUT"): OPERATOR_WRITE,
    ("api/billing/templates/<slug:name>", "PATCH"): OPERATOR_WRITE,
    (
        "api/billing/templates/<slug:name>",
        "DELETE",
    ): STAFF_WRITE,  # nobody but staff holds delete_messagetemplate
    # billing: campaigns and dispatch (billing/apis_campaigns.py)
    ("api/billing/send-batch", "POST"): API,
    ("api/billing/send-single", "POST"): API,
    ("api/billing/batch-status", "GET"): API,
    ("api/billing/campaigns", "GET"): API,
    ("api/billing/campaigns/<int:campaign_id>", "GET"): API,
    ("api/billing/campaigns/<int:campaign_id>/start", "POST"): API,
    ("api/billing/campaigns/<int:campaign_id>/pause", "POST"): API,
    ("api/billing/campaigns/<int:campaign_id>/resume", "POST"): API,
    # Cancelling skips pending sends for good: operators only (billing.cancel_campaign, cobranca/roles.py).
    ("api/billing/campaigns/<int:campaign_id>/cancel", "POST"): OPERATOR_WRITE,
    ("api/billing/dispatches/<int:dispatch_id>/resend", "POST"): API,
    # billing: suppression list (billing/apis_suppression.py): needs billing.lift_suppressedphone (superusers)
    ("api/billing/suppressions/lift", "POST"): STAFF_ONLY,
    # billing: réguas (billing/regua/apis.py); writes need billing.change_regua (Operadores hold it)
    ("api/billing/reguas", "GET"): API,
    ("api/billing/reguas/preview", "GET"): API,
    ("api/billing/reguas/calendar", "GET"): API,
    ("api/billing/reguas/charges/<int:charge_id>", "GET"): API,
    ("api/billing/reguas/<str:regua>", "GET"): API,
    ("api/billing/reguas/<str:regua>/assign", "POST"): OPERATOR_WRITE,
    ("api/billing/reguas/<str:regua>/enable", "POST"): OPERATOR_WRITE,
    ("api/billing/reguas/<str:regua>/pause", "POST"): OPERATOR_WRITE,
    ("api/billing/reguas/<str:regua>/resume", "POST"): OPERATOR_WRITE,
    ("api/billing/reguas/<str:regua>/off", "POST"): OPERATOR_WRITE,
    # chatbot (chatbot/apis.py)
    ("api/chat/process", "POST"): API,
    ("api/chat/conversation/<str:phone>", "GET"): API,
    ("api/chat/conversations/stats", "GET"): API,
    # conversations (conversations/apis.py)
    ("api/conversations/", "GET"): API,
    ("api/conversations/<int:pk>", "GET"): API,
    ("api/conversations/<int:pk>/take-over", "POST"): OPERATOR_ONLY,
    ("api/conversations/<int:pk>/give-back", "POST"): OPERATOR_ONLY,
    ("api/conversations/<int:pk>/reply", "POST"): OPERATOR_ONLY,
    ("api/conversations/messages/<int:pk>/correct-intent", "POST"): OPERATOR_ONLY,
    # whatsapp (whatsapp/views.py: the webhook; whatsapp/apis.py)
    ("webhook/waha", "POST"): ("4xx", "4xx", "4xx", "4xx"),  # HMAC, not roles: unsigned is refused for all
    # The PSP's Pix webhook (billing.payments): a secret token in the path, not roles; a wrong one is refused.
    ("webhook/pix/<str:token>/pix", "POST"): ("4xx", "4xx", "4xx", "4xx"),
    ("api/waha/status", "GET"): API,
    ("api/waha/start", "POST"): OPERATOR_ONLY,
    ("api/waha/stop", "POST"): OPERATOR_ONLY,
    ("api/waha/qr", "GET"): OPERATOR_ONLY,
    # operators' dashboard (cobranca/dashboard): session login, Operadores or staff
    ("painel/", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/importar/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/importar/confirmar/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/importar/colunas/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/importar/modelo.<str:fmt>", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/importacoes/<int:pk>/rejeitadas.csv", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/nova/", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/nova/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/previa/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/<int:pk>/progresso/", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/<int:pk>/exportar.csv", "GET"): PAGE_OPERATOR,
    ("painel/cobranca/campanhas/<int:pk>/<slug:action>/", "POST"): PAGE_OPERATOR,
    ("painel/cobranca/envios/<int:pk>/reenviar/", "POST"): PAGE_OPERATOR,
    # debtor pages (cobranca/dashboard/views/debtors.py); actions also need their model permission, which
    # Operadores hold (the LGPD export: billing.view_full_contact)
    ("painel/devedores/", "GET"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/linha-do-tempo/", "GET"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/conversa/", "POST"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/descadastrar/", "POST"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/dados-lgpd.json", "POST"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/cobrancas/<int:charge_pk>/pagar/", "POST"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/cobrancas/<int:charge_pk>/cancelar/", "POST"): PAGE_OPERATOR,
    ("painel/devedores/<int:pk>/cobrancas/<int:charge_pk>/pix/", "POST"): PAGE_OPERATOR,
    # receipts the bot received (cobranca/dashboard/views/receipts.py)
    ("painel/conversas/comprovantes/<int:pk>/confirmar/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/comprovantes/<int:pk>/rejeitar/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/anexos/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/responder/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/assumir/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/devolver/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/mensagens/<int:pk>/intencao/", "POST"): PAGE_OPERATOR,
    # the team inbox (cobranca/dashboard/views/inbox_team.py)
    ("painel/conversas/<int:pk>/atribuir/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/resposta-pronta/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/resposta-pronta/enviar/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/pix/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/pagamento/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/<int:pk>/promessa/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/respostas-prontas/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/respostas-prontas/", "POST"): PAGE_OPERATOR,
    ("painel/conversas/respostas-prontas/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/conversas/respostas-prontas/<int:pk>/", "POST"): PAGE_OPERATOR,
    ("painel/templates/", "GET"): PAGE_OPERATOR,
    ("painel/templates/novo/", "GET"): PAGE_OPERATOR,
    ("painel/templates/novo/", "POST"): PAGE_OPERATOR,
    ("painel/templates/previa/", "POST"): PAGE_OPERATOR,
    ("painel/templates/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/extratos/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/extratos/", "POST"): PAGE_OPERATOR,
    ("painel/pagamentos/extratos/<int:pk>/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/extratos/<int:pk>/progresso/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/pendencias/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/pendencias/contagem/", "GET"): PAGE_OPERATOR,
    ("painel/pagamentos/pendencias/<int:pk>/<slug:action>/", "POST"): PAGE_OPERATOR,
    ("painel/regua/", "GET"): PAGE_OPERATOR,
    ("painel/regua/<slug:slug>/<slug:action>/", "POST"): PAGE_OPERATOR,
    ("painel/sistema/", "GET"): PAGE_OPERATOR,
    ("painel/sistema/envios-hoje.json", "GET"): PAGE_OPERATOR,
    ("painel/whatsapp/", "GET"): PAGE_OPERATOR,
    ("painel/whatsapp/status.json", "GET"): PAGE_OPERATOR,
    ("painel/whatsapp/qr.png", "GET"): PAGE_OPERATOR,
    ("painel/whatsapp/start", "POST"): PAGE_OPERATOR,
    ("painel/whatsapp/stop", "POST"): PAGE_OPERATOR,
}

_ROUTER_PK = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _routes() -> dict[str, list[str] | None]:
    """route → HTTP methods its view implements (None when the view is a plain function)."""
    found: dict[str, list[str] | None] = {}

    def walk(patterns, prefix: str) -> None:
        for item in patterns:
            route = prefix + str(item.pattern).lstrip("^").rstrip("$")
            route = _ROUTER_PK.sub(lambda m: f"<{m.group(1)}>", route)
            if isinstance(item, URLResolver):
                if route.startswith("admin/"):
                    found.setdefault("admin/", None)  # Django admin: one row, staff only
                    continue
                walk(item.url_patterns, route)
            elif isinstance(item, URLPattern) and route not in found:
                callback = item.callback
                actions = getattr(callback, "actions", None)
                cls = getattr(callback, "cls", None)
                if actions:
                    # DRF maps HEAD to the GET action by itself; the GET row covers it.
                    found[route] = sorted(m.upper() for m in actions if m != "head")
                elif cls is not None:
                    found[route] = sorted(
                        m.upper()
                        for m in cls.http_method_names
                        if m not in ("options", "head") and hasattr(cls, m)
                    )
                else:
                    found[route] = None

    walk(get_resolver(URLCONF).url_patterns, "")
    return found


def test_every_route_and_method_has_a_row():
    missing = []
    for route, methods in _routes().items():
        if methods is None:
            if not any(r == route for r, _ in TABLE):
                missing.append((route, "?"))
        else:
            missing += [(route, m) for m in methods if (route, m) not in TABLE]
    assert not missing, f"add these to TABLE in {__file__}: {missing}"


def test_the_table_has_no_rows_for_routes_that_no_longer_exist():
    routes = _routes()
    assert not [key for key in TABLE if key[0] not in routes]


def _concrete(route: str) -> str:
    return "/" + re.sub(
        r"<(?:(\w+):)?(\w+)>", lambda m: "x" if m.group(1) in ("slug", "str") else "999999", route
    )


@pytest.fixture
def clients_by_role() -> dict[str, DjangoClient]:
    result = {}
    for role in ROLES:
        user = make_user(role)
        client = DjangoClient()
        if user is not None:
            client.force_login(user)
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {AccessToken.for_user(user)}"
        result[role] = client
    return result


def _matches(expected: str, response) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    if expected == "login":
        return status == 302 and "login" in location
    if expected == "ok":
        # 502/503: the view got through and WAHA (pointed at a closed port here) was unreachable.
        server_ok = status < 500 or status in (502, 503)
        return status not in (401, 403) and server_ok and not (status == 302 and "login" in location)
    if expected == "4xx":
        return 400 <= status < 500
    return str(status) == expected


@pytest.mark.parametrize(("route", "method"), sorted(TABLE))
def test_each_role_gets_the_expected_answer(route, method, clients_by_role, settings):
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"  # discard port: a view that calls WAHA fails fast, offline
    settings.RATELIMIT_ENABLE = False
    path = _concrete(route)
    got = {}
    for role, expected in zip(ROLES, TABLE[(route, method)], strict=True):
        client = clients_by_role[role]
        response = client.generic(
            method, path, data=b"{}" if method != "GET" else b"", content_type="application/json"
        )
        got[role] = (response.status_code, response.get("Location", ""))
        assert _matches(expected, response), (
            f"{method} {path} as {role}: expected {expected}, got {got[role]}"
        )


# --- every API write checks the model permissions of the caller's group -------------------------------------

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Writes that are not about a model: authentication itself (AllowAny / IsAuthenticated by design).
NOT_MODEL_WRITES = {("auth/login", "POST"), ("auth/refresh", "POST"), ("auth/logout", "POST")}
ROLE_GROUPS = {"integrator": "Integradores", "operator": "Operadores"}


def _drf_write_views():
    """(route, method, view instance ready for get_permissions) of every DRF write route."""

    def walk(patterns, prefix):
        for item in patterns:
            route = _ROUTER_PK.sub(
                lambda m: f"<{m.group(1)}>", prefix + str(item.pattern).lstrip("^").rstrip("$")
            )
            if isinstance(item, URLResolver):
                if not route.startswith("admin/"):
                    yield from walk(item.url_patterns, route)
            elif getattr(item.callback, "cls", None) is not None:
                yield route, item.callback

    seen = set()
    for route, callback in walk(get_resolver(URLCONF).url_patterns, ""):
        if route in seen:
            continue
        seen.add(route)
        actions = getattr(callback, "actions", None) or {}
        for method in WRITE_METHODS:
            if actions:
                if method.lower() not in actions:
                    continue
                view = callback.cls(**callback.initkwargs)
                view.action = actions[method.lower()]
            else:
                if not hasattr(callback.cls, method.lower()):
                    continue
                # initkwargs: one class may serve several routes (CampaignActionApi's action per route).
                view = callback.cls(**callback.initkwargs)
            yield route, method, view


def test_every_api_write_checks_the_model_permissions_of_the_callers_group():
    from django.contrib.auth.models import Permission

    from cobranca.permissions import ApiModelPermissions
    from cobranca.roles import GROUP_PERMISSIONS

    problems = []
    checked = 0
    for route, method, view in _drf_write_views():
        if (route, method) in NOT_MODEL_WRITES:
            continue
        checked += 1
        if not any(isinstance(p, ApiModelPermissions) for p in view.get_permissions()):
            problems.append(f"{method} {route}: ApiModelPermissions is not among its permission classes")
            continue
        required = ApiModelPermissions.required_permissions(view, method)
        if not required:
            problems.append(f"{method} {route}: declares no model permission")
            continue
        for dotted in required:
            app_label, codename = dotted.split(".", 1)
            if not Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists():
                problems.append(f"{method} {route}: {dotted} does not exist")
        for role, group in ROLE_GROUPS.items():
            expected = TABLE[(route, method)][ROLES.index(role)]
            if not set(required) <= set(GROUP_PERMISSIONS[group]) and expected != "403":
                problems.append(f"{method} {route}: {group} lacks {required} but the table says {expected}")
    assert checked >= 25
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_integrators_cannot_write_templates(method, settings):
    from billing.models import MessageTemplate
    from cobranca.tests.security_helpers import api_for

    settings.RATELIMIT_ENABLE = False
    MessageTemplate.objects.create(name="lembrete-x", title="x", body="Olá {first_name}")
    api = api_for(make_user("integrator"))
    path = "/api/billing/templates" if method == "POST" else "/api/billing/templates/lembrete-x"
    body = {"name": "novo-modelo", "title": "t", "body": "Olá {first_name}"}
    response = api.generic(method, path, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 403, response.content
    assert MessageTemplate.objects.filter(name="lembrete-x").exists()
    assert not MessageTemplate.objects.filter(name="novo-modelo").exists()


@pytest.mark.parametrize(
    ("role", "status", "final"), [("integrator", 403, "running"), ("operator", 200, "cancelled")]
)
def test_only_operators_cancel_a_running_campaign_through_the_api(role, status, final, settings):
    from billing.models import Campaign, Dispatch
    from billing.tests.factories import CampaignFactory, DispatchFactory
    from cobranca.tests.security_helpers import api_for

    settings.RATELIMIT_ENABLE = False
    campaign = CampaignFactory(status=Campaign.Status.RUNNING)
    dispatch = DispatchFactory(campaign=campaign)
    api = api_for(make_user(role))
    response = api.post(f"/api/billing/campaigns/{campaign.pk}/cancel", {}, format="json")
    assert response.status_code == status, response.content
    campaign.refresh_from_db()
    dispatch.refresh_from_db()
    assert campaign.status == final
    assert (dispatch.status == Dispatch.Status.PENDING) == (role == "integrator")
