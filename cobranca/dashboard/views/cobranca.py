"""Cobrança (/painel/cobranca/): campaigns and imports, and the import in two steps (dry run, confirm)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from billing.importing import import_file, rejected_path
from billing.importing.samples import sample_csv, sample_xlsx
from billing.models import ImportBatch
from cobranca.dashboard import forms, selectors
from cobranca.dashboard.views.common import is_htmx, show_error
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required

UPLOAD_SESSION_KEY = "dashboard_uploads"


def _uploads_dir() -> Path:
    path = Path(settings.UPLOADS_DIR) / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stash_upload(request: HttpRequest, upload) -> str:
    """Keep the uploaded file on disk between the dry run and the confirmation; the session maps a random
    token to it, so a user can only confirm a file they uploaded themselves."""
    token = secrets.token_urlsafe(24)
    suffix = Path(upload.name).suffix.lower()[:8]
    target = _uploads_dir() / f"{token}{suffix}"
    with target.open("wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    stash = request.session.get(UPLOAD_SESSION_KEY, {})
    # Keep only the latest few stashes per session; older files are removed.
    for old in list(stash)[:-4]:
        Path(stash.pop(old)["path"]).unlink(missing_ok=True)
    stash[token] = {"path": str(target), "filename": upload.name[:255]}
    request.session[UPLOAD_SESSION_KEY] = stash
    return token


def _page_context(**extra) -> dict[str, Any]:
    # Every name the template tests is defined: a missing one makes Django's template debug log repr() the
    # context, which runs the querysets below again (16 queries instead of 7 when that log is on).
    return {
        "report": None,
        "error": "",
        "confirm_form": None,
        "mapping_form": None,
        "nav": "cobranca",
        "upload_form": forms.UploadForm(),
        "imports": selectors.recent_imports(),
        "active_campaigns": selectors.active_campaigns(),
        "finished_campaigns": selectors.finished_campaigns(),
        **extra,
    }


@operator_required
@require_GET
def cobranca(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/cobranca.html", _page_context())


@operator_required
@require_POST
def import_dry_run(request: HttpRequest) -> HttpResponse:
    """Validate the whole file without writing anything and show the report; importing is a second step.

    The dry run counts the rows as if the operator skipped the invalid ones (skip_invalid=True, rolled back):
    the report's "Válidas" and the button's "Importar N linha(s)" are then the rows the confirmation with
    "Importar só as linhas válidas" writes, rejections found while writing included. Unknown columns come
    with a select each (pre-selected from the mapping remembered for these headers)."""
    form = forms.UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_report(request, {"upload_form": form})
    token = _stash_upload(request, form.cleaned_data["arquivo"])
    return _render_report(request, {"upload_form": form, **_dry_run(request, token)})


@operator_required
@require_POST
def import_remap(request: HttpRequest) -> HttpResponse:
    """Validate the stashed file again with the operator's choice for each unknown column; the choice goes
    with the confirmation (and is remembered for the next file with the same headers once imported)."""
    form = forms.ColumnMappingForm(request.POST)
    stash = request.session.get(UPLOAD_SESSION_KEY, {})
    token = request.POST.get("token", "")
    if not form.is_valid() or token not in stash:
        messages.error(request, "Envie o arquivo novamente: a validação expirou.")
        return redirect("dashboard:cobranca")
    stash[token]["column_map"] = form.mapping()
    request.session[UPLOAD_SESSION_KEY] = stash
    return _render_report(request, {"upload_form": forms.UploadForm(), **_dry_run(request, token)})


def _dry_run(request: HttpRequest, token: str) -> dict[str, Any]:
    entry = request.session[UPLOAD_SESSION_KEY][token]
    report, error, columns = None, "", {}
    try:
        report = import_file(
            path_or_file=entry["path"],
            filename=entry["filename"],
            dry_run=True,
            skip_invalid=True,
            by=request.user,
            column_map=entry.get("column_map"),
        )
        columns = report.columns
    except ApplicationError as exc:
        error = exc.message
        columns = exc.extra.get("columns") or {}
    unknown = columns.get("unknown") or []
    mapping_form = forms.ColumnMappingForm(initial={"token": token}, columns=unknown) if unknown else None
    return {
        "report": report,
        "error": error,
        "confirm_form": forms.ImportConfirmForm(initial={"token": token}) if report else None,
        "mapping_form": mapping_form,
        "mapping_remembered": columns.get("remembered", False) and entry.get("column_map") is None,
    }


def _render_report(request: HttpRequest, ctx: dict[str, Any]) -> HttpResponse:
    if is_htmx(request):
        return render(request, "dashboard/partials/import_report.html", ctx)
    return render(request, "dashboard/cobranca.html", _page_context(**ctx))


@operator_required
@require_GET
def import_sample(request: HttpRequest, fmt: str) -> HttpResponse:
    """The sample spreadsheet (accepted headers and three example rows) as CSV or XLSX."""
    if fmt not in ("csv", "xlsx"):
        raise Http404
    if fmt == "csv":
        return HttpResponse(
            sample_csv(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="modelo-devedores.csv"'},
        )
    return HttpResponse(
        sample_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="modelo-devedores.xlsx"'},
    )


@operator_required
@require_POST
def import_confirm(request: HttpRequest) -> HttpResponse:
    form = forms.ImportConfirmForm(request.POST)
    stash = request.session.get(UPLOAD_SESSION_KEY, {})
    if not form.is_valid() or form.cleaned_data["token"] not in stash:
        messages.error(request, "Envie o arquivo novamente: a validação expirou.")
        return redirect("dashboard:cobranca")
    entry = stash[form.cleaned_data["token"]]
    try:
        report = import_file(
            path_or_file=entry["path"],
            filename=entry["filename"],
            dry_run=False,
            skip_invalid=form.cleaned_data["ignorar_invalidas"],
            by=request.user,
            column_map=entry.get("column_map"),
        )
    except ApplicationError as exc:
        show_error(request, exc)
        return redirect("dashboard:cobranca")
    if report.success:
        stash.pop(form.cleaned_data["token"], None)
        request.session[UPLOAD_SESSION_KEY] = stash
        Path(entry["path"]).unlink(missing_ok=True)
        text = (
            f"Importação concluída: {report.imported} linha(s) importada(s), "
            f"{report.created_clients} cliente(s) novo(s), {report.created_charges} cobrança(s) nova(s), "
            f"{report.updated_charges} atualizada(s)."
        )
        if report.existing_clients:
            text += f" {report.existing_clients} linha(s) vinculada(s) a cliente(s) já cadastrado(s)."
        if report.rejected and report.batch_id and rejected_path(report.batch_id).is_file():
            url = reverse("dashboard:import-rejected", args=[report.batch_id])
            messages.success(
                request,
                format_html(
                    '{} {} linha(s) rejeitada(s): <a href="{}" class="alert-link" id="rejected-csv-link" '
                    "download>baixar as linhas rejeitadas (CSV)</a> para corrigir e importar de novo.",
                    text,
                    report.rejected,
                    url,
                ),
            )
        else:
            messages.success(request, text)
        return redirect("dashboard:cobranca")
    ctx = {
        "report": report,
        "confirm_form": forms.ImportConfirmForm(initial={"token": form.cleaned_data["token"]}),
    }
    return render(request, "dashboard/cobranca.html", _page_context(**ctx))


@operator_required
@require_GET
def import_rejected_csv(request: HttpRequest, pk: int) -> FileResponse:
    """The rejected rows of an import (CSV, ';', UTF-8 with BOM) for an operator's session; the same file the
    API serves at /api/billing/import/<id>/rejected.csv."""
    batch = get_object_or_404(ImportBatch, pk=pk)
    path = rejected_path(batch.pk)
    if not path.is_file():
        raise Http404("Esta importação não tem linhas rejeitadas.")
    return FileResponse(
        open(path, "rb"),  # FileResponse closes it
        as_attachment=True,
        filename=f"rejeitadas-{batch.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
