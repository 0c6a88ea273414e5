from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditLog
from billing.models import Charge, Client, Payment
from billing.payments.apply import PaymentFacts, apply_payment
from billing.tests.factories import ChargeFactory, ClientFactory, DispatchFactory
from cobranca.tests.security_helpers import URLCONF, api_for, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)]


@pytest.fixture
def integrator():
    return api_for(make_user("integrator"))


@pytest.fixture
def operator():
    return api_for(make_user("operator"))


def test_an_integrator_creates_a_client_with_the_phone_normalised_to_e164(integrator):
    response = integrator.post(
        "/api/clients/",
        {"name": " Maria  da Silva ", "phone": "(11) 98765-4321", "document": "123.456.789-09"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    client = Client.objects.get()
    assert client.phone == "+5511987654321"
    assert client.name == "Maria da Silva"
    assert client.document == "12345678909"
    assert response.json()["phone"] == "+5511987654321"
    entry = AuditLog.objects.get(action="client.create")
    assert entry.target_id == str(client.pk) and "98765" not in str(entry.details)


def test_an_invalid_phone_is_a_400_with_the_error_shape(integrator):
    response = integrator.post("/api/clients/", {"name": "X", "phone": "12345"}, format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["extra"]["fields"]


def test_a_duplicate_phone_is_a_409_not_a_500(integrator):
    ClientFactory(phone="+5511987654321")
    response = integrator.post("/api/clients/", {"name": "Outra", "phone": "11 98765 4321"}, format="json")
    assert response.status_code == 409
    assert response.json()["extra"] == {"field": "phone"}


def test_integrators_see_masked_phones_and_documents_operators_see_them_whole(integrator, operator):
    ClientFactory(name="Ana", phone="+5511987654321", document="12345678909", email="ana@example.com")
    masked = integrator.get("/api/clients/").json()["results"][0]
    assert masked["phone"] == "+5511*****4321"
    assert "45678" not in masked["document"] and masked["email"] == "a***@example.com"
    whole = operator.get("/api/clients/").json()["results"][0]
    assert whole["phone"] == "+5511987654321" and whole["document"] == "12345678909"


def test_clients_filter_by_phone_in_any_format_and_by_flags(operator):
    target = ClientFactory(phone="+5511987654321")
    ClientFactory(phone="+5521987654321", wrong_number=True)
    assert [c["id"] for c in operator.get("/api/clients/?phone=011 98765-4321").json()["results"]] == [
        target.pk
    ]
    assert operator.get("/api/clients/?wrong_number=true").json()["count"] == 1
    assert operator.get("/api/clients/?opted_out=true").json()["count"] == 0
    assert operator.get("/api/clients/?phone=garbage").json()["count"] == 0


def test_charges_filter_by_status_due_range_amount_range_and_client(operator):
    today = dt.date.today()
    a = ChargeFactory(amount=Decimal("100.00"), due_date=today)
    ChargeFactory(amount=Decimal("900.00"), due_date=today + dt.timedelta(days=30), status="paid")
    ids = lambda q: [c["id"] for c in operator.get("/api/charges/" + q).json()["results"]]  # noqa: E731
    assert ids("?status=open") == [a.pk]
    assert ids(f"?due_before={today + dt.timedelta(days=1)}") == [a.pk]
    assert ids("?amount_min=500") != [a.pk] and len(ids("?amount_min=500")) == 1
    assert ids(f"?client={a.client_id}") == [a.pk]
    assert operator.get("/api/charges/?client=99999999999999999999999").status_code == 400


def test_a_charge_is_created_updated_and_marked_paid_idempotently(integrator):
    client = ClientFactory()
    created = integrator.post(
        "/api/charges/", {"client": client.pk, "amount": "150.50", "due_date": "2026-12-10"}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    patched = integrator.patch(f"/api/charges/{pk}", {"amount": "120.00"}, format="json")
    assert patched.status_code == 200 and patched.json()["amount"] == "120.00"
    first = integrator.post(f"/api/charges/{pk}/mark-paid", {}, format="json")
    again = integrator.post(f"/api/charges/{pk}/mark-paid", {}, format="json")
    assert first.status_code == again.status_code == 200
    assert Charge.objects.get(pk=pk).status == "paid"
    assert AuditLog.objects.filter(action="charge.mark_paid").count() == 1
    assert integrator.patch(f"/api/charges/{pk}", {"amount": "1.00"}, format="json").status_code == 409


def test_marking_paid_through_the_api_records_what_was_owed_as_a_payment_and_thanks_the_debtor(
    integrator, monkeypatch, django_capture_on_commit_callbacks
):
    """Like the dashboard's "Marcar como paga" (billing.payments.operator_confirm): the balance is recorded as
    a Payment of source operator, so the Painel counts it and the debtor is thanked; the response is as it
    was."""
    thanked: list[int] = []
    monkeypatch.setattr(
        "chatbot.payment_thanks.enqueue_with_rows", lambda task, payment_id, **kw: thanked.append(payment_id)
    )
    charge = ChargeFactory(amount=Decimal("300.00"))
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=Decimal("100.00"), paid_at=timezone.now(), source="statement", reference="L1"
        ),
    )
    thanked.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = integrator.post(
            f"/api/charges/{charge.pk}/mark-paid", {"paid_at": "2026-03-09T14:30:00-03:00"}, format="json"
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "paid" and body["paid_at"] == "2026-03-09T14:30:00-03:00"
    payment = Payment.objects.get(source=Payment.Source.OPERATOR)
    assert payment.amount == Decimal("200.00") and payment.recorded_by.username == "user-integrator"
    assert payment.paid_at == dt.datetime.fromisoformat("2026-03-09T14:30:00-03:00")
    assert thanked == [payment.pk]
    entry = AuditLog.objects.get(action="charge.mark_paid")
    assert entry.actor.username == "user-integrator" and entry.ip == "127.0.0.1"
    again = integrator.post(f"/api/charges/{charge.pk}/mark-paid", {}, format="json")
    assert again.status_code == 200 and Payment.objects.filter(source="operator").count() == 1


def test_marking_a_cancelled_charge_paid_through_the_api_is_refused_and_records_nothing(integrator):
    charge = ChargeFactory(status=Charge.Status.CANCELLED)
    response = integrator.post(f"/api/charges/{charge.pk}/mark-paid", {}, format="json")
    assert response.status_code == 400 and "message" in response.json()
    assert not Payment.objects.exists()


def test_charges_cannot_be_deleted_through_the_api(integrator, operator):
    charge = ChargeFactory()
    # Integrators hold no delete permission (403 before routing); for anyone else there is no handler (405).
    assert integrator.delete(f"/api/charges/{charge.pk}").status_code in (403, 405)
    assert operator.delete(f"/api/clients/{charge.client_id}").status_code in (403, 405)
    assert api_for(make_user("staff")).delete(f"/api/charges/{charge.pk}").status_code == 405
    assert Charge.objects.filter(pk=charge.pk).exists()


def test_a_non_positive_amount_is_refused(integrator):
    client = ClientFactory()
    response = integrator.post(
        "/api/charges/", {"client": client.pk, "amount": "0", "due_date": "2026-12-10"}, format="json"
    )
    assert response.status_code == 400 and "amount" in response.json()["extra"]["fields"]


def test_dispatches_filter_by_campaign_and_status_and_never_show_the_text(operator):
    d1 = DispatchFactory(status="sent", body="Olá Fulano")
    DispatchFactory(campaign=d1.campaign, status="pending")
    DispatchFactory(status="failed")
    assert operator.get(f"/api/dispatches/?campaign={d1.campaign_id}").json()["count"] == 2
    assert operator.get(f"/api/dispatches/?campaign={d1.campaign_id}&status=sent").json()["count"] == 1
    assert "body" not in operator.get(f"/api/dispatches/{d1.pk}").json()


def test_dispatches_are_read_only(operator):
    dispatch = DispatchFactory()
    assert operator.post("/api/dispatches/", {}, format="json").status_code in (403, 405)
    assert (
        api_for(make_user("staff")).patch(f"/api/dispatches/{dispatch.pk}", {}, format="json").status_code
        == 405
    )


def test_a_forgotten_client_cannot_be_updated(operator):
    client = ClientFactory(forgotten_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    response = operator.patch(f"/api/clients/{client.pk}", {"name": "De Volta"}, format="json")
    assert response.status_code == 409


def test_every_resource_endpoint_is_in_the_schema_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()
    schema = SchemaGenerator(urlconf=URLCONF).get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in (
        "/api/clients/",
        "/api/clients/{id}",
        "/api/clients/{id}/forget",
        "/api/clients/{id}/export",
        "/api/charges/",
        "/api/charges/{id}",
        "/api/charges/{id}/mark-paid",
        "/api/dispatches/",
        "/api/dispatches/{id}",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation.get("summary"), path
    ours = [
        msg
        for msg in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        if "cobranca/resources" in msg or "cobranca/metrics" in msg
    ]
    assert ours == []
    assert "examples" in str(paths["/api/clients/"]["post"])
