"""Checking a receipt against the charge (billing.receipts.checks) and the worker's flow
(billing.receipts.services): static Pix → payment_claimed for an operator; API Pix → the PSP decides."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from billing.models import Charge, Payment, PaymentIssue, PixCobv, ReceiptCheck
from billing.payments.apply import PaymentFacts, apply_payment
from billing.pix_api import PixNotFound
from billing.receipts import services
from billing.receipts.checks import Creditor, Expectation, e2eid_variants, evaluate
from billing.receipts.fields import SAO_PAULO, ReceiptReading
from billing.receipts.generator import render, sample_shown, text_pdf
from billing.receipts.layouts import LAYOUTS
from billing.tests.factories import ChargeFactory
from cobranca.exceptions import ApplicationError
from conversations.models import Attachment
from conversations.tests.factories import ConversationFactory, MessageFactory

CREDITOR = Creditor("Credora Exemplo Ltda", "00.000.000/0001-91", "pix@credora.example")
NOW = dt.datetime(2026, 12, 5, 15, 0, tzinfo=SAO_PAULO)
E2E = "E18236120202612051732ABCDEFGHJK1"  # 17:32 UTC = 14:32 in São Paulo


def reading(**fields) -> ReceiptReading:
    base = {
        "amount": Decimal("189.90"),
        "amounts_seen": [Decimal("189.90")],
        "paid_at": dt.datetime(2026, 12, 5, 14, 32, 10, tzinfo=SAO_PAULO),
        "e2eid": E2E,
        "recipient_name": "CREDORA EXEMPLO LTDA",
        "recipient_document": "00.000.000/0001-91",
    }
    return ReceiptReading(**(base | fields))


def verdict(read: ReceiptReading, **kwargs):
    options = {
        "creditor": CREDITOR,
        "expected": [Expectation(Decimal("189.90"), "saldo da cobrança")],
        "charge_created_at": NOW - dt.timedelta(days=30),
        "now": NOW,
    } | kwargs
    return evaluate(read, **options)


def outcomes(result) -> dict[str, bool | None]:
    return {check.code: check.ok for check in result.checks}


def test_a_receipt_to_the_creditor_for_the_charge_amount_passes_every_check():
    result = verdict(reading())
    assert result.passed and outcomes(result) == {
        "recipient": True,
        "amount": True,
        "date": True,
        "e2eid": True,
    }


def test_another_recipients_document_under_the_creditors_name_fails():
    result = verdict(reading(recipient_document="11.222.333/0001-81"))
    assert outcomes(result)["recipient"] is False


def test_the_creditors_name_alone_is_not_enough():
    result = verdict(reading(recipient_document=None))
    assert outcomes(result)["recipient"] is None and not result.passed


def test_the_creditors_pix_key_counts_as_the_recipient():
    result = verdict(reading(recipient_document=None, recipient_key="PIX@credora.example"))
    assert outcomes(result)["recipient"] is True


def test_an_amount_edited_in_one_place_only_fails():
    result = verdict(reading(amounts_seen=[Decimal("189.90"), Decimal("18.99")]))
    assert outcomes(result)["amount"] is False
    assert "valores diferentes" in result.failed[0].message


def test_an_installment_amount_matches_and_names_the_installment():
    expected = [Expectation(Decimal("63.30"), "parcela 2", 7), Expectation(Decimal("189.90"), "saldo")]
    result = verdict(reading(amount=Decimal("63.30"), amounts_seen=[Decimal("63.30")]), expected=expected)
    assert result.matched.installment_id == 7 and outcomes(result)["amount"] is True


def test_a_wrong_amount_fails():
    result = verdict(reading(amount=Decimal("18.99"), amounts_seen=[Decimal("18.99")]))
    assert outcomes(result)["amount"] is False


@pytest.mark.parametrize(
    ("paid_at", "created_at"),
    [
        (NOW + dt.timedelta(days=1), NOW - dt.timedelta(days=30)),  # the future
        (NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=30)),  # before the charge existed
    ],
)
def test_an_implausible_date_fails(paid_at, created_at):
    e2eid = "E18236120" + paid_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M") + "ABCDEFGHJK1"
    result = verdict(reading(paid_at=paid_at, e2eid=e2eid), charge_created_at=created_at)
    assert outcomes(result)["date"] is False


def test_a_printed_time_that_disagrees_with_the_e2eid_fails():
    result = verdict(reading(paid_at=dt.datetime(2026, 12, 5, 9, 5, tzinfo=SAO_PAULO)))
    assert outcomes(result)["date"] is False and "identificador" in result.failed[0].message


def test_an_e2eid_used_for_another_charge_fails():
    assert outcomes(verdict(reading(), e2eid_used_elsewhere=True))["e2eid"] is False


def test_look_alike_readings_of_the_e2eid_tail_are_tried():
    variants = e2eid_variants("E18236120202612051732ABCDEFOHJI1")
    assert variants[0] == "E18236120202612051732ABCDEFOHJI1"
    assert "E18236120202612051732ABCDEF0HJ11" in variants
    assert len(variants) == len(set(variants)) <= 16


# --- The worker's flow --------------------------------------------------------------------------------------


@pytest.fixture
def creditor_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CREDITOR_NAME, settings.CREDITOR_DOCUMENT, settings.PIX_KEY = (
        CREDITOR.name,
        CREDITOR.document,
        CREDITOR.key,
    )
    settings.PIX_PROVIDER = "static"
    return settings


def receipt_pdf(amount: Decimal, *, amounts: list[Decimal] | None = None, layout: int = 0) -> bytes:
    """A receipt PDF with a text layer (fast to read: no OCR) for `amount`, paid an hour ago."""
    paid_at = (timezone.now() - dt.timedelta(hours=1)).astimezone(SAO_PAULO).replace(microsecond=0)
    shown = sample_shown(random.Random(7), CREDITOR, to_creditor=True)
    shown = replace(
        shown,
        amounts=amounts or [amount],
        paid_at=paid_at,
        e2eid="E18236120" + paid_at.astimezone(dt.UTC).strftime("%Y%m%d%H%M") + "ABCDEFGHJK1",
    )
    return text_pdf(render(LAYOUTS[layout], shown, (1080, 2340), dark=False))


def stored_receipt(charge: Charge, content: bytes, content_type: str = "application/pdf") -> Attachment:
    conversation = charge.client.conversations.first() or ConversationFactory(client=charge.client)
    message = MessageFactory(conversation=conversation, body="")
    name = default_storage.save("conversations/attachments/2026/12/r.pdf", ContentFile(content))
    kind = "pdf" if content_type == "application/pdf" else "image"
    return Attachment.objects.create(
        message=message, status=Attachment.Status.STORED, kind=kind, content_type=content_type, file=name
    )


def run(attachment: Attachment, charge: Charge | None = None) -> ReceiptCheck:
    check = services.receipt_check_request(
        attachment_id=attachment.pk, charge_id=charge.pk if charge else None
    )
    services.receipt_check_run(check_id=check.pk)
    check.refresh_from_db()
    return check


class FakePsp:
    def __init__(self, known: dict[str, dict]):
        self.known, self.asked = known, []

    def get_pix(self, e2eid: str) -> dict:
        self.asked.append(e2eid)
        if e2eid not in self.known:
            raise PixNotFound("Pix não encontrado")
        return self.known[e2eid]


@pytest.mark.ocr
@pytest.mark.django_db
def test_without_the_api_a_good_receipt_waits_for_an_operator_with_its_checks(creditor_settings):
    charge = ChargeFactory(amount=Decimal("189.90"))
    check = run(stored_receipt(charge, receipt_pdf(Decimal("189.90"))), charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REVIEW
    assert check.amount == Decimal("189.90") and check.e2eid.startswith("E18236120")
    assert check.recipient_document == CREDITOR.document
    assert all(c["ok"] for c in check.checks), check.checks
    assert charge.status == Charge.Status.PAYMENT_CLAIMED and not Payment.objects.exists()
    assert services.receipt_check_run(check_id=check.pk) == "done"  # a second delivery does nothing


@pytest.mark.ocr
@pytest.mark.django_db
def test_a_receipt_with_a_wrong_or_edited_amount_is_suspect_and_queued(creditor_settings):
    charge = ChargeFactory(amount=Decimal("189.90"))
    edited = receipt_pdf(Decimal("189.90"), amounts=[Decimal("189.90"), Decimal("18.99")], layout=1)
    check = run(stored_receipt(charge, edited), charge)
    assert check.status == ReceiptCheck.Status.SUSPECT
    assert [c["code"] for c in check.checks if c["ok"] is False] == ["amount"]
    other = ChargeFactory(amount=Decimal("500.00"))
    check = run(stored_receipt(other, receipt_pdf(Decimal("50.00"))), other)
    assert check.status == ReceiptCheck.Status.SUSPECT
    assert PaymentIssue.objects.filter(kind=PaymentIssue.Kind.SUSPECT_RECEIPT, charge=other).exists()


@pytest.mark.ocr
@pytest.mark.django_db
def test_an_e2eid_that_already_settled_another_charge_is_suspect(creditor_settings):
    charge = ChargeFactory(amount=Decimal("189.90"))
    attachment = stored_receipt(charge, receipt_pdf(Decimal("189.90")))
    first = run(attachment, charge)
    other = ChargeFactory(client=charge.client, amount=Decimal("189.90"))
    facts = PaymentFacts(
        amount=Decimal("189.90"), paid_at=timezone.now(), source="pix_api", e2eid=first.e2eid
    )
    apply_payment(charge_id=other.pk, facts=facts)
    again = run(stored_receipt(charge, attachment.file.open("rb").read()), charge)
    assert again.status == ReceiptCheck.Status.SUSPECT
    assert any(c["code"] == "e2eid" and c["ok"] is False for c in again.checks)


@pytest.mark.ocr
@pytest.mark.django_db
def test_with_the_api_a_pix_the_psp_confirms_is_paid_at_once(creditor_settings, monkeypatch):
    creditor_settings.PIX_PROVIDER = "api_pix"
    charge = ChargeFactory(amount=Decimal("189.90"))
    attachment = stored_receipt(charge, receipt_pdf(Decimal("189.90")))
    e2eid = services.read_receipt(attachment.file.open("rb").read()).e2eid
    txid = own_cobv(charge)
    psp = FakePsp({e2eid: psp_pix(e2eid, "189.90", txid)})
    monkeypatch.setattr(services, "get_pix_client", lambda: psp)
    check = run(attachment, charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.PAID and check.psp_status == "confirmed"
    payment = Payment.objects.get()
    assert payment.source == Payment.Source.RECEIPT and payment.e2eid == e2eid
    assert payment.raw["receipt_check"] == check.pk and check.payment == payment
    assert charge.status == Charge.Status.PAID


def own_cobv(charge: Charge) -> str:
    txid = f"cobv{charge.pk:031d}"
    PixCobv.objects.create(
        charge=charge, txid=txid, amount=charge.amount, due_date=timezone.localdate(), version_key="v1"
    )
    return txid


def psp_pix(e2eid: str, valor: str, txid: str | None) -> dict:
    pix = {"endToEndId": e2eid, "valor": valor, "horario": timezone.now().isoformat()}
    return pix if txid is None else {**pix, "txid": txid}


@pytest.mark.ocr
@pytest.mark.django_db
@pytest.mark.parametrize("txid", [None, "", "outrotxiddeterceiro0000000000001", "other-charge"])
def test_a_real_pix_that_is_not_one_of_this_charges_cobvs_is_never_applied(
    creditor_settings, monkeypatch, txid
):
    """Finding #1: someone else's Pix (a txid that is not ours, or another charge's) named in a receipt."""
    creditor_settings.PIX_PROVIDER = "api_pix"
    charge = ChargeFactory(amount=Decimal("189.90"))
    if txid == "other-charge":
        txid = own_cobv(ChargeFactory(amount=Decimal("189.90")))
    attachment = stored_receipt(charge, receipt_pdf(Decimal("189.90")))
    e2eid = services.read_receipt(attachment.file.open("rb").read()).e2eid
    queued = PaymentIssue.objects.create(
        key=f"unknown_txid:{e2eid}",
        kind=PaymentIssue.Kind.UNKNOWN_TXID,
        amount=Decimal("189.90"),
        details={"e2eid": e2eid, "txid": txid or ""},
    )
    monkeypatch.setattr(services, "get_pix_client", lambda: FakePsp({e2eid: psp_pix(e2eid, "189.90", txid)}))
    check = run(attachment, charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.SUSPECT and not Payment.objects.exists()
    assert charge.status == Charge.Status.PAYMENT_CLAIMED
    assert any(c["code"] == "psp" and c["ok"] is False for c in check.checks), check.checks
    issue = PaymentIssue.objects.get(key=f"receipt:{check.pk}")
    assert issue.details["unknown_txid_issue"] == queued.pk
    queued.refresh_from_db()
    assert queued.details["receipt_checks"] == [check.pk]


@pytest.mark.ocr
@pytest.mark.django_db
def test_a_pix_the_webhook_applied_to_another_charge_does_not_mark_the_receipt_paid(
    creditor_settings, monkeypatch
):
    """The race: the webhook path applied this e2eid to another charge between the checks and the apply."""
    creditor_settings.PIX_PROVIDER = "api_pix"
    charge = ChargeFactory(amount=Decimal("189.90"))
    attachment = stored_receipt(charge, receipt_pdf(Decimal("189.90")))
    e2eid = services.read_receipt(attachment.file.open("rb").read()).e2eid
    other = ChargeFactory(amount=Decimal("189.90"))
    txid = own_cobv(charge)

    def psp_then_webhook():
        facts = PaymentFacts(amount=Decimal("189.90"), paid_at=timezone.now(), source="pix_api", e2eid=e2eid)
        apply_payment(charge_id=other.pk, facts=facts)
        return FakePsp({e2eid: psp_pix(e2eid, "189.90", txid)})

    monkeypatch.setattr(services, "get_pix_client", psp_then_webhook)
    check = run(attachment, charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.SUSPECT and check.payment is None
    assert Payment.objects.get().charge == other and charge.status == Charge.Status.PAYMENT_CLAIMED
    assert PaymentIssue.objects.filter(key=f"receipt:{check.pk}").exists()


@pytest.mark.ocr
@pytest.mark.django_db
def test_with_the_api_a_pix_the_psp_does_not_know_is_suspect_and_nothing_is_paid(
    creditor_settings, monkeypatch
):
    creditor_settings.PIX_PROVIDER = "api_pix"
    psp = FakePsp({})
    monkeypatch.setattr(services, "get_pix_client", lambda: psp)
    charge = ChargeFactory(amount=Decimal("189.90"))
    check = run(stored_receipt(charge, receipt_pdf(Decimal("189.90"))), charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.SUSPECT and check.psp_status == "not_found"
    assert psp.asked and not Payment.objects.exists()
    assert charge.status == Charge.Status.PAYMENT_CLAIMED
    assert PaymentIssue.objects.get(key=f"receipt:{check.pk}").kind == PaymentIssue.Kind.SUSPECT_RECEIPT


@pytest.mark.ocr
@pytest.mark.django_db
def test_with_the_api_an_edited_amount_applies_only_what_really_arrived(creditor_settings, monkeypatch):
    creditor_settings.PIX_PROVIDER = "api_pix"
    charge = ChargeFactory(amount=Decimal("189.90"))
    attachment = stored_receipt(charge, receipt_pdf(Decimal("189.90")))
    e2eid = services.read_receipt(attachment.file.open("rb").read()).e2eid
    psp = FakePsp({e2eid: psp_pix(e2eid, "18.99", own_cobv(charge))})
    monkeypatch.setattr(services, "get_pix_client", lambda: psp)
    check = run(attachment, charge)
    charge.refresh_from_db()
    assert check.status == ReceiptCheck.Status.SUSPECT
    assert Payment.objects.get().amount == Decimal("18.99")
    assert charge.status != Charge.Status.PAID and charge.balance == Decimal("170.91")


@pytest.mark.django_db
def test_a_file_that_is_not_a_receipt_is_refused_with_its_reason(creditor_settings):
    charge = ChargeFactory()
    check = run(stored_receipt(charge, b"<html>oi</html>", "image/jpeg"), charge)
    assert check.status == ReceiptCheck.Status.REFUSED and "não é uma imagem" in check.error


@pytest.mark.ocr
@pytest.mark.django_db
def test_the_operator_confirms_or_rejects(creditor_settings, django_user_model):
    operator = django_user_model.objects.create_user("op", password="x")
    paid = ChargeFactory(amount=Decimal("189.90"))
    check = run(stored_receipt(paid, receipt_pdf(Decimal("189.90"))), paid)
    services.receipt_confirm(check=check, by=operator)
    paid.refresh_from_db()
    assert paid.status == Charge.Status.PAID and Payment.objects.get().source == Payment.Source.RECEIPT
    with pytest.raises(Exception, match="já foi decidido"):
        services.receipt_confirm(check=check, by=operator)

    claimed = ChargeFactory(amount=Decimal("75.00"))
    check = run(stored_receipt(claimed, receipt_pdf(Decimal("75.00"))), claimed)
    services.receipt_reject(check=check, by=operator)
    claimed.refresh_from_db()
    check.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REJECTED and check.decided_by == operator
    assert claimed.status == Charge.Status.OPEN


@pytest.mark.ocr
@pytest.mark.django_db
def test_the_operator_cannot_confirm_a_receipt_whose_pix_settled_another_charge_meanwhile(
    creditor_settings, django_user_model
):
    operator = django_user_model.objects.create_user("op", password="x")
    charge = ChargeFactory(amount=Decimal("189.90"))
    check = run(stored_receipt(charge, receipt_pdf(Decimal("189.90"))), charge)
    other = ChargeFactory(amount=Decimal("189.90"))
    facts = PaymentFacts(
        amount=Decimal("189.90"), paid_at=timezone.now(), source="pix_api", e2eid=check.e2eid
    )
    apply_payment(charge_id=other.pk, facts=facts)
    with pytest.raises(ApplicationError, match="outra cobrança"):
        services.receipt_confirm(check=check, by=operator)
    check.refresh_from_db()
    assert check.status == ReceiptCheck.Status.REVIEW and check.payment is None
    assert Payment.objects.get().charge == other


@pytest.mark.django_db
def test_a_check_left_reading_by_a_dead_worker_is_taken_again_only_when_stale(creditor_settings):
    charge = ChargeFactory()
    check = services.receipt_check_request(attachment_id=stored_receipt(charge, b"nada", "image/jpeg").pk)
    ReceiptCheck.objects.filter(pk=check.pk).update(status=ReceiptCheck.Status.READING)
    assert services.receipt_check_run(check_id=check.pk) == "done"  # another worker may still be reading
    ReceiptCheck.objects.filter(pk=check.pk).update(created_at=timezone.now() - dt.timedelta(minutes=11))
    assert services.receipt_check_run(check_id=check.pk) == ReceiptCheck.Status.REFUSED


def test_an_old_debt_imported_today_accepts_a_payment_made_before_the_import():
    """The row was created today, but the debt fell due a month ago: a payment of last week is plausible."""
    paid_at = NOW - dt.timedelta(days=8)
    result = verdict(
        reading(paid_at=paid_at, e2eid=None),
        charge_created_at=NOW,
        due_date=(NOW - dt.timedelta(days=30)).date(),
    )
    assert outcomes(result)["date"] is True


def test_a_payment_long_before_the_due_date_and_the_creation_still_fails():
    paid_at = NOW - dt.timedelta(days=200)
    result = verdict(
        reading(paid_at=paid_at, e2eid=None),
        charge_created_at=NOW,
        due_date=(NOW - dt.timedelta(days=30)).date(),
    )
    date = next(c for c in result.checks if c.code == "date")
    assert date.ok is False and "90 dias antes do vencimento" in date.message, date.message


def _png(color: str = "navy") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (720, 1280), color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.ocr
@pytest.mark.django_db
@pytest.mark.parametrize("named", [False, True])
def test_a_file_where_nothing_of_a_receipt_was_read_stops_no_reminders(creditor_settings, named):
    """Tester finding: after "já paguei" and "De qual delas?", a photo that is no receipt put an arbitrary
    one of the debtor's two charges in payment_claimed (its reminders stopped)."""
    charge = ChargeFactory(amount=Decimal("129.90"))
    other = ChargeFactory(client=charge.client, amount=Decimal("59.90"))
    check = run(stored_receipt(charge, _png(), content_type="image/png"), charge if named else None)
    assert check.amount is None and not check.e2eid
    for each in (charge, other):
        each.refresh_from_db()
        assert each.status == Charge.Status.OPEN, each
