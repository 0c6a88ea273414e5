"""Billing writes: charge status changes, promises to pay, agreements, suppressions, WhatsApp number checks.

Callers: the chatbot policy (through chatbot.services), operators (admin/dashboard) and the API.
Every function is keyword-only, raises ApplicationError for a request the rules refuse, and never talks to
the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from loguru import logger

from billing import suppression
from billing.models import (
    Agreement,
    Charge,
    ChargeStatusChange,
    Client,
    Installment,
    NegotiationPolicy,
    PromiseToPay,
)
from billing.money import agreement_terms
from billing.payments.pix_removal import cobvs_retire_on_commit
from billing.payments.schedule import plan_installments
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

Status = Charge.Status
CENT = Decimal("0.01")

# Which status a charge may move to from each status. Paid/cancelled are final for the bot; an operator (`by`)
# may reopen them to fix a mistake (a reversed payment, a charge cancelled by accident).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset(
        {
            Status.PROMISED,
            Status.NEGOTIATING,
            Status.PAYMENT_CLAIMED,
            Status.DISPUTED,
            Status.PAID,
            Status.CANCELLED,
        }
    ),
    Status.PROMISED: frozenset(
        {
            Status.OPEN,
            Status.NEGOTIATING,
            Status.PAYMENT_CLAIMED,
            Status.DISPUTED,
            Status.PAID,
            Status.CANCELLED,
        }
    ),
    Status.NEGOTIATING: frozenset(
        {Status.OPEN, Status.PROMISED, Status.PAYMENT_CLAIMED, Status.DISPUTED, Status.PAID, Status.CANCELLED}
    ),
    # Back to promised/negotiating when only part of the money arrived (`charge_resume_collection`).
    Status.PAYMENT_CLAIMED: frozenset(
        {Status.OPEN, Status.PROMISED, Status.NEGOTIATING, Status.DISPUTED, Status.PAID, Status.CANCELLED}
    ),
    Status.DISPUTED: frozenset({Status.OPEN, Status.PAYMENT_CLAIMED, Status.PAID, Status.CANCELLED}),
    Status.PAID: frozenset(),
    Status.CANCELLED: frozenset(),
}
OPERATOR_REOPEN = frozenset({Status.OPEN})

# States in which the debtor can still promise, negotiate or claim a payment.
ACTIONABLE_STATUSES = (Status.OPEN, Status.PROMISED, Status.NEGOTIATING)

# Follow-ups go out the morning after the promised date, a decent hour in the debtor's day.
FOLLOW_UP_HOUR = 10


# --- charges ------------------------------------------------------------------------------------------------


def _check_transition(charge: Charge, status: Status, by) -> None:
    allowed = ALLOWED_TRANSITIONS[Status(charge.status)]
    if status not in allowed and not (by is not None and status in OPERATOR_REOPEN):
        raise ApplicationError(
            "Mudança de situação não permitida.",
            {"charge": charge.pk, "from": charge.status, "to": str(status)},
        )


def charge_set_status(
    *, charge: Charge, status: str, by=None, reason: str = "", save_also: tuple[str, ...] = ()
) -> Charge:
    """Move a charge to `status` if the transition is allowed. Same status: nothing changes (idempotent).

    The one place a charge's status changes: each change is kept as a `ChargeStatusChange` (the history the
    debtor page shows), in the same transaction as the change. `save_also`: other fields the caller changed
    on `charge` in memory, saved in the same UPDATE (apply_payment's `amount_paid`)."""
    status = Status(status)
    if charge.status == status:
        return charge
    _check_transition(charge, status, by)
    # Checked before the transaction, so a refused change leaves a caller's transaction usable; inside it
    # no savepoint: a failed write must fail the caller's transaction anyway (one statement pair saved per
    # status change, which a statement import makes thousands of).
    with transaction.atomic(savepoint=False):
        _write_status(charge, status, by, reason, save_also)
    return charge


def _write_status(charge: Charge, status: Status, by, reason: str, save_also: tuple[str, ...]) -> None:
    previous = charge.status
    now = timezone.now()
    charge.status = status
    charge.status_changed_at = now
    fields = ["status", "status_changed_at", "updated_at", *save_also]
    if status == Status.PAID:
        charge.paid_at = charge.paid_at or now
        fields.append("paid_at")
    elif previous == Status.PAID:
        charge.paid_at = None
        fields.append("paid_at")
    charge.save(update_fields=list(dict.fromkeys(fields)))
    ChargeStatusChange.objects.create(
        charge=charge,
        from_status=previous,
        to_status=status,
        reason=reason[:200],
        changed_by=by if getattr(by, "is_authenticated", False) else None,
        created_at=now,
    )
    logger.info(
        "charge.status charge={} from={} to={} by={} reason={}",
        charge.pk,
        previous,
        status,
        getattr(by, "pk", None),
        reason,
    )


def charge_mark_paid(
    *,
    charge: Charge,
    by=None,
    paid_at: dt.datetime | None = None,
    ip: str | None = None,
    save_also: tuple[str, ...] = (),
    has_agreements: bool | None = None,
) -> Charge:
    """Paid: pending promises are kept and active agreements fulfilled, so nothing follows up on them.

    The one way to mark a charge paid (API, admin, dashboard). Idempotent: a charge already paid is returned
    unchanged, so a retried request does not fail or audit twice. Audited with the amount (financial, not
    personal data) and the caller's `ip`. `save_also` as for `charge_set_status`; `has_agreements`: whether
    the charge has any agreement, when the caller already knows (else one EXISTS finds out): without one
    the agreement and installment UPDATEs are skipped.
    """
    if charge.status == Status.PAID:
        return charge
    _check_transition(charge, Status.PAID, by)
    with transaction.atomic(savepoint=False):
        # The payment's time goes in the status change's own UPDATE (it was a second UPDATE of the row).
        charge.paid_at = paid_at or charge.paid_at
        charge_set_status(
            charge=charge, status=Status.PAID, by=by, reason="pagamento confirmado", save_also=save_also
        )
        charge.promises.filter(status=PromiseToPay.Status.PENDING).update(status=PromiseToPay.Status.KEPT)
        if has_agreements is None:
            has_agreements = charge.agreements.exists()
        if has_agreements:
            charge.agreements.filter(status=Agreement.Status.ACTIVE).update(status=Agreement.Status.KEPT)
            # Marked paid as a whole (an operator, a payment of the balance): no installment is owed any more.
            Installment.objects.filter(agreement__charge=charge, status=Installment.Status.OPEN).update(
                status=Installment.Status.CANCELLED
            )
        cobvs_retire_on_commit(charge)  # its Pix codes at the PSP must not take a second payment
        audit_record(
            action="charge.mark_paid",
            actor=by,
            target=charge,
            details={"amount": str(Decimal(charge.amount))},
            ip=ip,
        )
    return charge


def charge_resume_collection(*, charge: Charge, by=None, reason: str = "") -> Charge:
    """A charge whose payment was claimed (`payment_claimed`: reminders stopped) but is still owed (a part
    arrived, or the receipt was rejected): back to its plan, so reminders resume. Under an active agreement
    `negotiating`, with a pending promise `promised`, else `open`. Any other status is left as it is."""
    if charge.status != Status.PAYMENT_CLAIMED:
        return charge
    if charge.agreements.filter(status=Agreement.Status.ACTIVE).exists():
        status = Status.NEGOTIATING
    elif charge.promises.filter(status=PromiseToPay.Status.PENDING).exists():
        status = Status.PROMISED
    else:
        status = Status.OPEN
    return charge_set_status(charge=charge, status=status, by=by, reason=reason or "ainda há valor em aberto")


def charge_cancel(*, charge: Charge, by=None, reason: str = "", ip: str | None = None) -> Charge:
    """Cancel a charge (created by mistake, written off): pending promises and active agreements on it are
    cancelled too, so nothing follows up on them. The one way to cancel (admin, dashboard). Idempotent: a
    charge already cancelled is returned unchanged. A paid charge raises (reopen it first). Audited."""
    if charge.status == Status.CANCELLED:
        return charge
    with transaction.atomic():
        charge_set_status(charge=charge, status=Status.CANCELLED, by=by, reason=reason or "cancelada")
        charge.promises.filter(status=PromiseToPay.Status.PENDING).update(
            status=PromiseToPay.Status.CANCELLED
        )
        charge.agreements.filter(status=Agreement.Status.ACTIVE).update(status=Agreement.Status.CANCELLED)
        cobvs_retire_on_commit(charge)
        audit_record(
            action="charge.cancel",
            actor=by,
            target=charge,
            details={"amount": str(Decimal(charge.amount)), "reason": reason[:200]},
            ip=ip,
        )
    return charge


def charge_claim_payment(*, charge: Charge, source_message=None) -> Charge:
    """The debtor says it is paid: reminders stop (the dispatch engine skips payment_claimed) until
    reconciled.

    Claiming again is a no-op. A paid/cancelled charge raises (nothing to claim).
    """
    if charge.status == Status.PAYMENT_CLAIMED:
        return charge
    return charge_set_status(
        charge=charge,
        status=Status.PAYMENT_CLAIMED,
        reason=f"pagamento informado (mensagem {getattr(source_message, 'pk', source_message)})",
    )


def charge_dispute(*, charge: Charge, by=None, reason: str = "") -> Charge:
    """The debtor contests the charge: reminders stop until an operator resolves it
    (CDC art. 42 par. único)."""
    return charge_set_status(charge=charge, status=Status.DISPUTED, by=by, reason=reason or "contestação")


# --- promises -----------------------------------------------------------------------------------------------


def promise_follow_up_at(promised_date: dt.date) -> dt.datetime:
    """The day after the promised date at 10:00 local time; Sundays move to Monday (no collection contact)."""
    day = promised_date + dt.timedelta(days=1)
    if day.weekday() == 6:
        day += dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(FOLLOW_UP_HOUR)))


@transaction.atomic
def promise_create(
    *, charge: Charge, promised_date: dt.date, amount: Decimal | None = None, source_message=None
) -> PromiseToPay:
    """Record a promise to pay and schedule its follow-up (`follow_up_at`, sent by
    chatbot.tasks.send_due_follow_ups).

    A newer promise supersedes the pending ones of the same charge (their follow-ups are cancelled with them).
    The charge becomes `promised` unless it is under an agreement (then the agreement stays the plan).
    """
    today = timezone.localdate()
    if charge.status not in ACTIONABLE_STATUSES:
        raise ApplicationError("Esta cobrança não aceita promessa de pagamento.", {"status": charge.status})
    if promised_date < today:
        raise ApplicationError("A data prometida já passou.", {"promised_date": promised_date.isoformat()})
    if amount is not None:
        amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount <= 0 or amount > charge.amount:
            raise ApplicationError(
                "Valor prometido inválido.", {"amount": str(amount), "charge": str(charge.amount)}
            )
    charge.promises.filter(status=PromiseToPay.Status.PENDING).update(status=PromiseToPay.Status.CANCELLED)
    promise = PromiseToPay.objects.create(
        charge=charge,
        promised_date=promised_date,
        amount=amount,
        follow_up_at=promise_follow_up_at(promised_date),
        source_message_id=getattr(source_message, "pk", source_message),
    )
    if charge.status == Status.OPEN:
        charge_set_status(charge=charge, status=Status.PROMISED, reason=f"promessa {promise.pk}")
    return promise


# --- agreements ---------------------------------------------------------------------------------------------


def negotiation_policy_current() -> NegotiationPolicy:
    """The newest policy row; without any, an unsaved row with the model defaults (6x, R$ 50, 10%)."""
    return NegotiationPolicy.objects.order_by("-updated_at", "-pk").first() or NegotiationPolicy()


def negotiation_max_installments(*, amount: Decimal, policy: NegotiationPolicy) -> int:
    """How many installments this amount allows: the policy cap, and no installment below the minimum."""
    by_minimum = (
        int(Decimal(amount) // policy.min_installment_amount) if policy.min_installment_amount > 0 else 99
    )
    return max(1, min(policy.max_installments, by_minimum))


@transaction.atomic
def agreement_create(
    *,
    charge: Charge,
    installments: int,
    discount_percent: Decimal = Decimal("0"),
    first_due_date: dt.date,
    policy: NegotiationPolicy | None = None,
) -> Agreement:
    """Record an installment plan (or a discounted single payment) within the policy in force.

    The amounts are computed here from the charge, never taken from the caller. A discount is only for a
    single payment. Earlier active agreements and pending promises of the charge are superseded; the charge →
    negotiating.
    """
    policy = policy or negotiation_policy_current()
    discount_percent = Decimal(discount_percent)
    if charge.status not in ACTIONABLE_STATUSES:
        raise ApplicationError("Esta cobrança não aceita acordo.", {"status": charge.status})
    allowed = negotiation_max_installments(amount=charge.amount, policy=policy)
    if installments > allowed:
        raise ApplicationError(
            "Parcelamento acima do permitido.", {"installments": installments, "max_installments": allowed}
        )
    if discount_percent < 0 or discount_percent > policy.max_discount_percent:
        raise ApplicationError(
            "Desconto acima do permitido.",
            {
                "discount_percent": str(discount_percent),
                "max_discount_percent": str(policy.max_discount_percent),
            },
        )
    if discount_percent and installments != 1:
        raise ApplicationError("Desconto só para pagamento à vista.", {"installments": installments})
    if first_due_date < timezone.localdate():
        raise ApplicationError(
            "O primeiro vencimento já passou.", {"first_due_date": first_due_date.isoformat()}
        )
    terms = agreement_terms(
        amount=charge.amount, installments=installments, discount_percent=discount_percent
    )
    Installment.objects.filter(
        agreement__charge=charge, agreement__status=Agreement.Status.ACTIVE, status=Installment.Status.OPEN
    ).update(status=Installment.Status.CANCELLED)
    charge.agreements.filter(status=Agreement.Status.ACTIVE).update(status=Agreement.Status.CANCELLED)
    charge.promises.filter(status=PromiseToPay.Status.PENDING).update(status=PromiseToPay.Status.CANCELLED)
    agreement = Agreement.objects.create(
        charge=charge,
        installments=installments,
        installment_amount=terms.installment_amount,
        total_amount=terms.total,
        discount_percent=discount_percent,
        first_due_date=first_due_date,
    )
    _agreement_schedule(agreement)
    charge_set_status(charge=charge, status=Status.NEGOTIATING, reason=f"acordo {agreement.pk}")
    return agreement


def _agreement_schedule(agreement: Agreement) -> None:
    """One Installment row per installment of the terms, a month apart, summing exactly to the total."""
    Installment.objects.bulk_create(
        Installment(agreement=agreement, number=p.number, due_date=p.due_date, amount=p.amount)
        for p in plan_installments(
            amount=agreement.charge.amount,
            installments=agreement.installments,
            first_due_date=agreement.first_due_date,
            discount_percent=agreement.discount_percent,
        )
    )


# --- suppressions -------------------------------------------------------------------------------------------


def client_opt_out(*, client: Client, by=None, ip: str | None = None) -> Client:
    """Suppress the client from every future message, and put the number on the suppression list so the
    opt-out also holds for any later record of it. Idempotent: the first opt-out time is kept. An operator's
    opt-out (`by`, admin or dashboard) is audited once, when it takes effect."""
    with transaction.atomic():
        updated = Client.objects.filter(pk=client.pk, opted_out_at__isnull=True).update(
            opted_out_at=timezone.now(), updated_at=timezone.now()
        )
        suppression.suppress_client(client=client, reason=suppression.Reason.OPT_OUT, by=by)
        if updated and getattr(by, "is_authenticated", False):
            audit_record(action="client.opt_out", actor=by, target=client, ip=ip)
    client.refresh_from_db(fields=["opted_out_at"])
    if updated:
        logger.info("client.opt_out client={}", client.pk)
    return client


def client_mark_wrong_number(*, client: Client) -> Client:
    """The number does not belong to the client: campaigns skip it and the bot discloses nothing to it."""
    updated = Client.objects.filter(pk=client.pk, wrong_number=False).update(
        wrong_number=True, updated_at=timezone.now()
    )
    client.refresh_from_db(fields=["wrong_number"])
    if updated:
        logger.info("client.wrong_number client={}", client.pk)
    return client


# --- WhatsApp number checks ---------------------------------------------------------------------------------


def clients_record_whatsapp_check(*, chat_ids: Mapping[int, str | None]) -> None:
    """Store what WAHA's check-exists said for each client (pk → chat id, or None: the number has no
    WhatsApp), in at most two UPDATEs. The chat id found is the one campaigns and replies use from then on."""
    now = timezone.now()
    found = {pk: chat for pk, chat in chat_ids.items() if chat}
    absent = [pk for pk, chat in chat_ids.items() if not chat]
    if found:
        Client.objects.filter(pk__in=list(found)).update(
            chat_id=Case(*[When(pk=pk, then=Value(chat)) for pk, chat in found.items()]),
            whatsapp_checked_at=now,
            updated_at=now,
        )
    if absent:
        Client.objects.filter(pk__in=absent).update(
            not_on_whatsapp=True, whatsapp_checked_at=now, updated_at=now
        )
