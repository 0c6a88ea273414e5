"""Receipts a debtor sent: queued when the bot takes a picture/PDF as the receipt it asked for, read and
checked by a worker (one task per receipt, never in a request), then settled or handed to an operator.

- `receipt_check_request`: one ReceiptCheck per attachment, its task enqueued on commit.
- `receipt_check_run` (the task): reads the file (`read_receipt`), picks the charge, runs the checks. With
  PIX_PROVIDER=api_pix the PSP decides: a Pix it knows, paid to one of THIS charge's cobv txids, is applied
  at once (`apply_payment`, source "receipt", the PSP's amount and time, the receipt attached in `raw`);
  one it does not know, or one paid with another txid (someone else's Pix, queued as unknown_txid) makes
  the receipt suspect, and the open unknown_txid issue of that e2eid is linked to it.
  Without the API the charge goes to `payment_claimed` and the inbox shows the fields and checks.
- `receipt_confirm` / `receipt_reject`: the operator's click in the inbox. A charge with nothing owed (paid,
  cancelled, balance 0) refuses a confirmation.
- `receipts_settle_open`: when the operator's confirmation pays the charge, its undecided receipts are
  closed (`settled`) with their queue items.

Suspect receipts open a PaymentIssue (SUSPECT_RECEIPT) in the operator queue. See docs/receipts.md."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from loguru import logger

from billing import services as billing_services
from billing.models import Charge, Payment, PaymentIssue, PixCobv, ReceiptCheck
from billing.payments.apply import PaymentFacts, apply_payment
from billing.pix_api import PixApiError, PixNotFound, get_pix_client
from billing.receipts import ReceiptRefused, read_receipt
from billing.receipts.checks import (
    Check,
    creditor_from_settings,
    e2eid_used_elsewhere,
    e2eid_variants,
    evaluate,
    expectations_for,
    stated_amounts,
)
from billing.receipts.fields import ReceiptReading
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from cobranca.tasks import enqueue_on_commit

TASK = "billing.tasks.receipt_check_task"
STALE_READING = dt.timedelta(minutes=10)
CLOSED = (Charge.Status.PAID, Charge.Status.CANCELLED)
Status = ReceiptCheck.Status


def receipt_check_request(*, attachment_id: int, charge_id: int | None = None) -> ReceiptCheck:
    """Queue the reading of a receipt (idempotent per attachment: a redelivered bot turn queues nothing)."""
    check, created = ReceiptCheck.objects.get_or_create(
        attachment_id=attachment_id, defaults={"charge_id": charge_id}
    )
    if created:
        enqueue_on_commit(TASK, check.pk)
    return check


def _candidate_charges(check: ReceiptCheck) -> list[Charge]:
    conversation = check.attachment.message.conversation
    if conversation.client_id is None:
        return []
    return list(
        Charge.objects.filter(client_id=conversation.client_id)
        .exclude(status__in=CLOSED)
        .order_by("-status_changed_at", "-pk")
    )


def _pick_charge(check: ReceiptCheck, reading: ReceiptReading) -> Charge | None:
    """The charge the receipt pays: the only open one whose amounts include the receipt's, else the one the
    conversation was about, else the one with a payment claimed most recently, else the latest."""
    charges = _candidate_charges(check)
    if not charges:
        return None
    if reading.amount is not None:
        matching = [c for c in charges if any(e.amount == reading.amount for e in expectations_for(c))]
        if len(matching) == 1:
            return matching[0]
    focus = next((c for c in charges if c.pk == check.charge_id), None)
    claimed = next((c for c in charges if c.status == Charge.Status.PAYMENT_CLAIMED), None)
    return focus or claimed or charges[0]


def _ask_psp(e2eid: str) -> tuple[str, dict | None, str]:
    """("confirmed", the PSP's Pix, the id it knows) | ("not_found", None, "") | ("error", None, reason).
    Look-alike readings of the id (O/0, I/1) are tried too: the PSP is the one that knows."""
    try:
        client = get_pix_client()
    except ImproperlyConfigured as exc:
        return "error", None, str(exc)[:120]
    for variant in e2eid_variants(e2eid):
        try:
            return "confirmed", client.get_pix(variant), variant
        except PixNotFound:
            continue
        except PixApiError as exc:
            return "error", None, exc.reason
    return "not_found", None, ""


def _store(check: ReceiptCheck, reading: ReceiptReading, **fields) -> None:
    ReceiptCheck.objects.filter(pk=check.pk).update(
        amount=reading.amount,
        paid_at=reading.paid_at,
        e2eid=reading.e2eid or "",
        recipient_name=(reading.recipient_name or "")[:200],
        recipient_document=(reading.recipient_document or reading.recipient_key or "")[:120],
        payer_name=(reading.payer_name or "")[:200],
        bank=(reading.bank or "")[:120],
        confidence=reading.confidence,
        read_at=timezone.now(),
        **fields,
    )


def _link_unknown_txid(check: ReceiptCheck) -> int | None:
    """The open "Pix sem cobrança conhecida" issue of this receipt's Pix, if any: both issues name each other
    so the operator sees that a debtor claims a Pix nobody's charge received."""
    if not check.e2eid:
        return None
    keys = [f"unknown_txid:{variant}" for variant in e2eid_variants(check.e2eid)]
    queued = (
        PaymentIssue.objects.select_for_update()
        .filter(key__in=keys, status=PaymentIssue.Status.OPEN)
        .order_by("pk")
        .first()
    )
    if queued is None:
        return None
    details = dict(queued.details or {})
    linked = list(details.get("receipt_checks") or [])
    if check.pk not in linked:
        details["receipt_checks"] = [*linked, check.pk]
        PaymentIssue.objects.filter(pk=queued.pk).update(details=details)
    return queued.pk


def _open_issue(check: ReceiptCheck, charge: Charge | None, reasons: list[str]) -> None:
    details = {"receipt_check": check.pk, "e2eid": check.e2eid, "reasons": reasons}
    queued = _link_unknown_txid(check)
    if queued is not None:
        details["unknown_txid_issue"] = queued
    PaymentIssue.objects.get_or_create(
        key=f"receipt:{check.pk}",
        defaults={
            "kind": PaymentIssue.Kind.SUSPECT_RECEIPT,
            "charge": charge,
            "amount": check.amount,
            "details": details,
        },
    )


def receipt_check_run(*, check_id: int) -> str:
    """Read and check one receipt (the task). Safe to run twice: only a pending check (or one left `reading`
    by a dead worker) is claimed. Returns its new status."""
    # A worker that died while reading leaves `reading`: django-q hands the task out again, and after
    # STALE_READING the check may be claimed again.
    stale = Q(status=Status.READING, created_at__lt=timezone.now() - STALE_READING)
    claimed = ReceiptCheck.objects.filter(Q(status=Status.PENDING) | stale, pk=check_id).update(
        status=Status.READING
    )
    if not claimed:
        return "done"
    check = ReceiptCheck.objects.select_related("attachment__message__conversation").get(pk=check_id)
    try:
        with check.attachment.file.open("rb") as handle:
            content = handle.read()
        reading = read_receipt(content, content_type=check.attachment.content_type or None)
    except ReceiptRefused as exc:
        ReceiptCheck.objects.filter(pk=check_id).update(status=Status.REFUSED, error=exc.reason[:255])
        return Status.REFUSED
    except (OSError, ValueError) as exc:
        ReceiptCheck.objects.filter(pk=check_id).update(status=Status.FAILED, error=str(exc)[:255])
        logger.warning("receipts.read_failed check={} error={}", check_id, exc)
        return Status.FAILED
    charge = _pick_charge(check, reading)
    verdict = evaluate(
        reading,
        creditor=creditor_from_settings(),
        expected=expectations_for(charge, stated_amounts(check.attachment.message)) if charge else [],
        charge_created_at=charge.created_at if charge else None,
        now=timezone.now(),
        e2eid_used_elsewhere=e2eid_used_elsewhere(
            reading.e2eid, charge_id=charge.pk if charge else None, exclude_check_id=check_id
        ),
        balance=charge.balance if charge else None,
        due_date=charge.due_date if charge else None,
    )
    checks = verdict.checks
    installment_id = verdict.matched.installment_id if verdict.matched else None
    psp = ("", None, "")
    if settings.PIX_PROVIDER == "api_pix" and reading.e2eid and charge is not None:
        psp = _ask_psp(reading.e2eid)  # network: outside any transaction
        checks = [*checks, _psp_check(psp, reading, charge)]
    status = _settle(check, charge, reading, psp, checks, installment_id)
    logger.info("receipts.checked check={} status={} psp={}", check_id, status, psp[0] or "-")
    return status


def _own_txid(pix: dict | None, charge: Charge) -> str:
    """The PSP's txid of this Pix when it is one of this charge's (or its installments') cobvs, else ""."""
    txid = (pix or {}).get("txid")
    if not isinstance(txid, str) or not txid:
        return ""
    return txid if PixCobv.objects.filter(charge=charge, txid=txid).exists() else ""


def _psp_check(psp: tuple[str, dict | None, str], reading: ReceiptReading, charge: Charge) -> Check:
    outcome, pix, detail = psp
    if outcome == "not_found":
        return Check("psp", False, "O PSP não conhece este Pix: comprovante suspeito.")
    if outcome == "error":
        return Check("psp", None, f"PSP indisponível ({detail}): conferir à mão.")
    if not _own_txid(pix, charge):
        # A real Pix to the creditor's key, but not paid to this charge's Pix code: someone else's money
        # (or a Pix queued as "sem cobrança conhecida") must never settle this charge on a receipt's word.
        return Check("psp", False, "O Pix existe no PSP, mas não foi pago a um código Pix desta cobrança.")
    amount = _psp_amount(pix)
    if reading.amount is not None and amount is not None and amount != reading.amount:
        return Check(
            "psp", False, f"O PSP registra {amount} neste Pix; o comprovante mostra {reading.amount}."
        )
    return Check("psp", True, f"Pix confirmado no PSP ({detail}).")


def _psp_amount(pix: dict | None) -> Decimal | None:
    try:
        return Decimal(str((pix or {}).get("valor")))
    except ArithmeticError:
        return None


def _psp_time(pix: dict, fallback: dt.datetime | None) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(pix.get("horario")).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        return fallback or timezone.now()
    return parsed


def _settle(check, charge, reading, psp, checks: list[Check], installment_id) -> str:
    """Store the reading and the checks, then: pay (the PSP confirmed), flag (a check failed) or wait for an
    operator (payment_claimed). The payment and the receipt's new state commit together."""
    outcome = psp[0]
    failed = [c.message for c in checks if c.ok is False]
    own = outcome == "confirmed" and charge is not None and bool(_own_txid(psp[1], charge))
    with transaction.atomic():
        payment = _apply_confirmed(check, charge, reading, psp, installment_id) if own else None
        if payment is not None and payment.charge_id != charge.pk:
            # The webhook applied this e2eid to another charge meanwhile (Payment.e2eid is unique): one
            # payment stays, and the receipt goes to an operator.
            payment = None
            conflict = Check("e2eid", False, "Este Pix foi aplicado a outra cobrança enquanto era conferido.")
            checks, failed = [*checks, conflict], [*failed, conflict.message]
        status = Status.SUSPECT if failed else Status.PAID if payment is not None else Status.REVIEW
        _store(
            check,
            reading,
            status=status,
            charge=charge,
            installment_id=installment_id,
            checks=[c.__dict__ for c in checks],
            psp_status=outcome,
            payment=payment,
        )
        check.refresh_from_db()
        if status == Status.SUSPECT:
            _open_issue(check, charge, failed)
        if payment is None and charge is not None and _claims_the_whole(charge, reading, check):
            try:
                billing_services.charge_claim_payment(charge=charge, source_message=check.attachment.message)
            except ApplicationError as exc:  # a charge that cannot be claimed: the inbox still shows it
                logger.info("receipts.claim_skipped charge={} reason={}", charge.pk, exc.message)
    return status


def _claims_the_whole(charge: Charge, reading: ReceiptReading, check: ReceiptCheck) -> bool:
    """A receipt of what the charge still owes (or of an amount not read) stops its reminders until an
    operator decides (payment_claimed); a receipt of a part (an installment, "paguei 120") leaves the charge
    as it is: its reminders, promise and PIX go on for the rest. So does a file where neither an amount nor
    a Pix id was read (a photo, a school report: no receipt at all), and a receipt for none of the charges
    in particular (the debtor has several open, named none, and the amount is not one of them): which one
    would stop is a guess."""
    if charge.status in CLOSED or (reading.amount is None and not reading.e2eid):
        return False
    if reading.amount is not None and reading.amount < charge.balance:
        return False
    return check.charge_id == charge.pk or _only_match(check, reading) == charge


def _only_match(check: ReceiptCheck, reading: ReceiptReading) -> Charge | None:
    """The debtor's one open charge, or the one open charge whose amounts include the receipt's."""
    charges = _candidate_charges(check)
    if len(charges) == 1:
        return charges[0]
    matching = [c for c in charges if any(e.amount == reading.amount for e in expectations_for(c))]
    return matching[0] if reading.amount is not None and len(matching) == 1 else None


def _apply_confirmed(check, charge, reading, psp, installment_id) -> Payment | None:
    """The Pix the PSP confirmed, applied with the PSP's amount and time (what really arrived)."""
    _outcome, pix, known_id = psp
    amount = _psp_amount(pix)
    if charge is None or amount is None or amount <= 0:
        return None
    facts = PaymentFacts(
        amount=amount,
        paid_at=_psp_time(pix, reading.paid_at),
        source=Payment.Source.RECEIPT,
        e2eid=known_id,
        txid=str(pix.get("txid") or "")[:35],
        payer_name=reading.payer_name or "",
        raw={"receipt_check": check.pk, "pix": pix},
    )
    return apply_payment(charge_id=charge.pk, facts=facts, installment_id=installment_id).payment


# --- The operator's decision --------------------------------------------------------------------------------


def _already_decided(check: ReceiptCheck) -> ApplicationError:
    return ApplicationError("Este comprovante já foi decidido.", {"receipt_check": check.pk}, status_code=409)


def _decide(check: ReceiptCheck, *, status: str, by) -> ReceiptCheck:
    updated = ReceiptCheck.objects.filter(pk=check.pk, status__in=ReceiptCheck.DECIDABLE).update(
        status=status, decided_by=by, decided_at=timezone.now()
    )
    if not updated:
        raise _already_decided(check)
    PaymentIssue.objects.filter(key=f"receipt:{check.pk}", status=PaymentIssue.Status.OPEN).update(
        status=PaymentIssue.Status.RESOLVED if status == Status.CONFIRMED else PaymentIssue.Status.DISMISSED,
        resolved_by=by,
        resolved_at=timezone.now(),
    )
    check.refresh_from_db()
    return check


@transaction.atomic
def receipt_confirm(*, check: ReceiptCheck, by) -> ReceiptCheck:
    """The operator saw the money (or trusts the receipt): the amount read is applied to the charge as a
    payment from a receipt (`apply_payment`: the debtor is thanked by its signal). Raises ApplicationError
    without a charge or an amount, or when already decided."""
    if check.charge_id is None or check.amount is None or check.amount <= 0:
        raise ApplicationError("Sem cobrança ou valor lido: registre o pagamento pela cobrança.", {})
    charge = Charge.objects.select_for_update().get(pk=check.charge_id)
    if not ReceiptCheck.objects.filter(pk=check.pk, status__in=ReceiptCheck.DECIDABLE).exists():
        raise _already_decided(check)
    if charge.status in CLOSED or charge.balance <= 0:
        raise ApplicationError(
            "Esta cobrança já está paga ou cancelada, sem saldo a receber: o comprovante não pode ser "
            "confirmado (geraria um pagamento a mais). Rejeite-o ou registre o caso pela fila de pagamentos.",
            {"receipt_check": check.pk, "charge": charge.pk},
            status_code=409,
        )
    check = _decide(check, status=Status.CONFIRMED, by=by)
    facts = PaymentFacts(
        amount=check.amount,
        paid_at=check.paid_at or timezone.now(),
        source=Payment.Source.RECEIPT,
        e2eid=check.e2eid or None,
        reference=f"receipt:{check.pk}",
        payer_name=check.payer_name,
        raw={"receipt_check": check.pk},
        by=by,
    )
    outcome = apply_payment(charge_id=check.charge_id, facts=facts, installment_id=check.installment_id)
    if outcome.payment.charge_id != check.charge_id:  # the e2eid settled another charge since the check
        raise ApplicationError(
            "Este Pix já foi aplicado a outra cobrança: confira antes de confirmar.",
            {"receipt_check": check.pk, "payment": outcome.payment.pk},
            status_code=409,
        )
    ReceiptCheck.objects.filter(pk=check.pk).update(payment=outcome.payment)
    if outcome.charge.status == Charge.Status.PAID:
        receipts_settle_open(charge=outcome.charge, by=by)
    audit_record(action="receipt.confirm", actor=by, target=check.charge, details={"receipt_check": check.pk})
    check.refresh_from_db()
    return check


@transaction.atomic
def receipt_reject(*, check: ReceiptCheck, by) -> ReceiptCheck:
    """Not accepted: the charge goes back to open (reminders resume) when it was only claimed."""
    check = _decide(check, status=Status.REJECTED, by=by)
    charge = check.charge
    if charge is not None:
        billing_services.charge_resume_collection(charge=charge, by=by, reason="comprovante não confirmado")
    audit_record(
        action="receipt.reject", actor=by, target=charge or check, details={"receipt_check": check.pk}
    )
    return check


SETTLED_NOTE = (
    "Cobrança paga pela confirmação do operador: este comprovante foi encerrado sem gerar outro pagamento."
)


def receipts_settle_open(*, charge: Charge, by) -> int:
    """The operator's confirmation paid `charge`: its receipts still waiting for a decision (review/suspect)
    are closed as `settled` (a note among their checks) and their "Comprovante suspeito" queue items resolved
    with that note, so nobody confirms one later as a second payment. Returns how many were closed."""
    now = timezone.now()
    closed = 0
    for check in ReceiptCheck.objects.select_for_update().filter(
        charge=charge, status__in=ReceiptCheck.DECIDABLE
    ):
        note = {"code": "settled", "ok": None, "message": SETTLED_NOTE}
        closed += ReceiptCheck.objects.filter(pk=check.pk, status__in=ReceiptCheck.DECIDABLE).update(
            status=Status.SETTLED, decided_by=by, decided_at=now, checks=[*(check.checks or []), note]
        )
        PaymentIssue.objects.filter(key=f"receipt:{check.pk}", status=PaymentIssue.Status.OPEN).update(
            status=PaymentIssue.Status.RESOLVED, resolved_by=by, resolved_at=now, note=SETTLED_NOTE
        )
    return closed
