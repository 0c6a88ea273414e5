"""Pix the PSP told us about: stored raw at intake, confirmed at the PSP by a worker, then applied.

Never trust the webhook's body: `pix_notification_confirm` asks the PSP (`GET /pix/{e2eid}`) and uses only
its answer (amount, time, txid, payer). Then:

- a Pix whose txid is one of our cobvs is applied through `apply_payment` (idempotent by e2eid, so the
  webhook and the catch-up, or a task delivered twice, apply it once);
- a Pix whose txid is the static BR Code txid of exactly one payable charge (its reference through
  chatbot.pix.pix_txid: a charge without CPF/CNPJ gets the static code) is applied to that charge;
- a Pix with an unknown txid (or none) goes to the operator queue (PaymentIssue UNKNOWN_TXID), where an
  operator may apply it to a charge (`queue.payment_issue_apply`);
- a Pix the PSP does not know (404) was forged: the notification is REJECTED and nothing changes;
- a transient PSP failure (timeout, 5xx, an expired token the client could not renew...) leaves the
  notification PENDING with `attempts`, `last_error` and a backed-off `next_attempt_at`; the sweep
  (`pix_notifications_sweep`, every minute) hands it to a worker again. Nothing is lost.

Crash safety: the payment and the notification's new status are written in one transaction. A worker killed
between the PSP's answer and that commit leaves the notification PENDING; the sweep re-enqueues it after
`STALE_MINUTES` and the rerun applies it (or finds it applied) and marks it.

The catch-up (`pix_catch_up`, every PIX_CATCH_UP_MINUTES) lists what the PSP received since the last seen
time (`GET /pix?inicio&fim`) and feeds each Pix through the same path (the PSP's list is its own answer, so no
second GET is needed).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from loguru import logger

from billing.models import Payment, PaymentIssue, PixCatchUp, PixCobv, PixNotification
from billing.payments.apply import PaymentFacts, apply_payment
from billing.payments.pix_charges import charge_for_static_txid
from billing.pix_api import PixApiError, PixNotFound, get_pix_client

__all__ = [
    "CONFIRM_TASK",
    "E2EID_RE",
    "StoreResult",
    "pix_catch_up",
    "pix_notification_confirm",
    "pix_notifications_confirm",
    "pix_notifications_store",
    "pix_notifications_sweep",
    "pix_payment_facts",
]

CONFIRM_TASK = "billing.tasks.pix_confirm_task"
E2EID_RE = re.compile(r"^[a-zA-Z0-9]{32}$")
TXID_RE = re.compile(r"^[a-zA-Z0-9]{1,35}$")
AMOUNT_RE = re.compile(r"^\d{1,10}\.\d{2}$")
# A notification still PENDING this long after it was handed to a worker is handed out again by the sweep
# (its worker died, or the task was lost). Well above the task's normal run time.
STALE_MINUTES = 2
# Backoff after the n-th transient failure: 30 s, 1, 2, 4 … minutes, at most 30 minutes. Never given up:
# the money arrived, so the notification waits for the PSP (or an operator) however long it takes.
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 30 * 60
# The catch-up looks this far back on its first run, and overlaps each window by this much (a Pix recorded
# at the PSP with a time slightly before the previous `fim`).
CATCH_UP_FIRST_WINDOW = dt.timedelta(days=1)
CATCH_UP_OVERLAP = dt.timedelta(minutes=5)
ERROR_MAX = 255


@dataclass
class StoreResult:
    accepted: list[int] = field(default_factory=list)  # new notification ids
    duplicates: int = 0
    ignored: int = 0


def backoff_seconds(attempts: int) -> int:
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _valid_e2eid(item: Any) -> str | None:
    e2eid = item.get("endToEndId") if isinstance(item, dict) else None
    return e2eid if isinstance(e2eid, str) and E2EID_RE.match(e2eid) else None


def _insert(item: dict, e2eid: str, origin: str, now: dt.datetime) -> PixNotification:
    txid = item.get("txid")
    return PixNotification.objects.create(
        e2eid=e2eid,
        txid=txid if isinstance(txid, str) and TXID_RE.match(txid) else "",
        notified_amount=_text(item.get("valor"), 20),
        raw=item,
        origin=origin,
        next_attempt_at=now + dt.timedelta(minutes=STALE_MINUTES),
    )


def pix_notifications_store(
    *, items: list[Any], origin: str = "webhook", now: dt.datetime | None = None, savepoints: bool = True
) -> StoreResult:
    """Store each Pix of a notification once (unique e2eid: a replay or a second delivery is a duplicate and
    changes nothing). An item without a valid endToEndId is ignored. Runs in the caller's transaction; the
    caller enqueues `CONFIRM_TASK` with `accepted`.

    `savepoints=False` (one valid item, the webhook's fast path): no savepoint around the INSERT, so a
    duplicate raises IntegrityError out of the caller's transaction, which the caller answers as a duplicate
    (two statements fewer per request)."""
    now = now or timezone.now()
    result = StoreResult()
    for item in items:
        e2eid = _valid_e2eid(item)
        if e2eid is None:
            result.ignored += 1
            continue
        if not savepoints:
            result.accepted.append(_insert(item, e2eid, origin, now).pk)
            continue
        try:
            with transaction.atomic():
                row = _insert(item, e2eid, origin, now)
        except IntegrityError:
            if not PixNotification.objects.filter(e2eid=e2eid).exists():
                raise
            result.duplicates += 1
            continue
        result.accepted.append(row.pk)
    return result


# --- confirmation -------------------------------------------------------------------------------------------


class _BadAnswer(ValueError):
    """The PSP's answer lacks what the spec promises: permanent for this Pix (an operator looks)."""


def _parse_time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise _BadAnswer("horario ausente")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _BadAnswer("horario inválido") from None
    if timezone.is_naive(parsed):
        raise _BadAnswer("horario sem fuso")
    return parsed


def _net_amount(pix: dict) -> Decimal:
    """The Pix's value less what was already returned to the payer (devoluções DEVOLVIDO)."""
    raw = pix.get("valor")
    if not isinstance(raw, str) or not AMOUNT_RE.match(raw):
        raise _BadAnswer("valor inválido")
    amount = Decimal(raw)
    for refund in pix.get("devolucoes") or []:
        if isinstance(refund, dict) and refund.get("status") == "DEVOLVIDO":
            try:
                amount -= Decimal(str(refund.get("valor") or "0"))
            except InvalidOperation:
                raise _BadAnswer("valor de devolução inválido") from None
    return amount


def _payer(pix: dict) -> tuple[str, str]:
    """Payer name and CPF/CNPJ when the PSP adds them (`pagador`, an extension many PSPs have)."""
    payer = pix.get("pagador") if isinstance(pix.get("pagador"), dict) else {}
    document = payer.get("cpf") or payer.get("cnpj") or ""
    return _text(payer.get("nome"), 200), _text(document, 18)


def _finish(notification_id: int, *, status: str, error: str = "", payment: Payment | None = None) -> bool:
    """Mark a PENDING notification done; False when another run already did."""
    return bool(
        PixNotification.objects.filter(pk=notification_id, status=PixNotification.Status.PENDING).update(
            status=status,
            last_error=error[:ERROR_MAX],
            payment=payment,
            processed_at=timezone.now(),
            next_attempt_at=None,
        )
    )


def _unknown_txid(notification: PixNotification, pix: dict, amount: Decimal, txid: str) -> str:
    applied = Payment.objects.filter(e2eid=notification.e2eid).first()
    if applied is not None:  # applied before (a receipt naming this e2eid): nothing for an operator to do
        _finish(notification.pk, status=PixNotification.Status.CONFIRMED, payment=applied)
        logger.info("pix.unknown_txid_already_applied e2eid={} payment={}", notification.e2eid, applied.pk)
        return "already_applied"
    with transaction.atomic():
        PaymentIssue.objects.get_or_create(
            key=f"unknown_txid:{notification.e2eid}",
            defaults={
                "kind": PaymentIssue.Kind.UNKNOWN_TXID,
                "amount": amount if amount > 0 else None,
                "details": {"e2eid": notification.e2eid, "txid": txid, "pix": pix},
            },
        )
        _finish(notification.pk, status=PixNotification.Status.CONFIRMED, error="txid desconhecido")
    logger.warning("pix.unknown_txid e2eid={} txid={}", notification.e2eid, txid or "-")
    return "unknown_txid"


def _apply_confirmed(notification: PixNotification, pix: dict) -> str:
    """The PSP confirmed this Pix: apply it to its cobv's charge (or queue it), and mark the notification."""
    if pix.get("endToEndId") != notification.e2eid:
        raise _BadAnswer("a resposta do PSP é de outro Pix")
    amount = _net_amount(pix)
    _parse_time(pix.get("horario"))  # an answer without a valid time is refused before anything is decided
    txid = pix.get("txid") if isinstance(pix.get("txid"), str) else ""
    cobv = PixCobv.objects.filter(txid=txid).first() if txid else None
    if cobv is not None:
        charge_id, installment_id = cobv.charge_id, cobv.installment_id
    elif (static := charge_for_static_txid(txid)) is not None:
        # Paid with the static BR Code of a charge (one without CPF/CNPJ gets it): its txid is the charge's
        # reference, which names exactly one payable charge. Under an agreement apply_payment picks the
        # earliest open installment.
        charge_id, installment_id = static.pk, None
    else:
        return _unknown_txid(notification, pix, amount, txid)
    if amount <= 0:
        _finish(notification.pk, status=PixNotification.Status.CONFIRMED, error="Pix devolvido ao pagador")
        return "refunded"
    facts = pix_payment_facts(pix, e2eid=notification.e2eid)
    with transaction.atomic():
        outcome = apply_payment(charge_id=charge_id, facts=facts, installment_id=installment_id)
        if outcome.payment.charge_id != charge_id:
            return _applied_elsewhere(notification, pix, amount, txid, outcome.payment)
        _finish(notification.pk, status=PixNotification.Status.CONFIRMED, payment=outcome.payment)
    return outcome.status


def pix_payment_facts(pix: dict, *, e2eid: str, by=None) -> PaymentFacts:
    """The payment a Pix confirmed by the PSP makes (its own answer: net amount, time, txid, payer). Raises
    ValueError when the answer lacks them. Also used by an operator applying a queued Pix to a charge."""
    name, document = _payer(pix)
    txid = pix.get("txid") if isinstance(pix.get("txid"), str) else ""
    return PaymentFacts(
        amount=_net_amount(pix),
        paid_at=_parse_time(pix.get("horario")),
        source=Payment.Source.PIX_API,
        e2eid=e2eid,
        txid=txid[:35],
        payer_name=name,
        payer_document=document,
        raw=pix,
        by=by,
    )


def _applied_elsewhere(notification, pix: dict, amount: Decimal, txid: str, payment: Payment) -> str:
    """This e2eid was already applied to another charge (an operator confirmed a receipt naming it):
    Payment.e2eid is unique, so the one payment stays and the conflict goes to the operator queue."""
    PaymentIssue.objects.get_or_create(
        key=f"unknown_txid:{notification.e2eid}",
        defaults={
            "kind": PaymentIssue.Kind.UNKNOWN_TXID,
            "amount": amount if amount > 0 else None,
            "charge_id": payment.charge_id,
            "details": {"e2eid": notification.e2eid, "txid": txid, "pix": pix, "applied_to": payment.pk},
        },
    )
    _finish(
        notification.pk, status=PixNotification.Status.CONFIRMED, error="Pix já aplicado a outra cobrança"
    )
    logger.bind(security=True).warning(
        "security.pix_applied_elsewhere e2eid={} payment={}", notification.e2eid, payment.pk
    )
    return "applied_elsewhere"


def _transient(notification: PixNotification, exc: PixApiError) -> str:
    attempts = notification.attempts + 1
    PixNotification.objects.filter(pk=notification.pk, status=PixNotification.Status.PENDING).update(
        attempts=attempts,
        last_error=str(exc)[:ERROR_MAX],
        next_attempt_at=timezone.now() + dt.timedelta(seconds=backoff_seconds(attempts)),
    )
    logger.warning(
        "pix.confirm_retry e2eid={} attempts={} reason={}", notification.e2eid, attempts, exc.reason
    )
    return "retry"


def pix_notification_confirm(*, notification_id: int, psp_pix: dict | None = None) -> str:
    """Confirm one notification at the PSP and apply it (see the module docstring). Safe to run twice and
    concurrently. `psp_pix`: the PSP's own record of the Pix when the caller already has it (the catch-up).

    Returns what happened: an apply outcome ("paid", "partial", "overpaid", "not_payable",
    "already_applied"), "unknown_txid", "refunded", "forged", "invalid", "retry" or "done" (nothing to do)."""
    notification = PixNotification.objects.filter(pk=notification_id).first()
    if notification is None or notification.status != PixNotification.Status.PENDING:
        return "done"
    try:
        pix = psp_pix if psp_pix is not None else get_pix_client().get_pix(notification.e2eid)
        return _apply_confirmed(notification, pix)
    except PixNotFound:
        _finish(notification.pk, status=PixNotification.Status.REJECTED, error="Pix inexistente no PSP")
        logger.bind(security=True).warning("security.pix_forged e2eid={}", notification.e2eid)
        return "forged"
    except PixApiError as exc:
        # Permanent errors other than 404 (401/403: credentials or scope) are the PSP setup's fault, not
        # this Pix's: retried like transient ones until the setup is fixed.
        return _transient(notification, exc)
    except _BadAnswer as exc:
        _finish(notification.pk, status=PixNotification.Status.FAILED, error=f"resposta do PSP: {exc}")
        logger.error("pix.confirm_bad_answer e2eid={} error={}", notification.e2eid, exc)
        return "invalid"


def pix_notifications_confirm(*, notification_ids: list[int]) -> dict[str, int]:
    """Confirm several notifications (one task per webhook request); each one on its own."""
    counts: dict[str, int] = {}
    for notification_id in notification_ids:
        outcome = pix_notification_confirm(notification_id=notification_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def pix_notifications_sweep(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Every minute: hand PENDING notifications whose `next_attempt_at` passed to a worker again (a crashed
    or lost task, a backed-off retry). Each is pushed `STALE_MINUTES` ahead so one sweep enqueues it once."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    due = list(
        PixNotification.objects.filter(status=PixNotification.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    PixNotification.objects.filter(pk__in=due, status=PixNotification.Status.PENDING).update(
        next_attempt_at=now + dt.timedelta(minutes=STALE_MINUTES)
    )
    async_task(CONFIRM_TASK, due)
    logger.info("pix.sweep requeued={}", len(due))
    return len(due)


# --- catch-up -----------------------------------------------------------------------------------------------


def _catch_up_one(item: dict, now: dt.datetime) -> str:
    with transaction.atomic():
        stored = pix_notifications_store(items=[item], origin="catch_up", now=now)
    if stored.ignored:
        return "ignored"
    e2eid = item["endToEndId"]
    notification = PixNotification.objects.filter(e2eid=e2eid).only("pk", "status").first()
    if notification is None or notification.status != PixNotification.Status.PENDING:
        return "known"
    return pix_notification_confirm(notification_id=notification.pk, psp_pix=item)


def pix_catch_up(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """List what the PSP received since the last seen time and apply what the webhook missed.

    The window's end is remembered only after every Pix in it was handled: a PSP failure midway leaves
    `last_seen` where it was and the next run lists the window again (each Pix is deduplicated by e2eid)."""
    if settings.PIX_PROVIDER != "api_pix":
        return {"skipped": "PIX_PROVIDER is not api_pix"}
    # The client sends whole seconds (RFC 3339): the window ends, and is remembered, at the second.
    now = (now or timezone.now()).replace(microsecond=0)
    state, _ = PixCatchUp.objects.get_or_create(
        key=settings.PIX_KEY[:100], defaults={"last_seen": now - CATCH_UP_FIRST_WINDOW}
    )
    inicio = state.last_seen - CATCH_UP_OVERLAP
    counts: dict[str, int] = {}
    try:
        for item in get_pix_client().list_pix(inicio, now):
            outcome = _catch_up_one(item, now)
            counts[outcome] = counts.get(outcome, 0) + 1
    except PixApiError as exc:
        PixCatchUp.objects.filter(pk=state.pk).update(last_run_at=now, last_error=str(exc)[:ERROR_MAX])
        logger.warning("pix.catch_up_failed reason={} handled={}", exc.reason, counts)
        return {"error": exc.reason, **counts}
    found = sum(counts.values())
    PixCatchUp.objects.filter(pk=state.pk).update(
        last_seen=now, last_run_at=now, last_found=found, last_error=""
    )
    if counts.get("paid") or counts.get("partial") or counts.get("overpaid") or counts.get("unknown_txid"):
        logger.info("pix.catch_up repaired={}", counts)
    return {"found": found, **counts}
