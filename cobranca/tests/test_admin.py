from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User

from billing.models import Charge
from billing.tests.factories import CampaignFactory, ChargeFactory, DispatchFactory
from conversations.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("chefe", "chefe@example.com", "s3nha-forte-123")
    client.force_login(user)
    return client


def test_every_model_has_a_working_changelist_and_change_page(staff_client):
    charge = ChargeFactory()
    DispatchFactory(charge=charge, client=charge.client)
    CampaignFactory()
    MessageFactory()
    for model in admin.site._registry:
        opts = model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        response = staff_client.get(url)
        assert response.status_code == 200, url
        obj = model._default_manager.first()
        if obj is not None:
            response = staff_client.get(f"{url}{obj.pk}/change/")
            assert response.status_code == 200, url


def test_admin_shows_the_product_header(staff_client):
    assert "Cobrança Inteligente" in staff_client.get("/admin/").content.decode()


def test_mark_paid_action(staff_client):
    charge = ChargeFactory()
    response = staff_client.post(
        "/admin/billing/charge/", {"action": "mark_paid", "_selected_action": [charge.pk]}, follow=True
    )
    assert response.status_code == 200
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID and charge.paid_at is not None


def test_mark_paid_action_goes_through_the_service_keeping_promises_and_auditing(staff_client):
    """The admin used to UPDATE the status itself: a pending promise stayed pending and followed up."""
    from django.utils import timezone

    from audit.models import AuditLog
    from billing.services import promise_create

    charge = ChargeFactory()
    promise = promise_create(charge=charge, promised_date=timezone.localdate())
    cancelled = ChargeFactory(status=Charge.Status.CANCELLED)
    response = staff_client.post(
        "/admin/billing/charge/",
        {"action": "mark_paid", "_selected_action": [charge.pk, cancelled.pk]},
        follow=True,
    )
    promise.refresh_from_db()
    assert promise.status == promise.Status.KEPT
    assert AuditLog.objects.filter(action="charge.mark_paid", target_id=str(charge.pk)).count() == 1
    cancelled.refresh_from_db()
    assert cancelled.status == Charge.Status.CANCELLED
    assert "Não é possível marcar como paga" in response.content.decode()


def test_mark_paid_action_records_what_was_owed_as_the_operators_payment(
    staff_client, monkeypatch, django_capture_on_commit_callbacks
):
    """Like the dashboard's "Marcar como paga" (billing.payments.operator_confirm): what was owed is recorded
    as the operator's payment, so the Painel counts the money and the debtor is thanked."""
    from decimal import Decimal

    from django.utils import timezone

    from audit.models import AuditLog
    from billing.models import Payment
    from billing.payments.apply import PaymentFacts, apply_payment

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
        staff_client.post(
            "/admin/billing/charge/", {"action": "mark_paid", "_selected_action": [charge.pk]}, follow=True
        )
    charge.refresh_from_db()
    payment = Payment.objects.get(source=Payment.Source.OPERATOR)
    assert charge.status == Charge.Status.PAID and charge.balance == 0
    assert payment.amount == Decimal("200.00") and payment.recorded_by.username == "chefe"
    assert thanked == [payment.pk]
    for action in ("charge.mark_paid", "payment.apply"):
        entry = AuditLog.objects.exclude(actor=None).get(action=action)
        assert entry.actor.username == "chefe" and entry.ip == "127.0.0.1"


def test_csv_export_neutralises_formulas(staff_client):
    charge = ChargeFactory(description='=HYPERLINK("http://x")')
    response = staff_client.post(
        "/admin/billing/charge/", {"action": "export_csv", "_selected_action": [charge.pk]}
    )
    body = response.content.decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "'=HYPERLINK" in body
    assert charge.client.phone not in body


def test_correct_intent_action_feeds_training(staff_client):
    message = MessageFactory(intent="saudacao")
    staff_client.post(
        "/admin/conversations/message/",
        {"action": "correct_intent", "_selected_action": [message.pk], "apply": "1", "intent": "negociacao"},
    )
    message.refresh_from_db()
    assert message.corrected_intent == "negociacao"


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
