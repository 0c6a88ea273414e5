"""The payment pages' forms and what the operator queue shows per issue (details turned into rows, personal
data masked for readers without full contact). No queries: the view hands in the page's issues."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from billing.models import PaymentIssue
from billing.payments.apply import ApplyOutcome
from billing.payments.queue import APPLICABLE_KINDS
from cobranca.dashboard.formatting import brl
from cobranca.dashboard.forms import BootstrapMixin
from cobranca.masking import mask_document, mask_text

# What each kind asks of the operator, shown under its title.
HINTS = {
    PaymentIssue.Kind.OVERPAYMENT: "Entrou mais do que o devido: devolva ou combine o uso do excedente.",
    PaymentIssue.Kind.UNKNOWN_TXID: (
        "Pix recebido para um txid que não é de nenhuma cobrança: aplique-o à cobrança certa ou descarte."
    ),
    PaymentIssue.Kind.AMBIGUOUS: "Mais de uma cobrança combina com esta linha do extrato: escolha a certa.",
    PaymentIssue.Kind.UNMATCHED: "Nenhuma cobrança combina com esta linha: informe a cobrança ou descarte.",
    PaymentIssue.Kind.SUSPECT_RECEIPT: "O comprovante enviado não confere: verifique no banco.",
    PaymentIssue.Kind.CLAIM_EXPIRED: "O devedor disse que pagou e o pagamento não chegou no prazo.",
}


class StatementUploadForm(BootstrapMixin, forms.Form):
    # The request body limit (MAX_UPLOAD_MB) is enforced before the file is read, by
    # RequestBodyLimitMiddleware; the size check here covers a multi-file request under that limit.
    arquivo = forms.FileField(
        label="Extrato bancário (OFX)", widget=forms.ClearableFileInput(attrs={"accept": ".ofx"})
    )
    simular = forms.BooleanField(label="Só simular (não grava nada)", required=False)

    def clean_arquivo(self):
        upload = self.cleaned_data["arquivo"]
        if not upload.name.lower().endswith(".ofx"):
            raise forms.ValidationError("Envie o extrato no formato OFX (arquivo .ofx exportado pelo banco).")
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"Arquivo acima de {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
        return upload


class PaymentIssueActionForm(forms.Form):
    cobranca = forms.IntegerField(required=False, min_value=1)
    parcela = forms.IntegerField(required=False, min_value=1)
    observacao = forms.CharField(required=False, max_length=1000)
    # "aplicar" without it shows the confirmation step naming the charge (a typed number may be a typo).
    confirmar = forms.BooleanField(required=False)


def outcome_message(outcome: ApplyOutcome, *, owed_after: Decimal) -> str:
    """What applying a queued payment did, from `apply_payment`'s outcome: `owed_after` is what the charge
    still owes afterwards (billing.payments.owed)."""
    charge, amount = outcome.charge, brl(outcome.payment.amount) if outcome.payment else ""
    name = f"“{charge.title}” ({charge.client.name})"
    part = f"parcela {outcome.installment.number} de " if outcome.installment else ""
    left = f"; a cobrança ainda deve {brl(owed_after)}" if owed_after > 0 else "; a cobrança está quitada"
    if outcome.status == "paid":
        if charge.status == charge.Status.PAID:
            return f"pagamento de {amount} aplicado: {name} quitada"
        return f"pagamento de {amount} aplicado: {part}{name} paga{left}"
    if outcome.status == "partial":
        return f"pagamento parcial de {amount} aplicado a {part}{name}: falta {brl(outcome.balance)}{left}"
    if outcome.status == "overpaid":
        return (
            f"pagamento de {amount} aplicado: {name} paga, e o excedente de {brl(outcome.excess)} foi para a "
            "fila de pendências"
        )
    if outcome.status == "not_payable":
        return (
            f"{name} já estava {charge.get_status_display()}: os {amount} foram registrados e foram para a "
            "fila de pendências, nada foi abatido"
        )
    return "este pagamento já tinha sido aplicado: nada mudou"


@dataclass
class IssueRow:
    issue: PaymentIssue
    hint: str
    applicable: bool
    posted: dt.datetime | None = None
    payer: str = ""
    document: str = ""
    memo: str = ""
    file: str = ""
    line: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    candidates_total: int = 0
    suggestions: bool = False
    facts: list[tuple[str, str]] = field(default_factory=list)


def issue_rows(
    issues: list[PaymentIssue], *, full_contact: bool, charges: dict[int, Any] | None = None
) -> list[IssueRow]:
    """`charges`: the candidates' charges as they are now (with `owed`), so the confirmation names the
    charge's description and what it owes today."""
    rows = [_row(issue, full_contact) for issue in issues]
    for row in rows:
        for candidate in row.candidates:
            live = (charges or {}).get(candidate.get("charge"))
            candidate["title"] = live.title if live else ""
            candidate["owed"] = live.owed if live else candidate["balance"]
    return rows


def candidate_charge_ids(issues: list[PaymentIssue]) -> set[int]:
    return {
        c["charge"]
        for issue in issues
        for c in (issue.details or {}).get("candidates") or []
        if isinstance(c, dict) and isinstance(c.get("charge"), int)
    }


def _row(issue: PaymentIssue, full: bool) -> IssueRow:
    details = issue.details or {}
    row = IssueRow(issue=issue, hint=HINTS.get(issue.kind, ""), applicable=False)
    facts = details.get("facts")
    if details.get("source") == "statement" and isinstance(facts, dict):
        row.applicable = issue.kind in APPLICABLE_KINDS
        row.posted = _datetime(facts.get("paid_at"))
        row.payer = facts.get("payer_name") or facts.get("name") or ""
        document = facts.get("payer_document") or ""
        row.document = document if full else mask_document(document)
        memo = facts.get("memo") or ""
        row.memo = memo if full else mask_text(memo)
        row.file, row.line = details.get("file", ""), details.get("line")
        row.candidates = [_candidate(c) for c in details.get("candidates") or []]
        row.candidates_total = details.get("candidates_total", len(row.candidates))
        row.suggestions = bool(details.get("suggestions"))
        return row
    row.facts = [
        (_LABELS[k], brl(v) if k in _MONEY else _plain(v, full)) for k, v in details.items() if k in _LABELS
    ]
    # A Pix whose txid named no charge (not one applied elsewhere meanwhile): the operator may apply it to
    # the charge he finds, with the PSP's facts (`queue.payment_issue_apply`).
    row.applicable = (
        issue.kind == PaymentIssue.Kind.UNKNOWN_TXID
        and isinstance(details.get("pix"), dict)
        and "applied_to" not in details
    )
    return row


_LABELS = {
    "reason": "Motivo",
    "payment_amount": "Valor pago",
    "excess": "Excedente",
    "txid": "txid",
    "e2eid": "id fim a fim",
    "claimed_at": "Informado em",
    "days": "Dias sem pagamento",
    "amount": "Valor",
}


# Facts that are amounts ("890.50" in the details): shown as R$ 890,50 like every other figure.
_MONEY = {"payment_amount", "excess", "amount"}


def _candidate(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out["balance"] = _decimal(data.get("balance"))
    out["due_date"] = _date(data.get("due_date"))
    return out


def _plain(value: Any, full: bool) -> str:
    text = str(value)
    parsed = _datetime(text) if isinstance(value, str) and "T" in text else None
    if parsed is not None:
        return timezone.localtime(parsed).strftime("%d/%m/%Y %H:%M") if parsed.tzinfo else text
    return text if full else mask_text(text)


def _datetime(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
