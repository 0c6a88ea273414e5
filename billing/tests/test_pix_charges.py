"""The PIX code a message gives: the static BR Code, or a cobv at the PSP (created, reused, revised, new
version after a payment), and the static fallback when no cobv can be made."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import Payment, PixCobv
from billing.payments import pix_charges
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.pix_charges import (
    PixChargeUnavailable,
    cobv_ensure,
    message_pix_code,
    pix_code_for,
    txid_for,
)
from billing.tests.factories import ChargeFactory, ClientFactory
from billing.tests.pix_fakes import FakePsp, e2eid, transient

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def psp(monkeypatch, settings):
    fake = FakePsp()
    settings.PIX_PROVIDER = "api_pix"
    monkeypatch.setattr(pix_charges, "get_pix_client", lambda: fake)
    return fake


def debtor_charge(**kw):
    kw.setdefault("client", ClientFactory(document="123.456.789-09", name="Maria da Silva"))
    return ChargeFactory(**kw)


def test_static_provider_gives_the_br_code_for_the_balance(settings):
    settings.PIX_PROVIDER = "static"
    charge = ChargeFactory(amount=D("100.00"))
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(amount=D("30.00"), paid_at=timezone.now(), source=Payment.Source.OPERATOR),
    )
    charge.refresh_from_db()
    code = pix_code_for(charge)
    assert code.startswith("000201") and "540570.00" in code
    assert not PixCobv.objects.exists()


def test_txid_is_deterministic_and_within_the_spec():
    txid = txid_for(42, None, 1)
    assert txid == txid_for(42, None, 1) and 26 <= len(txid) <= 35 and txid.isalnum()
    assert txid != txid_for(42, 7, 1) != txid_for(42, None, 2)


def test_first_code_creates_the_cobv_with_debtor_amount_fine_and_interest(psp, settings):
    settings.PIX_FINE_PERCENT = D("5")  # above the CDC's cap: the cobv still says 2 %
    charge = debtor_charge(amount=D("189.90"), description="Plano Fibra")
    code = pix_code_for(charge)
    cobv = PixCobv.objects.get()
    assert code == cobv.pix_copia_e_cola and cobv.txid == txid_for(charge.pk, None, 1)
    body = psp.cobvs[cobv.txid]
    assert body["devedor"] == {"cpf": "12345678909", "nome": "Maria da Silva"}
    assert body["valor"]["original"] == "189.90"
    assert body["valor"]["multa"] == {"modalidade": 2, "valorPerc": "2.00"}
    assert body["valor"]["juros"] == {"modalidade": 3, "valorPerc": "1.00"}
    assert body["calendario"]["dataDeVencimento"] == charge.due_date.isoformat()
    assert body["chave"] == settings.PIX_KEY and body["solicitacaoPagador"] == "Plano Fibra"


def test_same_charge_again_reuses_the_cobv_without_calling_the_psp(psp):
    charge = debtor_charge()
    first = pix_code_for(charge)
    calls = len(psp.calls)
    assert pix_code_for(charge) == first and len(psp.calls) == calls


def test_changed_amount_or_due_date_patches_the_same_txid(psp):
    charge = debtor_charge(amount=D("100.00"))
    pix_code_for(charge)
    charge.amount = D("120.00")
    charge.due_date += dt.timedelta(days=10)
    charge.save()
    code = pix_code_for(charge)
    cobv = PixCobv.objects.get()
    assert psp.calls[-1] == ("patch_cobv", cobv.txid)
    assert psp.cobvs[cobv.txid]["valor"]["original"] == "120.00" and "-R1-" in code
    assert cobv.due_date == charge.due_date and cobv.amount == D("120.00")


def test_a_partly_paid_cobv_gives_way_to_a_new_version_for_the_balance(psp):
    charge = debtor_charge(amount=D("100.00"))
    pix_code_for(charge)
    first = PixCobv.objects.get()
    apply_payment(
        charge_id=charge.pk,
        facts=PaymentFacts(
            amount=D("40.00"),
            paid_at=timezone.now(),
            source=Payment.Source.PIX_API,
            e2eid=e2eid(1),
            txid=first.txid,
        ),
    )
    charge.refresh_from_db()
    pix_code_for(charge)
    second = PixCobv.objects.exclude(pk=first.pk).get()
    assert second.txid == txid_for(charge.pk, None, 2)
    assert psp.cobvs[second.txid]["valor"]["original"] == "60.00"


def test_an_overdue_charge_gets_a_cobv_due_in_a_few_days(psp, settings):
    settings.PIX_COBV_OVERDUE_DAYS = 3
    charge = debtor_charge(due_date=timezone.localdate() - dt.timedelta(days=40))
    cobv = cobv_ensure(charge=charge)
    assert cobv.due_date == timezone.localdate() + dt.timedelta(days=3)


def test_an_agreement_pays_its_next_open_installment(psp):
    charge = debtor_charge(amount=D("300.00"))
    services.agreement_create(charge=charge, installments=3, first_due_date=timezone.localdate())
    first = charge.agreements.get().schedule.get(number=1)
    cobv = cobv_ensure(charge=charge)
    assert cobv.installment == first and cobv.txid == txid_for(charge.pk, first.pk, 1)
    assert psp.cobvs[cobv.txid]["valor"]["original"] == "100.00"


def test_a_discounted_single_payment_carries_the_discount_until_its_date(psp):
    charge = debtor_charge(amount=D("200.00"))
    due = timezone.localdate() + dt.timedelta(days=2)
    services.agreement_create(charge=charge, installments=1, discount_percent=D("10"), first_due_date=due)
    cobv = cobv_ensure(charge=charge)
    valor = psp.cobvs[cobv.txid]["valor"]
    assert valor["original"] == "200.00"
    assert valor["desconto"] == {
        "modalidade": 1,
        "descontoDataFixa": [{"data": due.isoformat(), "valorPerc": "20.00"}],
    }


def test_a_debtor_without_document_gets_no_cobv_and_a_message_gets_the_static_code(psp):
    charge = ChargeFactory(client=ClientFactory(document=""), amount=D("80.00"))
    with pytest.raises(PixChargeUnavailable, match="CPF/CNPJ"):
        cobv_ensure(charge=charge)
    pix = message_pix_code(charge)
    assert pix.code.startswith("000201") and "CPF/CNPJ" in pix.fallback_reason and not psp.calls


def test_a_psp_outage_falls_back_to_the_static_code(psp):
    charge = debtor_charge(amount=D("80.00"))
    psp.failures.append(transient())
    pix = message_pix_code(charge)
    assert pix.code.startswith("000201") and "PSP" in pix.fallback_reason
    # The txid stays reserved: the next message PUTs the same one.
    again = message_pix_code(charge)
    assert again.txid == txid_for(charge.pk, None, 1) and not again.fallback_reason


def test_a_lost_put_answer_is_recovered_by_revising_the_existing_cobv(psp):
    charge = debtor_charge(amount=D("80.00"))
    txid = txid_for(charge.pk, None, 1)
    psp.cobvs[txid] = {"valor": {"original": "80.00"}, "revisao": 0}  # the PSP made it, the answer was lost
    PixCobv.objects.create(
        charge=charge, txid=txid, amount=D("0.01"), due_date=charge.due_date, version_key=""
    )
    cobv = cobv_ensure(charge=charge)
    assert cobv.pix_copia_e_cola and [c[0] for c in psp.calls] == ["put_cobv", "get_cobv", "patch_cobv"]


def test_a_paid_charge_has_no_code(psp):
    charge = debtor_charge(status="paid")
    assert message_pix_code(charge) is None
    with pytest.raises(PixChargeUnavailable):
        cobv_ensure(charge=charge)
