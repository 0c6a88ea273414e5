"""Every API read masks the debtor's phone (and chat id, WAHA ids, document, e-mail) for a caller without the
`billing.view_full_contact` permission (cobranca.masking.sees_full_contact): Integradores by default. Staff
and Operadores (who talk to debtors) see the full values; the permission can be granted to any group that
needs the number for an integration.

Each read is checked the same generic way: the debtor's subscriber digits must not appear anywhere in the
response body, in any format.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from billing.tests import dispatch_support as support
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.tests.security_helpers import api_for, make_user
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db
fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture

PHONE = "+5521976543210"
DOCUMENT = "12345678909"
# What must never reach a masked reader, in any of the forms the app prints a phone or a document.
SECRETS = ("76543210", "97654-3210", "7654-3210", "456789")


@pytest.fixture
def debtor():
    client = ClientFactory(
        name="Maria Souza",
        phone=PHONE,
        document=DOCUMENT,
        email="maria@example.com",
        chat_id="5521976543210@c.us",
    )
    charge = ChargeFactory(client=client)
    conversation = ConversationFactory(client=client, chat_id="5521976543210@c.us")
    MessageFactory(conversation=conversation, body="vou pagar", waha_id="false_5521976543210@c.us_3EB0AB12")
    return {"client": client, "charge": charge, "conversation": conversation}


def _reads(debtor) -> list[tuple[str, str, dict | None]]:
    client, charge, conversation = debtor["client"], debtor["charge"], debtor["conversation"]
    return [
        ("GET", "/api/clients/", None),
        ("GET", f"/api/clients/{client.pk}", None),
        ("GET", "/api/charges/", None),
        ("GET", "/api/dispatches/", None),
        ("GET", "/api/conversations/", None),
        ("GET", f"/api/conversations/{conversation.pk}", None),
        (
            "POST",
            "/api/billing/templates/preview",
            {"body": "Tel {phone} {telefone}", "client_id": client.pk},
        ),
        ("POST", "/api/billing/templates/preview", {"body": "Tel {phone}", "charge_id": charge.pk}),
        ("GET", "/api/billing/campaigns", None),
        ("GET", "/api/billing/batch-status", None),
        ("GET", "/api/chat/conversation/21976543210", None),
    ]


def _call(api, method, path, body):
    if method == "GET":
        return api.get(path)
    return api.post(path, body, format="json")


def _leaks(response) -> list[str]:
    text = response.content.decode()
    return [secret for secret in SECRETS if secret in text]


def test_integrators_never_read_a_full_phone_document_or_chat_id(debtor):
    api = api_for(make_user("integrator"))
    for method, path, body in _reads(debtor):
        response = _call(api, method, path, body)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        assert not _leaks(response), (method, path, _leaks(response), response.content.decode()[:600])


def test_masked_values_keep_the_area_code_and_last_four_digits(debtor):
    api = api_for(make_user("integrator"))
    row = api.get("/api/conversations/").json()["results"][0]
    assert row["client_phone"] == "+5521*****3210"
    assert row["chat_id"] == "5521*****3210@c.us"
    detail = api.get(f"/api/conversations/{debtor['conversation'].pk}").json()
    assert detail["messages"][0]["waha_id"] == "false_5521*****3210@c.us_3EB0AB12"
    preview = api.post(
        "/api/billing/templates/preview", {"body": "{phone}", "client_id": debtor["client"].pk}, format="json"
    ).json()
    assert preview["text"] == "+5521*****3210"


@pytest.mark.parametrize("role", ["operator", "staff"])
def test_operators_and_staff_read_the_full_values(debtor, role):
    api = api_for(make_user(role))
    conversation = api.get(f"/api/conversations/{debtor['conversation'].pk}").json()
    assert conversation["client_phone"] == PHONE and conversation["chat_id"] == "5521976543210@c.us"
    assert conversation["messages"][0]["waha_id"] == "false_5521976543210@c.us_3EB0AB12"
    client = api.get(f"/api/clients/{debtor['client'].pk}").json()
    assert client["phone"] == PHONE and client["document"] == DOCUMENT
    preview = api.post(
        "/api/billing/templates/preview", {"body": "{phone}", "client_id": debtor["client"].pk}, format="json"
    ).json()
    assert "97654-3210" in preview["text"]


def test_the_full_number_is_opt_in_per_group_through_a_model_permission(debtor):
    integrator = make_user("integrator")
    # A group of its own: `create_groups` resets Operadores and Integradores to cobranca/roles.py.
    group = Group.objects.create(name="Integração com telefone")
    group.permissions.add(
        Permission.objects.get(codename="view_full_contact", content_type__app_label="billing")
    )
    integrator.groups.add(group)
    integrator = type(integrator).objects.get(pk=integrator.pk)  # drop the permission cache
    api = api_for(integrator)
    assert api.get(f"/api/conversations/{debtor['conversation'].pk}").json()["client_phone"] == PHONE
    assert api.get(f"/api/clients/{debtor['client'].pk}").json()["phone"] == PHONE


def test_send_single_answers_a_masked_chat_id_and_message_id_to_integrators(debtor, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    api = api_for(make_user("integrator"))
    response = api.post(
        "/api/billing/send-single", {"client_id": debtor["client"].pk, "text": "Olá!"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert not _leaks(response), response.json()
    assert response.json()["chat_id"] == "5521*****3210@c.us"


def test_send_single_to_a_number_without_whatsapp_does_not_reveal_the_clients_phone(
    debtor, monkeypatch, fake_waha
):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    client = ClientFactory(phone="+5521912345678")
    fake_waha.unknown_phones.add(client.phone)
    api = api_for(make_user("integrator"))
    response = api.post("/api/billing/send-single", {"client_id": client.pk, "text": "Oi"}, format="json")
    assert response.status_code == 422
    assert "12345678" not in response.content.decode()


BODY_WITH_CONTACTS = "meu cpf é 123.456.789-09 (ou 12345678909), cnpj 12.345.678/0001-95, zap (21) 97654-3210"
BODY_SECRETS = ("456.789", "12345678909", "345.678/0001", "97654-3210", "76543210")
BODY_READS = ("/api/conversations/", "/api/conversations/{pk}", "/api/chat/conversation/21976543210")


def _with_contacts_in_a_body(debtor):
    MessageFactory(conversation=debtor["conversation"], body=BODY_WITH_CONTACTS)
    return [path.format(pk=debtor["conversation"].pk) for path in BODY_READS]


def test_integrators_read_message_bodies_with_phones_and_documents_masked(debtor):
    # The second outside test read a debtor's CPF and phone inside message bodies (conversation thread, inbox
    # preview, chat history): bodies go through mask_text for callers without full contact.
    api = api_for(make_user("integrator"))
    for path in _with_contacts_in_a_body(debtor):
        response = api.get(path)
        assert response.status_code == 200, path
        text = response.content.decode()
        assert not [s for s in BODY_SECRETS if s in text], (path, text[:800])
        assert "vou pagar" in text or "meu cpf" in text  # the words are kept, only the numbers masked
    thread = api.get(f"/api/conversations/{debtor['conversation'].pk}").json()
    bodies = [message["body"] for message in thread["messages"]]
    assert "meu cpf é 123******09" in bodies[-1] and "21*****3210" in bodies[-1]


@pytest.mark.parametrize("role", ["operator", "staff"])
def test_operators_and_staff_read_message_bodies_in_full(debtor, role):
    api = api_for(make_user(role))
    for path in _with_contacts_in_a_body(debtor):
        assert BODY_WITH_CONTACTS in api.get(path).content.decode(), path


@pytest.mark.django_db
def test_dashboard_searches_match_masked_numbers_only_whole_without_full_contact():
    """Third outside test, the same oracle in the dashboard: Devedores, the régua's charge search and the
    inbox match digits inside a phone only for users who read it in full."""
    from billing.regua.selectors import charge_search
    from cobranca.dashboard.debtors import debtor_search
    from conversations.selectors import inbox_filtered

    client = ClientFactory(name="Maria Penha", phone="+5511987650001")
    charge = ChargeFactory(client=client)
    conversation = ConversationFactory(client=client, chat_id="5511987650001@c.us")
    for full, partial_found in ((True, True), (False, False)):
        assert (client.pk in debtor_search("98765", full_contact=full)) is partial_found
        assert (charge in charge_search(text="650001", full_contact=full)[0]) is partial_found
        assert (conversation in inbox_filtered({"search": "5511987"}, full_contact=full)) is partial_found
        assert client.pk in debtor_search("(11) 98765-0001", full_contact=full)
        assert charge in charge_search(text="11 98765 0001", full_contact=full)[0]
        assert conversation in inbox_filtered({"search": "+5511987650001"}, full_contact=full)
