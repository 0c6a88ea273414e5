"""A Pix code stops being payable once its charge is settled another way (#15): the charge's active cobvs are
removed at the PSP (PATCH status REMOVIDA_PELO_USUARIO_RECEBEDOR) by a worker after commit, retried while the
PSP is unreachable; a superseded version too. The simulator refuses a Pix for a removed cobv."""

from __future__ import annotations

import urllib.error
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from billing import services
from billing.models import Payment, PixCobv
from billing.payments import pix_charges, pix_removal
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.pix_charges import pix_code_for
from billing.pix_api import PixApiError
from billing.tests.factories import ChargeFactory, ClientFactory
from billing.tests.pix_fakes import FakePsp, e2eid, transient

pytestmark = pytest.mark.django_db
REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


@pytest.fixture
def psp(monkeypatch, settings):
    fake = FakePsp()
    settings.PIX_PROVIDER = "api_pix"
    monkeypatch.setattr(pix_charges, "get_pix_client", lambda: fake)
    monkeypatch.setattr(pix_removal, "get_pix_client", lambda: fake)
    return fake


def _charge_with_code():
    charge = ChargeFactory(client=ClientFactory(document="52998224725"), amount=Decimal("150.00"))
    pix_code_for(charge)
    return charge, PixCobv.objects.get(charge=charge)


def test_marking_paid_by_an_operator_removes_the_cobv_after_commit(psp, django_capture_on_commit_callbacks):
    charge, cobv = _charge_with_code()
    with django_capture_on_commit_callbacks() as callbacks:
        services.charge_mark_paid(charge=charge, by=User.objects.create_user("op"))
    assert len(callbacks) == 1  # the removal task, enqueued only once the change commits
    assert pix_removal.cobvs_remove_task() == {"removed": 1, "refused": 0, "retry": 0}
    assert psp.cobvs[cobv.txid]["status"] == REMOVED
    assert ("patch_cobv", cobv.txid) in psp.calls
    cobv.refresh_from_db()
    assert cobv.status == PixCobv.Status.REMOVED
    assert pix_removal.cobvs_remove_task() == {"removed": 0, "refused": 0, "retry": 0}


def test_a_cancel_removes_it_and_an_unreachable_psp_is_retried(psp, django_capture_on_commit_callbacks):
    charge, cobv = _charge_with_code()
    with django_capture_on_commit_callbacks() as callbacks:
        services.charge_cancel(charge=charge)
    assert len(callbacks) == 1
    psp.failures.append(transient())
    assert pix_removal.cobvs_remove() == {"removed": 0, "refused": 0, "retry": 1}
    cobv.refresh_from_db()
    assert cobv.status == PixCobv.Status.ACTIVE
    psp.failures.append(PixApiError("forbidden", "escopo", permanent=True, status=403))
    assert pix_removal.cobvs_remove() == {"removed": 0, "refused": 0, "retry": 1}
    assert pix_removal.cobvs_remove() == {"removed": 1, "refused": 0, "retry": 0}
    cobv.refresh_from_db()
    assert cobv.status == PixCobv.Status.REMOVED


def test_a_charge_paid_by_its_own_cobv_asks_nothing(psp, django_capture_on_commit_callbacks):
    charge, cobv = _charge_with_code()
    facts = PaymentFacts(
        amount=Decimal("150.00"),
        paid_at=timezone.now(),
        source=Payment.Source.PIX_API,
        e2eid=e2eid(1),
        txid=cobv.txid,
    )
    apply_payment(charge_id=charge.pk, facts=facts)
    cobv.refresh_from_db()
    assert cobv.status == PixCobv.Status.PAID
    assert pix_removal.cobvs_remove() == {"removed": 0, "refused": 0, "retry": 0}
    assert ("patch_cobv", cobv.txid) not in psp.calls


def test_a_superseded_version_is_removed(psp):
    charge, first = _charge_with_code()
    facts = PaymentFacts(
        amount=Decimal("40.00"),
        paid_at=timezone.now(),
        source=Payment.Source.PIX_API,
        e2eid=e2eid(2),
        txid=first.txid,
    )
    apply_payment(charge_id=charge.pk, facts=facts)
    charge.refresh_from_db()
    pix_code_for(charge)
    second = PixCobv.objects.exclude(pk=first.pk).get()
    assert list(pix_removal.cobvs_to_remove()) == [first]
    pix_removal.cobvs_remove()
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == PixCobv.Status.REMOVED and second.status == PixCobv.Status.ACTIVE


def test_an_installment_paid_by_a_statement_line_loses_its_cobv(psp):
    charge = ChargeFactory(client=ClientFactory(document="52998224725"), amount=Decimal("300.00"))
    services.agreement_create(charge=charge, installments=3, first_due_date=timezone.localdate())
    pix_code_for(charge)
    cobv = PixCobv.objects.get(charge=charge)
    assert cobv.installment.number == 1
    facts = PaymentFacts(amount=Decimal("100.00"), paid_at=timezone.now(), source="statement", reference="l1")
    apply_payment(charge_id=charge.pk, facts=facts)
    assert pix_removal.cobvs_remove() == {"removed": 1, "refused": 0, "retry": 0}
    cobv.refresh_from_db()
    assert cobv.status == PixCobv.Status.REMOVED


def test_static_provider_enqueues_nothing(settings, django_capture_on_commit_callbacks):
    settings.PIX_PROVIDER = "static"
    charge = ChargeFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        services.charge_mark_paid(charge=charge)
    assert callbacks == []


def test_the_simulator_refuses_a_pix_for_a_removed_cobv(pix_simulator):
    client = pix_simulator.client()
    txid = "CI000000000001000000000000V001"
    body = {
        "calendario": {"dataDeVencimento": "2026-12-31"},
        "devedor": {"cpf": "52998224725", "nome": "Maria"},
        "valor": {"original": "150.00"},
        "chave": "pix@cobranca.example",
    }
    client.put_cobv(txid, body)
    client.patch_cobv(txid, {"status": REMOVED})
    assert client.get_cobv(txid)["status"] == REMOVED
    with pytest.raises(urllib.error.HTTPError) as refused:
        pix_simulator.pay(txid)
    assert refused.value.code == 422
    assert pix_simulator.snapshot()["pix"] in ({}, [])
