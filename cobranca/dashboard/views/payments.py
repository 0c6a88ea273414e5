"""Pagamentos: the bank statement upload (/painel/pagamentos/extratos/) and the operator queue
(/painel/pagamentos/pendencias/).

An upload is stored first and reconciled by a worker (billing.payments.statement_jobs; the file is removed
when the job ends); the page of the job (/painel/pagamentos/extratos/<id>/) shows "processando" with the
lines done, polled, then the summary. The request body limit (MAX_UPLOAD_MB) applies as for every upload.
Queue actions are POSTs (CSRF) behind the operator role and `billing.change_paymentissue`, done by
billing.payments.queue, which audits them.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.models import Charge, Installment, PaymentIssue, StatementImport
from billing.payments import queue
from billing.payments.owed import with_owed
from billing.payments.statement_jobs import statement_job_create
from billing.payments.statements import StatementSummary
from cobranca.dashboard.payments import (
    PaymentIssueActionForm,
    StatementUploadForm,
    candidate_charge_ids,
    issue_rows,
    outcome_message,
)
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.roles import operator_required

PAGE_SIZE = 20
Status = StatementImport.Status
CHANGE_PERMISSION = "billing.change_paymentissue"


def _can_change(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied("Sem permissão para tratar pendências de pagamento.")
        return view(request, *args, **kwargs)

    return wrapped


@operator_required
@require_http_methods(["GET", "POST"])
def statement_upload(request: HttpRequest) -> HttpResponse:
    form = StatementUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = statement_job_create(
            path=_keep(form.cleaned_data["arquivo"]),
            filename=form.cleaned_data["arquivo"].name,
            dry_run=form.cleaned_data["simular"],
            by=request.user,
        )
        return redirect("dashboard:statement-job", pk=job.pk)
    return _statement_page(request, form, None)


@operator_required
@require_GET
def statement_job(request: HttpRequest, pk: int) -> HttpResponse:
    return _statement_page(request, StatementUploadForm(), get_object_or_404(StatementImport, pk=pk))


@operator_required
@require_GET
def statement_job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The result card alone, polled by htmx while the job runs."""
    job = get_object_or_404(StatementImport, pk=pk)
    return render(request, "dashboard/partials/statement_result.html", _job_context(job))


def _statement_page(request: HttpRequest, form, job: StatementImport | None) -> HttpResponse:
    context = {
        "nav": "pagamentos",
        "form": form,
        "open_issues": queue.payment_issues_open_count(),
        **_job_context(job),
    }
    failed = job is not None and job.status == StatementImport.Status.FAILED
    return render(request, "dashboard/statements.html", context, status=400 if failed else 200)


def _job_context(job: StatementImport | None) -> dict:
    summary = None
    if job is not None and job.status == StatementImport.Status.DONE and job.summary:
        amount = Decimal(job.summary["amount_matched"])
        summary = StatementSummary(**{**job.summary, "amount_matched": amount})
    running = job is not None and job.status in (Status.PENDING, Status.RUNNING)
    percent = round(100 * job.lines_done / job.lines_total) if job and job.lines_total else 0
    return {
        "job": job,
        "summary": summary,
        "error": job.error if job is not None and job.status == StatementImport.Status.FAILED else None,
        "running": running,
        "percent": percent,
    }


def _keep(upload) -> Path:
    folder = Path(settings.UPLOADS_DIR) / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{secrets.token_urlsafe(18)}.ofx"
    with target.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return target


@operator_required
@require_GET
def issue_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("tipo") or ""
    if kind not in PaymentIssue.Kind.values:
        kind = ""
    page = Paginator(queue.payment_issues_open(kind=kind), PAGE_SIZE).get_page(request.GET.get("pagina"))
    full = sees_full_contact(request.user)
    issues = list(page.object_list)
    charges = _charges(candidate_charge_ids(issues))
    context = {
        "nav": "pagamentos",
        "page": page,
        "rows": issue_rows(issues, full_contact=full, charges=charges),
        "kind": kind,
        "kinds": PaymentIssue.Kind.choices,
        "can_change": request.user.has_perm(CHANGE_PERMISSION),
        "full_contact": full,
    }
    return render(request, "dashboard/payment_issues.html", context)


@operator_required
@require_GET
def issue_count(request: HttpRequest) -> HttpResponse:
    """The nav's badge (loaded by htmx after each dashboard page): empty when nothing is open."""
    count = queue.payment_issues_open_count()
    return render(request, "dashboard/partials/payment_issue_count.html", {"count": count})


def _charges(ids) -> dict[int, Charge]:
    """The charges by id as they are now, with what they still owe. One query (none without ids)."""
    if not ids:
        return {}
    return {c.pk: c for c in with_owed(Charge.objects.filter(pk__in=ids).select_related("client"))}


def charge_installment(charge: Charge, installment_id: int | None) -> Installment | None:
    if installment_id is None:
        return None
    return Installment.objects.filter(pk=installment_id, agreement__charge=charge).first()


def _confirm(request: HttpRequest, pk: int, data: dict) -> HttpResponse:
    """The confirmation step of "aplicar": the issue's amount and the charge it would go to, by name."""
    issue = PaymentIssue.objects.filter(pk=pk, status=PaymentIssue.Status.OPEN).first()
    if issue is None:
        raise ApplicationError("Esta pendência já foi tratada.", {"issue": pk})
    charge = _charges([data["cobranca"]]).get(data["cobranca"])
    if charge is None:
        raise ApplicationError("Cobrança não encontrada.", {"charge": data["cobranca"]})
    installment = charge_installment(charge, data["parcela"])
    context = {
        "nav": "pagamentos",
        "issue": issue,
        "charge": charge,
        "installment": installment,
        "data": data,
        "kind": request.POST.get("tipo") or "",
    }
    return render(request, "dashboard/payment_issue_confirm.html", context)


def _apply(request: HttpRequest, pk: int, data: dict) -> None:
    outcome = queue.payment_issue_apply(
        issue_id=pk,
        charge_id=data["cobranca"],
        installment_id=data["parcela"],
        note=data["observacao"],
        by=request.user,
    )
    owed_after = _charges([outcome.charge.pk])[outcome.charge.pk].owed
    messages.success(request, f"Pendência #{pk}: {outcome_message(outcome, owed_after=owed_after)}.")


def _back(request: HttpRequest) -> HttpResponse:
    response = redirect("dashboard:payment-issues")
    kind = request.POST.get("tipo") or ""
    if kind in PaymentIssue.Kind.values:
        response["Location"] += f"?tipo={kind}"
    return response


@operator_required
@require_POST
@_can_change
def issue_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    form = PaymentIssueActionForm(request.POST)
    if action not in ("aplicar", "descartar", "resolver") or not form.is_valid():
        messages.error(request, "Pedido inválido: confira a cobrança e a observação.")
        return _back(request)
    data = form.cleaned_data
    try:
        if action == "aplicar":
            if not data["cobranca"]:
                raise ApplicationError("Informe o número da cobrança.", {})
            if not data["confirmar"]:
                return _confirm(request, pk, data)
            _apply(request, pk, data)
        elif action == "descartar":
            queue.payment_issue_dismiss(issue_id=pk, note=data["observacao"], by=request.user)
            messages.success(request, f"Pendência #{pk} descartada.")
        else:
            queue.payment_issue_resolve(issue_id=pk, note=data["observacao"], by=request.user)
            messages.success(request, f"Pendência #{pk} marcada como resolvida.")
    except ApplicationError as exc:
        show_error(request, exc)
    return _back(request)
