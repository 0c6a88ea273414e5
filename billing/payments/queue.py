"""The operator queue of payments (PaymentIssue): what the system could not apply on its own, and what an
operator does with it (docs/payments.md, "Fila de pendências").

Selectors: `payment_issues_open`, `payment_issues_open_count`. Services, each audited and safe against two
operators acting at once (the issue row is locked and must still be open):

- `payment_issue_apply`: a statement line (AMBIGUOUS / UNMATCHED) applied to the charge the operator picked,
  through `apply_payment` with the line's own facts and reference, so a later re-import of the statement
  finds it applied;
- `payment_issue_dismiss` (a note is required) and `payment_issue_resolve`.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Charge, Installment, PaymentIssue
from billing.payments.apply import ApplyOutcome, apply_payment
from billing.payments.statements import facts_from_json
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

__all__ = [
    "APPLICABLE_KINDS",
    "payment_issue_apply",
    "payment_issue_dismiss",
    "payment_issue_resolve",
    "payment_issues_open",
    "payment_issues_open_count",
]

APPLICABLE_KINDS = (PaymentIssue.Kind.AMBIGUOUS, PaymentIssue.Kind.UNMATCHED)
NOTE_MAX = 1000


def payment_issues_open(*, kind: str = "") -> QuerySet[PaymentIssue]:
    """Open issues, oldest first (the queue's order), with what their rows show."""
    issues = PaymentIssue.objects.filter(status=PaymentIssue.Status.OPEN)
    if kind:
        issues = issues.filter(kind=kind)
    return issues.select_related("charge__client", "payment").order_by("created_at", "pk")


def payment_issues_open_count() -> int:
    return PaymentIssue.objects.filter(status=PaymentIssue.Status.OPEN).count()


def _lock_open(issue_id: int) -> PaymentIssue:
    issue = PaymentIssue.objects.select_for_update().filter(pk=issue_id).first()
    if issue is None:
        raise ApplicationError("Pendência não encontrada.", {"issue": issue_id})
    if issue.status != PaymentIssue.Status.OPEN:
        raise ApplicationError(
            "Esta pendência já foi tratada.", {"issue": issue_id, "status": issue.get_status_display()}
        )
    return issue


def _close(issue: PaymentIssue, *, status: str, note: str, by) -> None:
    issue.status = status
    issue.note = note
    issue.resolved_by = by if getattr(by, "is_authenticated", False) else None
    issue.resolved_at = timezone.now()
    issue.save(update_fields=["status", "note", "resolved_by", "resolved_at", "charge", "payment"])


@transaction.atomic
def payment_issue_apply(
    *, issue_id: int, charge_id: int, installment_id: int | None = None, note: str = "", by
) -> ApplyOutcome:
    """Apply the statement line of an AMBIGUOUS/UNMATCHED issue to `charge_id` (and installment, when the
    operator picked a candidate installment) and resolve the issue."""
    issue = _lock_open(issue_id)
    facts_json = (issue.details or {}).get("facts")
    if issue.kind not in APPLICABLE_KINDS or not facts_json:
        raise ApplicationError("Esta pendência não tem um pagamento a aplicar.", {"kind": issue.kind})
    if not Charge.objects.filter(pk=charge_id).exists():
        raise ApplicationError("Cobrança não encontrada.", {"charge": charge_id})
    if (
        installment_id is not None
        and not Installment.objects.filter(pk=installment_id, agreement__charge_id=charge_id).exists()
    ):
        raise ApplicationError("Parcela não encontrada nesta cobrança.", {"installment": installment_id})
    outcome = apply_payment(
        charge_id=charge_id, facts=facts_from_json(facts_json, by=by), installment_id=installment_id
    )
    issue.charge_id = charge_id
    issue.payment = outcome.payment
    _close(issue, status=PaymentIssue.Status.RESOLVED, note=note[:NOTE_MAX], by=by)
    audit_record(
        action="payment_issue.apply",
        actor=by,
        target=issue,
        details={
            "kind": issue.kind,
            "charge": charge_id,
            "installment": installment_id,
            "payment": outcome.payment.pk,
            "outcome": outcome.status,
        },
    )
    return outcome


@transaction.atomic
def payment_issue_dismiss(*, issue_id: int, note: str, by) -> PaymentIssue:
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Escreva o motivo para descartar a pendência.", {"note": "required"})
    issue = _lock_open(issue_id)
    _close(issue, status=PaymentIssue.Status.DISMISSED, note=note[:NOTE_MAX], by=by)
    audit_record(action="payment_issue.dismiss", actor=by, target=issue, details={"kind": issue.kind})
    return issue


@transaction.atomic
def payment_issue_resolve(*, issue_id: int, note: str = "", by) -> PaymentIssue:
    issue = _lock_open(issue_id)
    _close(issue, status=PaymentIssue.Status.RESOLVED, note=(note or "").strip()[:NOTE_MAX], by=by)
    audit_record(action="payment_issue.resolve", actor=by, target=issue, details={"kind": issue.kind})
    return issue
