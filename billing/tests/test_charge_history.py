"""A charge's status history (ChargeStatusChange, written by charge_set_status) and the cancel service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditLog
from billing import services
from billing.models import Agreement, Charge, ChargeStatusChange, PromiseToPay
from billing.tests.factories import ChargeFactory
from cobranca.exceptions import ApplicationError

pytestmark = pytest.mark.django_db
S = Charge.Status


def test_every_status_change_is_kept_with_who_and_why_in_order():
    user = get_user_model().objects.create_user("op", password="x")
    charge = ChargeFactory()
    services.promise_create(charge=charge, promised_date=timezone.localdate())
    services.charge_mark_paid(charge=charge, by=user)
    services.charge_set_status(charge=charge, status=S.OPEN, by=user, reason="estorno")
    rows = list(charge.status_changes.values_list("from_status", "to_status", "changed_by", "reason"))
    assert rows[0][:3] == (S.OPEN, S.PROMISED, None) and rows[0][3].startswith("promessa ")
    assert rows[1] == (S.PROMISED, S.PAID, user.pk, "pagamento confirmado")
    assert rows[2] == (S.PAID, S.OPEN, user.pk, "estorno")


def test_setting_the_same_status_writes_no_history():
    charge = ChargeFactory(status=S.DISPUTED)
    services.charge_set_status(charge=charge, status=S.DISPUTED)
    assert not ChargeStatusChange.objects.filter(charge=charge).exists()


def test_a_refused_transition_writes_no_history():
    charge = ChargeFactory(status=S.PAID)
    with pytest.raises(ApplicationError):
        services.charge_set_status(charge=charge, status=S.PROMISED)
    assert not ChargeStatusChange.objects.exists()


def test_cancelling_cancels_pending_promises_and_active_agreements_and_is_audited():
    user = get_user_model().objects.create_user("op", password="x")
    charge = ChargeFactory(amount=Decimal("300"))
    promise = services.promise_create(charge=charge, promised_date=timezone.localdate())
    agreement = Agreement.objects.create(
        charge=charge,
        installments=3,
        installment_amount=Decimal("100"),
        total_amount=Decimal("300"),
        first_due_date=timezone.localdate(),
    )
    services.charge_cancel(charge=charge, by=user, reason="lançada em duplicidade", ip="10.0.0.1")
    charge.refresh_from_db()
    promise.refresh_from_db()
    agreement.refresh_from_db()
    assert charge.status == S.CANCELLED
    assert promise.status == PromiseToPay.Status.CANCELLED
    assert agreement.status == Agreement.Status.CANCELLED
    entry = AuditLog.objects.get(action="charge.cancel")
    assert (entry.actor, entry.target_id, entry.ip) == (user, str(charge.pk), "10.0.0.1")
    assert charge.status_changes.last().reason == "lançada em duplicidade"


def test_cancelling_twice_audits_once():
    charge = ChargeFactory()
    services.charge_cancel(charge=charge)
    services.charge_cancel(charge=charge)
    assert AuditLog.objects.filter(action="charge.cancel").count() == 1


def test_a_paid_charge_cannot_be_cancelled():
    charge = ChargeFactory()
    services.charge_mark_paid(charge=charge)
    with pytest.raises(ApplicationError):
        services.charge_cancel(charge=charge)
    charge.refresh_from_db()
    assert charge.status == S.PAID
    assert not AuditLog.objects.filter(action="charge.cancel").exists()


def test_the_admin_shows_the_history_on_the_charge_page_and_cancels_through_the_service(client):
    admin = get_user_model().objects.create_superuser("chefe", password="x")
    client.force_login(admin)
    charge = ChargeFactory()
    services.charge_set_status(charge=charge, status=S.DISPUTED, by=admin, reason="cliente contestou")
    page = client.get(f"/admin/billing/charge/{charge.pk}/change/").content.decode()
    assert "histórico da situação" in page.lower() and "cliente contestou" in page
    client.post(
        "/admin/billing/charge/",
        {"action": "mark_cancelled", "_selected_action": [charge.pk]},
    )
    charge.refresh_from_db()
    assert charge.status == S.CANCELLED
    assert AuditLog.objects.get(action="charge.cancel").actor == admin
