"""What time does to promises, agreements and payment claims (run by the "payments-lifecycle" schedule).

- A promise is kept when the payment arrives by the promised date (`apply.apply_payment`, `charge_mark_paid`);
  the day after the date without it, it is broken: the charge takes reminders again and the debtor gets the
  promise follow-up (chatbot.follow_ups).
- An agreement with two or more installments overdue by more than AGREEMENT_BREAK_DAYS is broken: its open
  installments are cancelled and the charge reopens for what is still owed (`Charge.balance`).
- A "já paguei" (`payment_claimed`) is confirmed when the payment arrives; after PAYMENT_CLAIM_DAYS without
  one it goes to the operator queue (PaymentIssue CLAIM_EXPIRED), once per claim.

Each step is a set-based, idempotent update: running it twice, or on two workers, changes nothing more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from loguru import logger

from billing import services
from billing.models import Agreement, Charge, Installment, PaymentIssue, PromiseToPay
from billing.payments.pix_removal import cobvs_remove
from cobranca.audit import audit_record

__all__ = [
    "LifecycleResult",
    "agreements_break_overdue",
    "claims_expire",
    "payments_lifecycle_run",
    "promises_mark_broken",
]


@dataclass
class LifecycleResult:
    promises_broken: int = 0
    agreements_broken: int = 0
    claims_expired: int = 0


def promises_mark_broken(*, today: dt.date | None = None) -> list[int]:
    """Pending promises whose date has passed: broken. A `promised` charge goes back to `open`, so the régua
    and campaigns remind it again. Returns the ids of the promises it broke."""
    today = today or timezone.localdate()
    broken: list[int] = []
    due = PromiseToPay.objects.filter(status=PromiseToPay.Status.PENDING, promised_date__lt=today)
    for promise_id in due.values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            promise = (
                PromiseToPay.objects.select_for_update()
                .select_related("charge")
                .filter(pk=promise_id, status=PromiseToPay.Status.PENDING)
                .first()
            )
            if promise is None:
                continue
            promise.status = PromiseToPay.Status.BROKEN
            promise.save(update_fields=["status"])
            charge = promise.charge
            if charge.status == Charge.Status.PROMISED:
                services.charge_set_status(
                    charge=charge, status=Charge.Status.OPEN, reason=f"promessa {promise.pk} não cumprida"
                )
            audit_record(action="promise.broken", target=promise, details={"charge": charge.pk})
            broken.append(promise.pk)
    return broken


def agreements_break_overdue(*, today: dt.date | None = None, days: int | None = None) -> list[int]:
    """Active agreements with ≥ 2 open installments overdue by more than `days` (AGREEMENT_BREAK_DAYS):
    broken, the rest of their installments cancelled, the charge reopened for its balance."""
    today = today or timezone.localdate()
    days = settings.AGREEMENT_BREAK_DAYS if days is None else days
    limit = today - dt.timedelta(days=days)
    late = Agreement.objects.filter(status=Agreement.Status.ACTIVE).annotate(
        late=Count(
            "schedule", filter=Q(schedule__status=Installment.Status.OPEN, schedule__due_date__lt=limit)
        )
    )
    broken: list[int] = []
    for agreement_id in late.filter(late__gte=2).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            agreement = (
                Agreement.objects.select_for_update()
                .select_related("charge")
                .filter(pk=agreement_id, status=Agreement.Status.ACTIVE)
                .first()
            )
            if agreement is None:
                continue
            agreement.status = Agreement.Status.BROKEN
            agreement.save(update_fields=["status"])
            agreement.schedule.filter(status=Installment.Status.OPEN).update(
                status=Installment.Status.CANCELLED
            )
            charge = agreement.charge
            if charge.status == Charge.Status.NEGOTIATING:
                services.charge_set_status(
                    charge=charge, status=Charge.Status.OPEN, reason=f"acordo {agreement.pk} quebrado"
                )
            audit_record(
                action="agreement.broken",
                target=agreement,
                details={"charge": charge.pk, "balance": str(charge.balance)},
            )
            broken.append(agreement.pk)
    return broken


def claims_expire(*, now: dt.datetime | None = None, days: int | None = None) -> list[int]:
    """Charges in `payment_claimed` for more than `days` (PAYMENT_CLAIM_DAYS) with no payment: one operator
    queue item per claim (keyed by the claim's time, so a later claim of the same charge gets its own)."""
    now = now or timezone.now()
    days = settings.PAYMENT_CLAIM_DAYS if days is None else days
    stale = Charge.objects.filter(
        status=Charge.Status.PAYMENT_CLAIMED, status_changed_at__lt=now - dt.timedelta(days=days)
    ).values_list("pk", "status_changed_at")
    created: list[int] = []
    for charge_id, claimed_at in stale.order_by("pk"):
        issue, made = PaymentIssue.objects.get_or_create(
            key=f"claim_expired:{charge_id}:{claimed_at:%Y%m%d%H%M%S}",
            defaults={
                "kind": PaymentIssue.Kind.CLAIM_EXPIRED,
                "charge_id": charge_id,
                "details": {"claimed_at": claimed_at.isoformat(), "days": days},
            },
        )
        if made:
            created.append(issue.pk)
    return created


def payments_lifecycle_run(*, now: dt.datetime | None = None) -> dict:
    """Every step above, in order (schedule "payments-lifecycle")."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = LifecycleResult(
        promises_broken=len(promises_mark_broken(today=today)),
        agreements_broken=len(agreements_break_overdue(today=today)),
        claims_expired=len(claims_expire(now=now)),
    )
    if any(asdict(result).values()):
        logger.info("payments.lifecycle {}", asdict(result))
    # Pix charges of settled charges, and superseded versions, the PSP could not be told about yet.
    cobvs = cobvs_remove()
    if any(cobvs.values()):
        logger.info("payments.lifecycle cobvs {}", cobvs)
    return asdict(result)
