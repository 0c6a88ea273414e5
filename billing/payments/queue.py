"""The operator queue of payments (PaymentIssue): what the system could not apply on its own, and what an
operator does with it (docs/payments.md, "Fila de pendências").

Selectors: `payment_issues_open`, `payment_issues_open_count`. Services, each audited and safe against two
operators acting at once (the issue row is locked and must still be open):

- `payment_issue_apply`: a statement line (AMBIGUOUS / UNMATCHED) applied to the charge the operator picked,
  through `apply_payment` with the line's own facts and reference, so a later re-import of the statement
  finds it applied; likewise a Pix whose txid named no charge (UNKNOWN_TXID), with the PSP's facts and its
  e2eid (one payment per Pix);
- `payment_issue_dismiss` (a note is required) and `payment_issue_resolve`;
- `payment_issues_resolve_for` (receiver of `payment_applied`): the open issues about a Pix (its e2eid) are
  resolved, with the reason in their note, once that Pix is applied as a payment (e.g. through a receipt), and
  `payment_issue_apply` refuses a line whose e2eid is already applied.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import Charge, Installment, Payment, PaymentIssue
from billing.payments.apply import ApplyOutcome, PaymentFacts, apply_payment
from billing.payments.pix_notifications import pix_payment_facts
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
    facts = _issue_facts(issue, by=by)
    if not Charge.objects.filter(pk=charge_id).exists():
        raise ApplicationError("Cobrança não encontrada.", {"charge": charge_id})
    _refuse_applied_e2eid({"e2eid": facts.e2eid} if facts.e2eid else (issue.details or {}).get("facts"))
    if (
        installment_id is not None
        and not Installment.objects.filter(pk=installment_id, agreement__charge_id=charge_id).exists()
    ):
        raise ApplicationError("Parcela não encontrada nesta cobrança.", {"installment": installment_id})
    outcome = apply_payment(charge_id=charge_id, facts=facts, installment_id=installment_id)
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


def _issue_facts(issue: PaymentIssue, *, by) -> PaymentFacts:
    """The payment an applicable issue holds: a statement line's facts, or the PSP's own record of a Pix
    whose txid named no charge (UNKNOWN_TXID, never one that was applied elsewhere meanwhile)."""
    details = issue.details or {}
    if issue.kind in APPLICABLE_KINDS and details.get("facts"):
        return facts_from_json(details["facts"], by=by)
    pix = details.get("pix")
    if issue.kind == PaymentIssue.Kind.UNKNOWN_TXID and isinstance(pix, dict) and "applied_to" not in details:
        e2eid = str(details.get("e2eid") or pix.get("endToEndId") or "")
        try:
            return pix_payment_facts(pix, e2eid=e2eid, by=by)
        except ValueError:
            pass
    raise ApplicationError("Esta pendência não tem um pagamento a aplicar.", {"kind": issue.kind})


# A Pix end-to-end id (E + ISPB + yyyyMMddHHmm + 11 alphanumerics), as banks write it in a statement's memo.
E2EID = re.compile(r"\bE\d{20}[A-Za-z0-9]{11}\b")


def line_e2eids(facts_json: dict) -> list[str]:
    """The e2eids a queued statement line names: its own field, or in its memo or name."""
    found = [facts_json["e2eid"]] if isinstance(facts_json.get("e2eid"), str) else []
    for key in ("memo", "name", "payer_name"):
        found += E2EID.findall(str(facts_json.get(key) or ""))
    return found


def _refuse_applied_e2eid(facts_json: dict) -> None:
    e2eids = line_e2eids(facts_json or {})
    applied = Payment.objects.filter(e2eid__in=e2eids).first() if e2eids else None
    if applied is not None:
        e2eid = applied.e2eid
        raise ApplicationError(
            f"Este Pix ({e2eid}) já foi aplicado à cobrança nº {applied.charge_id} "
            f"(pagamento #{applied.pk}): aplicar de novo contaria o mesmo dinheiro duas vezes. "
            "Marque a pendência como resolvida.",
            {"e2eid": e2eid, "payment": applied.pk},
        )


def payment_issues_resolve_for(*, payment: Payment, **_ignored) -> int:
    """Resolve the open issues about the Pix `payment` carries (its e2eid): it is applied now. An issue that
    records a conflict with this very payment (`applied_to`: the Pix reached another charge) stays open."""
    if not payment.e2eid:
        return 0
    about = Q(key=f"unknown_txid:{payment.e2eid}") | Q(details__e2eid=payment.e2eid)
    issues = list(
        PaymentIssue.objects.filter(about, status=PaymentIssue.Status.OPEN).exclude(
            details__has_key="applied_to"
        )
    )
    note = (
        f"Resolvida automaticamente: o Pix {payment.e2eid} foi aplicado à cobrança nº {payment.charge_id} "
        f"(pagamento #{payment.pk}, origem {payment.get_source_display()})."
    )
    for issue in issues:
        with transaction.atomic():
            locked = PaymentIssue.objects.select_for_update().filter(
                pk=issue.pk, status=PaymentIssue.Status.OPEN
            )
            if not locked.update(
                status=PaymentIssue.Status.RESOLVED,
                note=note,
                payment=payment,
                charge_id=issue.charge_id or payment.charge_id,
                resolved_at=timezone.now(),
            ):
                continue
            audit_record(
                action="payment_issue.auto_resolve",
                actor=None,
                target=issue,
                details={"kind": issue.kind, "payment": payment.pk},
            )
    return len(issues)


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
