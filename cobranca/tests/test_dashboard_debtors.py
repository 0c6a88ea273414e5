"""Devedores pages (/painel/devedores/): who may see and act, search by what an operator has at hand, masking
per role, every action through its service (audited, CSRF-protected), and a bounded number of queries."""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog
from billing import services as billing_services
from billing.models import Agreement, Charge, Installment, Payment, PromiseToPay
from billing.tests.factories import CampaignFactory, ChargeFactory, ClientFactory, DispatchFactory
from cobranca.dashboard import debtors
from cobranca.roles import INTEGRATORS, OPERATORS
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

CPF = "52998224725"


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


@pytest.fixture
def groups(db):
    call_command("create_groups", stdout=open(os.devnull, "w"))


def _user(name: str, group: str) -> User:
    user = User.objects.create_user(name, password="senha-forte-123")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def op_client(groups) -> HttpClient:
    http = HttpClient()
    http.force_login(_user("operadora", OPERATORS))
    return http


@pytest.fixture
def debtor():
    client = ClientFactory(
        name="Maria Aparecida Souza", phone="+5511987654321", document=CPF, email="maria@example.com"
    )
    return client


@pytest.fixture
def charge(debtor):
    return ChargeFactory(
        client=debtor, amount=Decimal("150.00"), description="Mensalidade março", external_id="FAT-2031"
    )


def _page(pk: int) -> str:
    return reverse("dashboard:debtor", args=[pk])


def _timeline(pk: int) -> str:
    return reverse("dashboard:debtor-timeline", args=[pk])


def _everything(http, pk: int) -> str:
    """The page and the timeline it loads (htmx, on load)."""
    page = http.get(_page(pk)).content.decode()
    assert f'hx-get="{_timeline(pk)}"' in page
    return page + http.get(_timeline(pk)).content.decode()


# --- access ------


def test_anonymous_is_sent_to_the_login_page(debtor):
    for url in (reverse("dashboard:debtors"), _page(debtor.pk), _timeline(debtor.pk)):
        response = HttpClient().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_integrator_may_not_open_the_pages_nor_act(groups, charge):
    http = HttpClient()
    http.force_login(_user("integra", INTEGRATORS))
    assert http.get(reverse("dashboard:debtors")).status_code == 403
    assert http.get(_page(charge.client_id)).status_code == 403
    assert http.get(_timeline(charge.client_id)).status_code == 403
    url = reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk])
    assert http.post(url).status_code == 403
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN


def test_an_operator_without_the_charge_permission_cannot_mark_paid(groups, charge):
    user = _user("sem-permissao", OPERATORS)
    Group.objects.get(name=OPERATORS).permissions.remove(Permission.objects.get(codename="change_charge"))
    http = HttpClient()
    http.force_login(user)
    page = http.get(_page(charge.client_id))
    assert page.status_code == 200 and b'data-action="pagar"' not in page.content
    response = http.post(reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk]))
    assert response.status_code == 403
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN


def test_actions_refuse_a_post_without_the_csrf_token(groups, charge):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(_user("operadora", OPERATORS))
    for name, args in (
        ("dashboard:debtor-charge-paid", [charge.client_id, charge.pk]),
        ("dashboard:debtor-charge-cancel", [charge.client_id, charge.pk]),
        ("dashboard:debtor-charge-pix", [charge.client_id, charge.pk]),
        ("dashboard:debtor-opt-out", [charge.client_id]),
        ("dashboard:debtor-export", [charge.client_id]),
        ("dashboard:debtor-conversation", [charge.client_id]),
    ):
        assert http.post(reverse(name, args=args)).status_code == 403, name
    charge.refresh_from_db()
    charge.client.refresh_from_db()
    assert charge.status == Charge.Status.OPEN and charge.client.opted_out_at is None
    assert not AuditLog.objects.exists()


def test_actions_do_not_answer_a_get(op_client, charge):
    url = reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk])
    assert op_client.get(url).status_code == 405


def test_a_charge_of_another_debtor_is_not_found_under_this_one(op_client, charge):
    other = ClientFactory()
    response = op_client.post(reverse("dashboard:debtor-charge-paid", args=[other.pk, charge.pk]))
    assert response.status_code == 404
    charge.refresh_from_db()
    assert charge.status == Charge.Status.OPEN


# --- search ------


@pytest.mark.parametrize(
    "typed",
    [
        "aparecida",
        "MARIA",
        "(11) 98765-4321",
        "11 98765 4321",
        "+55 11 98765-4321",
        "5511987654321",
        "4321",
        "529.982.247-25",
        CPF,
        "fat-2031",
    ],
)
def test_search_finds_the_debtor_by_what_the_operator_has_at_hand(op_client, charge, typed):
    ClientFactory(name="João Pereira", phone="+5521912345678", document="11222333000181")
    response = op_client.get(reverse("dashboard:debtors"), {"q": typed})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Maria Aparecida Souza" in body and "João Pereira" not in body
    assert _page(charge.client_id) in body


def test_search_by_cnpj_with_punctuation_and_by_the_old_8_digit_number(op_client):
    company = ClientFactory(name="Padaria Central", phone="+551187654321", document="11222333000181")
    ClientFactory(name="Outro", phone="+5511955554444")
    for typed in ("11.222.333/0001-81", "(11) 98765-4321"):
        body = op_client.get(reverse("dashboard:debtors"), {"q": typed}).content.decode()
        assert "Padaria Central" in body and "Outro" not in body, typed
    assert company.pk


def test_name_search_ignores_accents_and_case(op_client):
    """Operator test: "claudia simoes", "simoes", "conceicao", "joao" found nothing."""
    ClientFactory(name="Cláudia Simões", phone="+5511974120001")
    ClientFactory(name="Maria José da Conceição", phone="+5511974120002")
    ClientFactory(name="João Araújo Pereira", phone="+5511974120003")
    ClientFactory(name="Claudia Regina Barbosa", phone="+5511974120004")
    for typed, found, not_found in (
        ("claudia simoes", "Cláudia Simões", "Claudia Regina"),
        ("SIMÕES", "Cláudia Simões", "Claudia Regina"),
        ("conceicao", "Maria José da Conceição", "Cláudia Simões"),
        ("joao", "João Araújo Pereira", "Cláudia Simões"),
        ("ARAUJO", "João Araújo Pereira", "Cláudia Simões"),
    ):
        body = op_client.get(reverse("dashboard:debtors"), {"q": typed}).content.decode()
        assert found in body and not_found not in body, typed
    body = op_client.get(reverse("dashboard:debtors"), {"q": "cláudia"}).content.decode()
    assert "Cláudia Simões" in body and "Claudia Regina" in body


def test_the_search_name_follows_a_rename(db):
    client = ClientFactory(name="Ana Paula", phone="+5511974120005")
    client.name = "Ângela Müller"
    client.save(update_fields=["name"])
    client.refresh_from_db()
    assert client.search_name == "angela muller"


def test_a_reference_with_digits_is_not_read_as_a_phone(op_client, debtor):
    ChargeFactory(client=debtor, external_id="FAT-0031337")
    ClientFactory(name="Número parecido", phone="+5511900031337")
    body = op_client.get(reverse("dashboard:debtors"), {"q": "fat-0031337"}).content.decode()
    assert debtor.name in body and "Número parecido" not in body


def test_the_timeline_keeps_the_latest_messages_and_links_the_conversation_for_older_ones(op_client, debtor):
    conversation = ConversationFactory(client=debtor)
    start = timezone.now() - dt.timedelta(hours=5)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            direction="in",
            author="debtor",
            body=f"mensagem número {n}",
            sent_at=start + dt.timedelta(minutes=n),
        )
        for n in range(debtors.TIMELINE_LIMIT + 5)
    )
    body = op_client.get(_timeline(debtor.pk)).content.decode()
    assert f"mensagem número {debtors.TIMELINE_LIMIT + 4}<" in body and "mensagem número 4<" not in body
    assert 'id="timeline-truncated"' in body
    assert reverse("dashboard:conversation", args=[conversation.pk]) in body


def test_search_without_a_match_says_so(op_client, debtor):
    body = op_client.get(reverse("dashboard:debtors"), {"q": "ninguém com esse nome"}).content.decode()
    assert "Nenhum devedor encontrado" in body and debtor.name not in body


def test_the_list_is_paginated_and_sums_only_open_charges(op_client, debtor):
    ChargeFactory(client=debtor, amount=Decimal("100.00"))
    ChargeFactory(client=debtor, amount=Decimal("40.00"), status=Charge.Status.PAID)
    for n in range(30):
        ClientFactory(name=f"Zélia {n:02d}")
    first = op_client.get(reverse("dashboard:debtors")).content.decode()
    assert "Página 1 de 2" in first and "R$ 100,00" in first
    second = op_client.get(reverse("dashboard:debtors"), {"pagina": 2}).content.decode()
    assert "Zélia 29" in second and "Maria Aparecida" not in second


def test_the_nav_carries_the_debtor_search_box(op_client):
    body = op_client.get(reverse("dashboard:painel")).content.decode()
    assert 'id="nav-busca-devedor"' in body and f'action="{reverse("dashboard:debtors")}"' in body


# --- masking ------


def test_operators_read_full_contacts_and_others_read_them_masked(groups, debtor):
    full = HttpClient()
    full.force_login(_user("operadora", OPERATORS))
    body = full.get(_page(debtor.pk)).content.decode()
    assert "maria@example.com" in body
    # Formatted like the inbox (operator test: "+5511974123307", "22233344405" shown raw).
    assert '<dd class="col-8 col-md-4" id="debtor-phone">+55 11 98765-4321</dd>' in body
    assert '<dd class="col-8 col-md-4" id="debtor-document">529.982.247-25</dd>' in body
    listed = full.get(reverse("dashboard:debtors") + "?q=maria").content.decode()
    assert "+55 11 98765-4321" in listed and "529.982.247-25" in listed
    # A deployment that takes the permission away from the group (docs/security.md, "Roles").
    Group.objects.get(name=OPERATORS).permissions.remove(Permission.objects.get(codename="view_full_contact"))
    masked = HttpClient()
    masked.force_login(_user("estagiaria", OPERATORS))
    for url in (_page(debtor.pk), reverse("dashboard:debtors") + "?q=maria"):
        body = masked.get(url).content.decode()
        assert "+5511987654321" not in body and CPF not in body and "maria@example.com" not in body
        assert "+5511*****4321" in body and "529******25" in body
    # …and cannot download the unmasked export either.
    assert masked.post(reverse("dashboard:debtor-export", args=[debtor.pk])).status_code == 403


# --- the page ------


@pytest.fixture
def rich_debtor(debtor):
    """A debtor with a bit of everything: charges in several states with history, a promise, an agreement
    with installments, a payment, a campaign send, a failed send, and a conversation with every author."""
    user = User.objects.create_user("ana", password="x")
    now = timezone.now()
    paid = ChargeFactory(client=debtor, amount=Decimal("80.00"), description="Taxa de adesão")
    billing_services.charge_mark_paid(charge=paid, by=user)
    promised = ChargeFactory(client=debtor, amount=Decimal("150.00"), description="Mensalidade março")
    billing_services.promise_create(
        charge=promised, promised_date=timezone.localdate() + dt.timedelta(days=3)
    )
    negotiated = ChargeFactory(client=debtor, amount=Decimal("300.00"), description="Mensalidade abril")
    agreement = billing_services.agreement_create(
        charge=negotiated, installments=3, first_due_date=timezone.localdate()
    )
    Payment.objects.create(
        charge=negotiated,
        installment=agreement.schedule.first(),
        source="operator",
        amount=agreement.schedule.first().amount,
        paid_at=now,
        recorded_by=user,
    )
    campaign = CampaignFactory(name="Campanha de março")
    sent = DispatchFactory(campaign=campaign, charge=promised, client=debtor, status="read", sent_at=now)
    DispatchFactory(
        campaign=CampaignFactory(name="Campanha de abril"),
        charge=negotiated,
        client=debtor,
        status="skipped",
        reason="fora da janela",
    )
    conversation = ConversationFactory(client=debtor, chat_id="5511987654321@c.us")
    MessageFactory(
        conversation=conversation, direction="out", author="campaign", body="Lembrete *março*", dispatch=sent
    )
    MessageFactory(conversation=conversation, direction="in", author="debtor", body="vou pagar sexta")
    MessageFactory(conversation=conversation, direction="out", author="bot", body="Anotado!")
    MessageFactory(
        conversation=conversation, direction="out", author="operator", operator=user, body="Olá, aqui é a Ana"
    )
    return debtor


def test_the_page_shows_every_charge_history_promise_agreement_installment_and_message(
    op_client, rich_debtor
):
    body = _everything(op_client, rich_debtor.pk)
    for text in (
        "Taxa de adesão",
        "Mensalidade março",
        "Mensalidade abril",
        "em aberto → <strong>paga</strong>",
        "pagamento confirmado",
        "promessa de pagamento",
        "Acordo 3x",
        'class="table table-sm small mb-0 installments"',
        "Lembrete <strong>março</strong>",
        "vou pagar sexta",
        "Anotado!",
        "Olá, aqui é a Ana",
        "Campanha de março",
        "fora da janela",
        'data-kind="payment"',
    ):
        assert text in body, text
    authors = {a for a in ("campaign", "debtor", "bot", "operator") if f'data-author="{a}"' in body}
    assert authors == {"campaign", "debtor", "bot", "operator"}


def test_the_page_shows_opt_out_and_suppression(op_client, debtor):
    billing_services.client_opt_out(client=debtor)
    body = op_client.get(_page(debtor.pk)).content.decode()
    assert "não recebe mensagens" in body and "descadastrado em" in body
    assert 'id="debtor-opt-out"' not in body and 'data-action="pix"' not in body


def test_the_page_stays_within_15_queries_however_much_history(
    op_client, rich_debtor, django_assert_max_num_queries
):
    conversation = Conversation.objects.get(client=rich_debtor)
    for n in range(40):
        charge = ChargeFactory(client=rich_debtor)
        billing_services.promise_create(charge=charge, promised_date=timezone.localdate())
        MessageFactory(conversation=conversation, direction="in", author="debtor", body=f"mensagem {n}")
    with django_assert_max_num_queries(15):
        assert op_client.get(_page(rich_debtor.pk)).status_code == 200
    with django_assert_max_num_queries(15):
        assert op_client.get(_timeline(rich_debtor.pk)).status_code == 200


def test_the_search_stays_within_15_queries(op_client, django_assert_max_num_queries):
    for n in range(60):
        ChargeFactory(client=ClientFactory(name=f"Cliente {n}"), external_id=f"REF-{n}")
    with django_assert_max_num_queries(15):
        assert op_client.get(reverse("dashboard:debtors"), {"q": "cliente"}).status_code == 200
    with django_assert_max_num_queries(15):
        assert op_client.get(reverse("dashboard:debtors")).status_code == 200


def test_the_conversation_page_links_the_debtor(op_client, debtor):
    conversation = ConversationFactory(client=debtor)
    body = op_client.get(reverse("dashboard:conversation", args=[conversation.pk])).content.decode()
    assert f'href="{_page(debtor.pk)}"' in body


# --- actions ------


def test_mark_paid_goes_through_the_service_keeps_the_promise_and_is_audited(op_client, charge):
    promise = billing_services.promise_create(charge=charge, promised_date=timezone.localdate())
    response = op_client.post(reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk]))
    assert response.status_code == 302 and response["Location"].endswith(f"#cobranca-{charge.pk}")
    charge.refresh_from_db()
    promise.refresh_from_db()
    assert charge.status == Charge.Status.PAID and promise.status == PromiseToPay.Status.KEPT
    entry = AuditLog.objects.get(action="charge.mark_paid")
    assert entry.actor.username == "operadora" and entry.ip == "127.0.0.1"
    # What was owed is recorded as the operator's payment: the debtor is thanked like for a Pix.
    payment = Payment.objects.get(charge=charge)
    assert payment.source == Payment.Source.OPERATOR and payment.amount == charge.amount
    assert AuditLog.objects.get(action="payment.apply").ip == "127.0.0.1"
    page = op_client.get(_page(charge.client_id)).content.decode()
    assert "marcada como paga" in page and "operadora" in page


def test_cancel_goes_through_the_service_and_a_paid_charge_is_refused(op_client, charge):
    agreement = billing_services.agreement_create(
        charge=charge, installments=2, first_due_date=timezone.localdate()
    )
    op_client.post(reverse("dashboard:debtor-charge-cancel", args=[charge.client_id, charge.pk]))
    charge.refresh_from_db()
    agreement.refresh_from_db()
    assert charge.status == Charge.Status.CANCELLED and agreement.status == Agreement.Status.CANCELLED
    assert AuditLog.objects.filter(action="charge.cancel", target_id=str(charge.pk)).count() == 1
    paid = ChargeFactory(client=charge.client)
    billing_services.charge_mark_paid(charge=paid)
    response = op_client.post(
        reverse("dashboard:debtor-charge-cancel", args=[paid.client_id, paid.pk]), follow=True
    )
    paid.refresh_from_db()
    assert paid.status == Charge.Status.PAID
    assert "Mudança de situação não permitida" in response.content.decode()


def test_send_pix_sends_the_bots_payment_text_as_the_operator(op_client, charge, waha, settings):
    settings.PIX_KEY = "pix@cobranca.example"
    op_client.post(reverse("dashboard:debtor-charge-pix", args=[charge.client_id, charge.pk]))
    assert len(waha.sent) == 1
    chat_id, text = waha.sent[0]
    assert chat_id == "5511987654321@c.us"
    assert "PIX copia e cola (R$ 150,00)" in text and "000201" in text and "FAT2031" in text
    message = Message.objects.get(author=Message.Author.OPERATOR)
    assert message.body == text and message.operator.username == "operadora"
    assert message.conversation.client == charge.client
    assert AuditLog.objects.get(action="charge.send_pix").target_id == str(charge.pk)


def test_send_pix_asks_the_installment_under_an_agreement(op_client, charge, waha):
    agreement = billing_services.agreement_create(
        charge=charge, installments=3, first_due_date=timezone.localdate()
    )
    op_client.post(reverse("dashboard:debtor-charge-pix", args=[charge.client_id, charge.pk]))
    installment = Installment.objects.filter(agreement=agreement).order_by("number").first()
    assert installment.amount == Decimal("50.00")
    assert "PIX copia e cola (R$ 50,00)" in waha.sent[0][1]


def test_send_pix_is_refused_to_an_opted_out_debtor_and_without_a_pix_key(op_client, charge, waha, settings):
    settings.PIX_KEY = ""
    response = op_client.post(
        reverse("dashboard:debtor-charge-pix", args=[charge.client_id, charge.pk]), follow=True
    )
    assert "O PIX não está configurado" in response.content.decode()
    billing_services.client_opt_out(client=charge.client)
    settings.PIX_KEY = "pix@cobranca.example"
    response = op_client.post(
        reverse("dashboard:debtor-charge-pix", args=[charge.client_id, charge.pk]), follow=True
    )
    assert "Não enviamos mensagens a este cliente" in response.content.decode()
    assert waha.sent == [] and not Message.objects.exists()


def test_start_conversation_creates_it_once_and_opens_it_in_the_inbox(op_client, debtor):
    url = reverse("dashboard:debtor-conversation", args=[debtor.pk])
    first = op_client.post(url)
    conversation = Conversation.objects.get()
    assert first["Location"] == reverse("dashboard:conversation", args=[conversation.pk])
    assert conversation.client == debtor and conversation.chat_id == "5511987654321@c.us"
    assert op_client.post(url)["Location"] == first["Location"]
    assert Conversation.objects.count() == 1


def test_opt_out_suppresses_the_debtor_and_is_audited_once(op_client, debtor):
    url = reverse("dashboard:debtor-opt-out", args=[debtor.pk])
    op_client.post(url)
    op_client.post(url)
    debtor.refresh_from_db()
    assert debtor.opted_out_at is not None and debtor.is_suppressed
    assert AuditLog.objects.filter(action="client.opt_out", target_id=str(debtor.pk)).count() == 1


def test_lgpd_export_downloads_everything_held_and_is_audited(op_client, rich_debtor):
    response = op_client.post(reverse("dashboard:debtor-export", args=[rich_debtor.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="titular-{rich_debtor.pk}.json"'
    data = json.loads(response.content)
    assert data["client"]["phone"] == "+5511987654321" and data["client"]["document"] == CPF
    assert len(data["charges"]) == 3
    assert {m["body"] for c in data["conversations"] for m in c["messages"]} >= {"vou pagar sexta"}
    assert AuditLog.objects.filter(action="client.export", target_id=str(rich_debtor.pk)).count() == 1
