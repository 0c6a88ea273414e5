"""The team inbox in the dashboard: Minhas / Sem responsável / Todas with counts, unread badges (rows, tabs,
navigation) that drop when a conversation is opened, assignment (audited, stale pages refused), canned
replies (kept in a small form, rendered per debtor, never with an empty variable), the chat's quick actions,
the unknown sender's number by role, Operadores vs Integradores, CSRF, and ≤ 15 queries a page."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from billing.models import Charge, PromiseToPay
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.roles import INTEGRATORS, OPERATORS
from conversations.models import CannedReply, Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db
MAX_QUERIES = 15
UNKNOWN_CHAT = "5521988887777@c.us"


class FakeWaha:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send_text(self, chat_id, text, *, session=None, message_id=None):
        self.sent.append((chat_id, text))
        return f"true_{chat_id}_3EB0{len(self.sent):016d}"


@pytest.fixture
def waha(monkeypatch) -> FakeWaha:
    fake = FakeWaha()
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def _groups(db):
    call_command("create_groups", stdout=open(os.devnull, "w"))


def _user(name: str, group: str = OPERATORS) -> User:
    user = User.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


def _login(user: User, **kwargs) -> HttpClient:
    client = HttpClient(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def ana() -> User:
    return _user("ana")


@pytest.fixture
def bia() -> User:
    return _user("bia")


@pytest.fixture
def world(ana, bia):
    """Maria's conversation (2 unread messages, unassigned), one of Bia's, an unknown number waiting."""
    now = timezone.now()
    maria = ClientFactory(name="Maria Souza", phone="+5511987654321")
    charge = ChargeFactory(client=maria, amount=Decimal("300.00"), description="Mensalidade de novembro")
    conversation = ConversationFactory(client=maria, last_message_at=now)
    MessageFactory(conversation=conversation, body="oi", sent_at=now - dt.timedelta(minutes=2))
    MessageFactory(conversation=conversation, body="quero pagar", sent_at=now - dt.timedelta(minutes=1))
    theirs = ConversationFactory(assigned_to=bia, last_message_at=now - dt.timedelta(hours=1))
    MessageFactory(conversation=theirs, body="bom dia")
    unknown = ConversationFactory(
        client=None, chat_id=UNKNOWN_CHAT, needs_attention=True, last_message_at=now - dt.timedelta(hours=2)
    )
    MessageFactory(conversation=unknown, body="quem é?")
    return {"conversation": conversation, "charge": charge, "theirs": theirs, "unknown": unknown}


def _rows(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-conversation="(\d+)"', html)]


# --- views, counts, unread ----------------------------------------------------------------------------------


def test_the_three_views_list_their_conversations_with_counts(ana, world, django_assert_max_num_queries):
    client = _login(ana)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(reverse("dashboard:inbox"))
    html = response.content.decode()
    assert set(_rows(html)) == {world["conversation"].pk, world["theirs"].pk, world["unknown"].pk}
    # Each row links to its conversation (the URL is built from the inbox's, once per page).
    assert f'href="{reverse("dashboard:conversation", args=[world["conversation"].pk])}"' in html
    assert re.search(r'data-view="minhas"[^>]*>\s*Minhas <span[^>]*>0</span>', html)
    assert re.search(r'data-view="sem-responsavel"[^>]*>\s*Sem responsável <span[^>]*>2</span>', html)
    assert re.search(r'data-view="todas"[^>]*>\s*Todas <span[^>]*>3</span>', html)

    unassigned = client.get(reverse("dashboard:inbox") + "?vista=sem-responsavel").content.decode()
    assert set(_rows(unassigned)) == {world["conversation"].pk, world["unknown"].pk}
    assert _rows(client.get(reverse("dashboard:inbox") + "?vista=minhas").content.decode()) == []
    assert _rows(
        _login(world["theirs"].assigned_to).get("/painel/conversas/?vista=minhas").content.decode()
    ) == [world["theirs"].pk]


def test_opening_a_conversation_marks_it_read_for_me_only(ana, bia, world):
    client = _login(ana)
    html = client.get(reverse("dashboard:inbox")).content.decode()
    row = html.split(f'data-conversation="{world["conversation"].pk}"')[1].split("</a>")[0]
    assert 'unread-count" title="Mensagens que você não leu">2<' in row
    # The nav badge counts the unknown number waiting for a person (needs attention), not Maria's
    # conversation: nobody owns it and the bot is answering it.
    assert 'id="nav-unread"' in html and 'data-count="1"' in html
    assert '1<span class="visually-hidden"> conversa não lida, suas' in html

    client.get(reverse("dashboard:conversation", args=[world["unknown"].pk]))
    html = client.get(reverse("dashboard:inbox")).content.decode()
    assert 'data-count="0"' in html
    row = html.split(f'data-conversation="{world["unknown"].pk}"')[1].split("</a>")[0]
    assert "unread-count" not in row
    # Bia has not read it.
    bia_html = _login(bia).get(reverse("dashboard:inbox")).content.decode()
    assert 'data-count="2"' in bia_html  # hers and the unknown number
    assert '2<span class="visually-hidden"> conversas não lidas, suas e sem responsável' in bia_html


def test_the_polled_list_refreshes_the_view_counts_and_the_nav_badge_out_of_band(ana, world):
    response = _login(ana).get(reverse("dashboard:inbox") + "?vista=todas", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="inbox-views"' in html and 'hx-swap-oob="true"' in html
    assert 'id="nav-unread"' in html


# --- assignment ---------------------------------------------------------------------------------------------


def test_assigning_to_myself_moves_the_conversation_to_minhas_and_is_audited(ana, world):
    client = _login(ana, REMOTE_ADDR="10.1.2.3")
    conversation = world["conversation"]
    response = client.post(
        reverse("dashboard:conversation-assign", args=[conversation.pk]), {"para": "eu", "esperado": ""}
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assigned_to == ana
    assert AuditLog.objects.get(action="conversation.assign").ip == "10.1.2.3"
    mine = client.get(reverse("dashboard:inbox") + "?vista=minhas").content.decode()
    assert _rows(mine) == [conversation.pk]
    page = client.get(reverse("dashboard:conversation", args=[conversation.pk])).content.decode()
    assert "Responsável: <strong>você</strong>" in page


def test_a_stale_page_cannot_take_a_conversation_someone_took_meanwhile(ana, bia, world):
    conversation = world["conversation"]
    _login(bia).post(
        reverse("dashboard:conversation-assign", args=[conversation.pk]), {"para": "eu", "esperado": ""}
    )
    response = _login(ana).post(
        reverse("dashboard:conversation-assign", args=[conversation.pk]),
        {"para": "eu", "esperado": ""},
        follow=True,
    )
    assert "agora está com bia" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assigned_to == bia


def test_giving_a_conversation_to_another_operator_and_releasing_it(ana, bia, world):
    client = _login(ana)
    conversation = world["conversation"]
    url = reverse("dashboard:conversation-assign", args=[conversation.pk])
    client.post(url, {"para": str(bia.pk), "esperado": ""})
    conversation.refresh_from_db()
    assert conversation.assigned_to == bia
    client.post(url, {"para": "ninguem", "esperado": str(bia.pk)})
    conversation.refresh_from_db()
    assert conversation.assigned_to is None
    integrator = _user("integra", INTEGRATORS)
    client.post(url, {"para": str(integrator.pk), "esperado": ""})
    conversation.refresh_from_db()
    assert conversation.assigned_to is None


# --- roles, CSRF --------------------------------------------------------------------------------------------


def test_integrators_reach_none_of_the_inbox_pages_and_actions(world):
    client = _login(_user("integra", INTEGRATORS))
    pk = world["conversation"].pk
    charge = world["charge"].pk
    for method, url, data in (
        ("get", reverse("dashboard:inbox"), {}),
        ("get", reverse("dashboard:canned-replies"), {}),
        ("post", reverse("dashboard:conversation-assign", args=[pk]), {"para": "eu", "esperado": ""}),
        ("post", reverse("dashboard:conversation-pix", args=[pk]), {"cobranca": charge}),
        ("post", reverse("dashboard:conversation-paid", args=[pk]), {"cobranca": charge}),
        ("post", reverse("dashboard:canned-replies"), {"titulo": "x", "texto": "y", "ativa": "on"}),
    ):
        assert getattr(client, method)(url, data).status_code == 403, url
    world["charge"].refresh_from_db()
    assert world["charge"].status == Charge.Status.OPEN
    assert not CannedReply.objects.exists()


def test_the_inbox_actions_need_the_csrf_token(ana, world):
    client = _login(ana, enforce_csrf_checks=True)
    pk = world["conversation"].pk
    for url, data in (
        (reverse("dashboard:conversation-assign", args=[pk]), {"para": "eu", "esperado": ""}),
        (reverse("dashboard:conversation-paid", args=[pk]), {"cobranca": world["charge"].pk}),
        (reverse("dashboard:canned-replies"), {"titulo": "x", "texto": "y"}),
    ):
        assert client.post(url, data).status_code == 403
    assert Conversation.objects.get(pk=pk).assigned_to is None


def test_an_operator_without_the_charge_permission_sees_no_payment_actions(ana, world):
    group = Group.objects.get(name=OPERATORS)
    group.permissions.remove(
        Permission.objects.get(codename="change_charge", content_type__app_label="billing")
    )
    client = _login(ana)
    page = client.get(reverse("dashboard:conversation", args=[world["conversation"].pk])).content.decode()
    assert 'id="confirm-paid"' not in page and 'id="register-promise"' not in page
    response = client.post(
        reverse("dashboard:conversation-paid", args=[world["conversation"].pk]),
        {"cobranca": world["charge"].pk},
    )
    assert response.status_code == 403


# --- the unknown sender's number ----------------------------------------------------------------------------


def test_operators_read_the_unknown_senders_number_in_full(ana, world, django_assert_max_num_queries):
    client = _login(ana)
    assert "+55 21 98888-7777" in client.get(reverse("dashboard:inbox")).content.decode()
    with django_assert_max_num_queries(MAX_QUERIES):
        page = client.get(reverse("dashboard:conversation", args=[world["unknown"].pk]))
    assert 'id="unknown-number">+55 21 98888-7777<' in page.content.decode()


def test_a_role_without_full_contacts_reads_the_number_masked(ana, world):
    group = Group.objects.get(name=OPERATORS)
    group.permissions.remove(Permission.objects.get(codename="view_full_contact"))
    client = _login(ana)
    html = client.get(reverse("dashboard:inbox")).content.decode()
    assert "+55 21 98888-7777" not in html and "+5521*****7777" in html
    assert "+55 11 98765-4321" not in html  # Maria's number too
    page = client.get(reverse("dashboard:conversation", args=[world["unknown"].pk])).content.decode()
    assert 'id="unknown-number">+5521*****7777<' in page


# --- canned replies -----------------------------------------------------------------------------------------


def test_canned_replies_are_kept_in_a_small_form_validated_like_templates(ana):
    client = _login(ana)
    url = reverse("dashboard:canned-replies")
    response = client.post(url, {"titulo": "Saudação", "texto": "Olá {nomee}!", "ativa": "on"})
    assert response.status_code == 200
    assert "Você quis dizer {nome}?" in response.content.decode()
    assert not CannedReply.objects.exists()
    response = client.post(url, {"titulo": "Saudação", "texto": "Olá {first_name}!", "ativa": "on"})
    assert response.status_code == 302
    canned = CannedReply.objects.get()
    assert (canned.title, canned.body, canned.is_active, canned.created_by) == (
        "Saudação",
        "Olá {first_name}!",
        True,
        ana,
    )
    client.post(
        reverse("dashboard:canned-reply-edit", args=[canned.pk]), {"titulo": "Saudação", "texto": "Oi!"}
    )
    canned.refresh_from_db()
    assert (canned.body, canned.is_active) == ("Oi!", False)


def test_inserting_a_canned_reply_fills_the_reply_box_for_this_debtor(ana, world):
    canned = CannedReply.objects.create(title="Valor", body="Olá {first_name}, o valor é {amount}.")
    response = _login(ana).get(
        reverse("dashboard:canned-reply-insert", args=[world["conversation"].pk]),
        {"resposta": canned.pk, "cobranca": world["charge"].pk},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert ">Olá Maria, o valor é R$ 300,00.</textarea>" in html
    unknown = _login(ana).get(
        reverse("dashboard:canned-reply-insert", args=[world["unknown"].pk]), {"resposta": canned.pk}
    )
    assert "{first_name}, {amount} ficariam vazias" in unknown.content.decode()


def test_the_single_open_charge_is_preselected_for_canned_replies(ana, world):
    """Operator test: with one open charge the "Cobrança" select stayed on "Escolha a cobrança", so "Inserir"
    refused {description}, {amount}."""
    CannedReply.objects.create(title="Valor", body="{description}, {amount}")
    html = _login(ana).get(reverse("dashboard:conversation", args=[world["conversation"].pk])).content
    canned_form = html.decode().split('id="canned-form"', 1)[1].split("</form>", 1)[0]
    assert re.search(rf'<option value="{world["charge"].pk}"[^>]* selected>', canned_form)


def test_several_empty_variables_are_named_in_the_plural(ana, world):
    canned = CannedReply.objects.create(title="Valor", body="{description}, {amount}")
    response = _login(ana).get(
        reverse("dashboard:canned-reply-insert", args=[world["conversation"].pk]), {"resposta": canned.pk}
    )
    assert "{description}, {amount} ficariam vazias" in response.content.decode()


def test_sending_a_canned_reply_goes_out_rendered_and_recorded(ana, world, waha):
    canned = CannedReply.objects.create(title="Valor", body="Olá {first_name}, o valor é {amount}.")
    pk = world["conversation"].pk
    _login(ana).post(
        reverse("dashboard:canned-reply-send", args=[pk]),
        {"resposta": canned.pk, "cobranca": world["charge"].pk},
    )
    assert waha.sent == [(world["conversation"].chat_id, "Olá Maria, o valor é R$ 300,00.")]
    message = Message.objects.filter(conversation_id=pk, author=Message.Author.OPERATOR).get()
    assert message.operator == ana


def test_a_canned_reply_with_an_empty_variable_is_refused_and_nothing_is_sent(ana, world, waha):
    canned = CannedReply.objects.create(title="Nome", body="Olá {name}!")
    response = _login(ana).post(
        reverse("dashboard:canned-reply-send", args=[world["unknown"].pk]),
        {"resposta": canned.pk},
        follow=True,
    )
    assert "{name} ficaria vazia" in response.content.decode()
    assert waha.sent == []


# --- quick actions ------------------------------------------------------------------------------------------


def test_the_pix_quick_action_sends_the_code_of_the_chosen_charge(ana, world, waha, settings):
    settings.PIX_KEY = "financeiro@clinica.com.br"
    response = _login(ana).post(
        reverse("dashboard:conversation-pix", args=[world["conversation"].pk]),
        {"cobranca": world["charge"].pk},
        follow=True,
    )
    assert "PIX de “Mensalidade de novembro” enviado." in response.content.decode()
    [(_chat, text)] = waha.sent
    assert "PIX copia e cola (R$ 300,00)" in text


def test_the_pix_of_a_charge_whose_payment_is_being_checked_asks_what_is_still_owed(
    ana, world, waha, settings
):
    """The bot itself sends the PIX of a payment_claimed charge (what is still owed): so does the operator,
    for the chosen charge even when the debtor has another one open."""
    settings.PIX_KEY = "financeiro@clinica.com.br"
    claimed = world["charge"]
    Charge.objects.filter(pk=claimed.pk).update(
        status=Charge.Status.PAYMENT_CLAIMED, amount_paid=Decimal("120.00")
    )
    ChargeFactory(client=claimed.client, amount=Decimal("55.00"), description="Mensalidade de dezembro")
    response = _login(ana).post(
        reverse("dashboard:conversation-pix", args=[world["conversation"].pk]),
        {"cobranca": claimed.pk},
        follow=True,
    )
    assert "não está em aberto" not in response.content.decode()
    [(_chat, text)] = waha.sent
    assert "PIX copia e cola (R$ 180,00)" in text and "R$ 55,00" not in text


def test_confirming_a_payment_marks_the_charge_paid(ana, world):
    response = _login(ana).post(
        reverse("dashboard:conversation-paid", args=[world["conversation"].pk]),
        {"cobranca": world["charge"].pk},
        follow=True,
    )
    assert "Pagamento confirmado" in response.content.decode()
    world["charge"].refresh_from_db()
    assert world["charge"].status == Charge.Status.PAID


def test_a_promise_is_registered_with_a_date_and_a_brazilian_amount(ana, world):
    promised = timezone.localdate() + dt.timedelta(days=3)
    response = _login(ana).post(
        reverse("dashboard:conversation-promise", args=[world["conversation"].pk]),
        {"cobranca": world["charge"].pk, "data": promised.isoformat(), "valor": "150,00"},
        follow=True,
    )
    assert "Promessa registrada: R$ 150,00" in response.content.decode()
    promise = PromiseToPay.objects.get(charge=world["charge"])
    assert (promise.promised_date, promise.amount) == (promised, Decimal("150.00"))


def test_another_debtors_charge_cannot_be_acted_on_from_this_conversation(ana, world):
    other = ChargeFactory()
    response = _login(ana).post(
        reverse("dashboard:conversation-paid", args=[world["conversation"].pk]),
        {"cobranca": other.pk},
        follow=True,
    )
    assert response.status_code == 200
    other.refresh_from_db()
    assert other.status == Charge.Status.OPEN


def test_the_conversation_page_stays_within_the_query_budget_with_everything_on_it(
    ana, bia, world, django_assert_max_num_queries
):
    for n in range(5):
        CannedReply.objects.create(title=f"Resposta {n}", body="Olá {first_name}")
        ChargeFactory(client=world["conversation"].client)
        MessageFactory(conversation=world["conversation"])
    client = _login(ana)
    with django_assert_max_num_queries(MAX_QUERIES):
        page = client.get(reverse("dashboard:conversation", args=[world["conversation"].pk]))
    html = page.content.decode()
    assert 'id="canned-form"' in html and 'id="send-pix"' in html and 'id="assign-me"' in html
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get(reverse("dashboard:canned-replies"))
    for _ in range(20):
        conversation = ConversationFactory(assigned_to=bia, last_message_at=timezone.now())
        MessageFactory(conversation=conversation)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert len(_rows(client.get(reverse("dashboard:inbox")).content.decode())) == 23


def test_the_polled_chat_marks_new_messages_read_and_refreshes_the_nav_badge(ana, world):
    conversation = world["conversation"]
    client = _login(ana)
    client.post(
        reverse("dashboard:conversation-assign", args=[conversation.pk]), {"para": "eu", "esperado": ""}
    )
    client.get(reverse("dashboard:conversation", args=[conversation.pk]))
    MessageFactory(conversation=conversation, body="mais uma coisa")
    # Hers now, plus the unknown number waiting for a person.
    assert 'data-count="2"' in client.get(reverse("dashboard:inbox")).content.decode()
    polled = client.get(reverse("dashboard:conversation", args=[conversation.pk]), HTTP_HX_REQUEST="true")
    html = polled.content.decode()
    assert "mais uma coisa" in html
    assert 'id="nav-unread"' in html and 'hx-swap-oob="true"' in html and 'data-count="1"' in html


def test_the_admin_refuses_a_canned_reply_with_an_unknown_variable(world):
    admin = User.objects.create_superuser("chefe", password="x")
    client = _login(admin)
    url = reverse("admin:conversations_cannedreply_add")
    response = client.post(url, {"title": "Ruim", "body": "Olá {nomee}", "is_active": "on"})
    assert response.status_code == 200
    assert "Você quis dizer {nome}?" in response.content.decode()
    response = client.post(url, {"title": "Boa", "body": "Olá {nome}", "is_active": "on"})
    assert response.status_code == 302
    assert CannedReply.objects.get().created_by == admin


def test_a_listed_number_disables_the_chats_send_buttons_and_says_why(ana, world, waha):
    from billing.suppression import REASON_LISTED, suppress

    conversation = world["conversation"]
    suppress(conversation.client.phone, reason="opt_out")
    # Only the list remembers it (the client's own flag cleared): the page's annotation must catch it.
    type(conversation.client).objects.filter(pk=conversation.client_id).update(opted_out_at=None)
    client = _login(ana)
    page = client.get(reverse("dashboard:conversation", args=[conversation.pk])).content.decode()
    assert f"Esta conversa não pode receber mensagens: {REASON_LISTED}." in page
    assert re.search(r'id="send-reply" disabled', page) and re.search(r'id="send-pix" disabled', page)
    client.post(reverse("dashboard:conversation-reply", args=[conversation.pk]), {"texto": "Oi"})
    assert waha.sent == []
