from __future__ import annotations

import hashlib
import hmac
import io
import json
import time

import pytest
from django.contrib.admin.sites import AdminSite
from django.core.management import call_command
from django.test import RequestFactory
from loguru import logger

from audit.models import AuditLog
from billing.models import Charge, Client, Dispatch
from billing.tests.factories import ChargeFactory, ClientFactory, DispatchFactory
from cobranca.privacy import export_client, forget_client, forget_clients_action
from cobranca.tests.security_helpers import URLCONF, api_for, make_user
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory
from whatsapp.models import WebhookEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)]

PHONE = "+5511987654321"


@pytest.fixture
def debtor():
    client = ClientFactory(
        name="Joana Pereira Lima",
        phone=PHONE,
        document="12345678909",
        email="joana@example.com",
        chat_id="5511987654321@c.us",
        lid="999000111@lid",
    )
    charge = ChargeFactory(client=client)
    DispatchFactory(charge=charge, body="Olá Joana, sua fatura vence amanhã", waha_message_id="true_x_1")
    conversation = ConversationFactory(client=client, chat_id="5511987654321@c.us", context={"name": "Joana"})
    MessageFactory(conversation=conversation, body="Oi, já paguei o boleto ontem", waha_id="false_x_1")
    WebhookEvent.objects.create(
        event_id="evt-1",
        event="message",
        payload_id="false_x_1",
        payload={"payload": {"from": "5511987654321@c.us", "body": "Oi, já paguei"}},
        raw_body='{"payload": {"from": "5511987654321@c.us", "body": "Oi, já paguei"}}'.encode(),
    )
    return client


def _dump_of_client_rows(client: Client) -> str:
    rows = [
        list(Client.objects.filter(pk=client.pk).values()),
        list(Conversation.objects.filter(client=client).values()),
        list(Message.objects.filter(conversation__client=client).values()),
        list(Dispatch.objects.filter(client=client).values()),
        list(WebhookEvent.objects.values()),
        list(AuditLog.objects.values()),
    ]
    return json.dumps(rows, default=str)


def test_forgetting_anonymises_the_person_and_keeps_the_numbers(debtor):
    admin = make_user("staff")
    forget_client(client=debtor, by=admin, reason="pedido do titular")
    debtor.refresh_from_db()
    assert debtor.name == f"Titular anonimizado #{debtor.pk}"
    assert debtor.phone == f"+000{debtor.pk}"
    assert (debtor.document, debtor.email, debtor.chat_id, debtor.lid) == ("", "", "", "")
    assert debtor.forgotten_at and debtor.opted_out_at and debtor.is_suppressed
    assert Message.objects.get().body == "[removido]"
    assert Dispatch.objects.get().body == ""
    assert Charge.objects.get().amount > 0 and Dispatch.objects.get().status == "pending"
    dump = _dump_of_client_rows(debtor)
    for secret in ("Joana", "987654321", "12345678909", "joana@", "paguei", "999000111"):
        assert secret not in dump, secret
    entry = AuditLog.objects.get(action="client.forget")
    assert entry.actor == admin and entry.details["messages"] == 1 and entry.details["webhook_events"] == 1


def test_forgetting_twice_changes_nothing_more(debtor):
    forget_client(client=debtor, by=None)
    forget_client(client=debtor, by=None)
    assert AuditLog.objects.filter(action="client.forget").count() == 1


def test_the_export_holds_the_client_charges_and_conversations(debtor):
    data = export_client(client=debtor)
    json.dumps(data)  # JSON-ready
    assert data["client"]["phone"] == PHONE
    assert len(data["charges"]) == 1 and data["charges"][0]["amount"] == "150.50"
    assert data["conversations"][0]["messages"][0]["body"] == "Oi, já paguei o boleto ontem"
    assert data["dispatches"][0]["body"].startswith("Olá Joana")


def test_the_api_forget_and_export_are_for_staff_only(debtor):
    for role in ("integrator", "operator"):
        api = api_for(make_user(role))
        assert api.post(f"/api/clients/{debtor.pk}/forget").status_code == 403
        assert api.get(f"/api/clients/{debtor.pk}/export").status_code == 403
    staff = api_for(make_user("staff"))
    exported = staff.get(f"/api/clients/{debtor.pk}/export")
    assert exported.status_code == 200 and exported.json()["client"]["name"] == "Joana Pereira Lima"
    forgotten = staff.post(f"/api/clients/{debtor.pk}/forget")
    assert forgotten.status_code == 200 and forgotten.json()["forgotten_at"]
    assert set(AuditLog.objects.values_list("action", flat=True)) >= {"client.export", "client.forget"}


def test_the_commands_find_a_client_by_phone_and_export_then_forget(debtor):
    out = io.StringIO()
    call_command("export_client", "(11) 98765-4321", stdout=out)
    assert json.loads(out.getvalue())["client"]["id"] == debtor.pk
    call_command("forget_client", str(debtor.pk), "--yes", stdout=io.StringIO())
    debtor.refresh_from_db()
    assert debtor.forgotten_at is not None


def test_the_admin_action_forgets_the_selected_clients(debtor):
    from billing.admin import ClientAdmin

    request = RequestFactory().post("/admin/billing/client/")
    request.user = make_user("staff")
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    forget_clients_action(ClientAdmin(Client, AdminSite()), request, Client.objects.filter(pk=debtor.pk))
    debtor.refresh_from_db()
    assert debtor.forgotten_at is not None


@pytest.mark.django_db(transaction=False)
def test_a_whole_flow_leaves_no_personal_data_in_the_log_file(tmp_path, settings, client):
    from cobranca.logging import configure_logging

    log_file = tmp_path / "app.log"
    configure_logging(level="DEBUG", log_file=str(log_file), force=True)
    try:
        user = make_user("operator")
        login = client.post(
            "/auth/login",
            {"username": user.username, "password": "s3nha-forte-123"},
            content_type="application/json",
        )
        assert login.status_code == 200
        api = api_for(None)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
        created = api.post(
            "/api/clients/",
            {"name": "Rosângela Quintino", "phone": "(31) 99123-4567", "document": "987.654.321-00"},
            format="json",
        )
        assert created.status_code == 201
        pk = created.json()["id"]
        api.get("/api/clients/?phone=31991234567")
        api.get("/api/clients/?name=Rosângela")
        api.post("/api/clients/", {"name": "Rosângela Quintino", "phone": "31 99123-4567"}, format="json")
        charge = api.post(
            "/api/charges/", {"client": pk, "amount": "99.90", "due_date": "2026-12-01"}, format="json"
        ).json()
        api.post(f"/api/charges/{charge['id']}/mark-paid", {}, format="json")
        # What the webhook path logs: a delivery from the debtor's chat with a message text.
        settings.WAHA_WEBHOOK_HMAC_KEY = "k"
        body = json.dumps(
            {
                "id": "evt-log-1",
                "event": "message",
                "session": "default",
                "timestamp": int(time.time() * 1000),
                "payload": {
                    "id": "false_5531991234567@c.us_A",
                    "from": "5531991234567@c.us",
                    "body": "minha senha do banco é 4321 e o cpf 98765432100",
                },
            }
        ).encode()
        client.post(
            "/webhook/waha",
            data=body,
            content_type="application/json",
            headers={
                "X-Webhook-Hmac": hmac.new(b"k", body, hashlib.sha512).hexdigest(),
                "X-Webhook-Timestamp": str(int(time.time() * 1000)),
            },
        )
        logger.info("webhook.message from={} body={!r}", "5531991234567@c.us", "minha senha do banco é 4321")
        staff = api_for(make_user("staff"))
        staff.get(f"/api/clients/{pk}/export")
        assert staff.post(f"/api/clients/{pk}/forget").status_code == 200
    finally:
        configure_logging(force=True)
    text = log_file.read_text(encoding="utf-8")
    assert "client.forget" in text or "privacy.forget" in text  # the flow did log
    for secret in (
        "99123-4567",
        "991234567",
        "31991234567",
        "987.654.321-00",
        "98765432100",
        "Rosângela",
        "Quintino",
        "senha do banco",
    ):
        assert secret not in text, secret


def test_the_export_holds_conversations_that_began_before_the_client_existed():
    early = ConversationFactory(client=None, chat_id="551187654321@c.us")  # the legacy 8-digit chat id
    MessageFactory(conversation=early, body="Quem é? Não conheço essa dívida")
    client = ClientFactory(name="Rita Alves", phone=PHONE)

    data = export_client(client=client)

    assert [c["id"] for c in data["conversations"]] == [early.pk]
    assert data["conversations"][0]["messages"][0]["body"] == "Quem é? Não conheço essa dívida"


def test_export_and_forget_cover_the_same_data(debtor):
    early = ConversationFactory(client=None, chat_id="551187654321@c.us")
    MessageFactory(conversation=early, body="mensagem antiga")
    exported = {c["id"] for c in export_client(client=debtor)["conversations"]}

    forget_client(client=debtor)

    forgotten = set(Conversation.objects.filter(chat_id__endswith="@forgotten").values_list("pk", flat=True))
    assert exported == forgotten and early.pk in exported
    assert not Message.objects.filter(body="mensagem antiga").exists()


@pytest.mark.django_db(transaction=True)
def test_forget_runs_in_its_own_transaction_outside_any_request_transaction():
    # Regression (found by tests/security/attack.py on PostgreSQL): the atomic decorator had moved to a
    # helper, so the row lock on the client ran outside a transaction and PostgreSQL refused it (a 500).
    client = ClientFactory()
    ChargeFactory(client=client)
    forgotten = forget_client(client=client, reason="teste")
    assert forgotten.forgotten_at is not None


def test_payments_are_exported_and_their_payer_data_forgotten(debtor):
    """Found by the operator test: the export left out payments, and forgetting kept the payer's name and
    CPF in the payment, the PSP's notification, the cobv answer and the operator queue."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from billing.models import Payment, PaymentIssue, PixCobv, PixNotification
    from billing.payments.apply import PaymentFacts, apply_payment

    charge = Charge.objects.get(client=debtor)
    PixCobv.objects.create(
        charge=charge,
        txid="CI000000000001000000000000V001",
        amount=charge.amount,
        due_date=charge.due_date,
        version_key="v",
        psp_response={"devedor": {"cpf": "12345678909", "nome": "Joana Pereira Lima"}},
    )
    outcome = apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=charge.amount + Decimal("10"),
            paid_at=timezone.now() - dt.timedelta(hours=1),
            source=Payment.Source.PIX_API,
            e2eid="E12345678202612071000abcdefghijk",
            txid="CI000000000001000000000000V001",
            payer_name="Joana Pereira Lima",
            payer_document="12345678909",
            raw={"pagador": {"nome": "Joana Pereira Lima", "cpf": "12345678909"}},
        ),
    )
    PixNotification.objects.create(
        e2eid="E12345678202612071000abcdefghijk",
        txid="CI000000000001000000000000V001",
        raw={"infoPagador": "Joana Pereira Lima pagou"},
        payment=outcome.payment,
    )
    PaymentIssue.objects.filter(payment=outcome.payment).update(details={"payer": "Joana Pereira Lima"})

    exported = export_client(client=debtor)
    assert [p["payer_document"] for p in exported["payments"]] == ["12345678909"]
    assert exported["payment_issues"] and exported["charges"][0]["amount_paid"] == str(outcome.payment.amount)

    forget_client(client=debtor)

    rows = json.dumps(
        [
            list(Payment.objects.values()),
            list(PixNotification.objects.values()),
            list(PixCobv.objects.values()),
            list(PaymentIssue.objects.values()),
        ],
        default=str,
    )
    assert "Joana" not in rows and "12345678909" not in rows
    payment = Payment.objects.get()
    assert payment.amount == outcome.payment.amount and payment.e2eid  # the financial record stays
