"""Campaign pages under /painel/cobranca/: new (validate first, then create a draft), the live preview,
detail with its polled progress, the lifecycle buttons, resending an unknown dispatch, and the CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.compliance import template_compliance_warnings
from billing.dispatch import selectors as dispatch_selectors
from billing.dispatch import services as dispatch_services
from billing.dispatch.export import campaign_export_response
from billing.dispatch.window import off_hours_warning
from billing.models import Campaign, Charge, Client, Dispatch, ImportBatch, MessageTemplate
from billing.segments import campaign_audience
from billing.templating import template_preview
from cobranca import clock
from cobranca.dashboard import forms, selectors
from cobranca.dashboard.formatting import whatsapp_html
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required

# Button (URL slug) → billing.dispatch.services function, looked up at call time.
CAMPAIGN_ACTIONS = {
    "iniciar": "campaign_start",
    "pausar": "campaign_pause",
    "retomar": "campaign_resume",
    "cancelar": "campaign_cancel",
}
ACTION_DONE = {"iniciar": "iniciada", "pausar": "pausada", "retomar": "retomada", "cancelar": "cancelada"}


def _validation(form: forms.CampaignForm) -> dict[str, Any]:
    """The "validate first" dry run (billing.dispatch.selectors.campaign_validate), shaped for the page."""
    kwargs = form.service_kwargs()
    result = dispatch_selectors.campaign_validate(
        template=kwargs["template"],
        import_batch=kwargs["import_batch"],
        segment=kwargs["segment"],
        send_window=kwargs["send_window"],
    )
    delay = kwargs["delay_seconds"]
    numbers = result.numbers
    recipients = max(0, numbers.get("total", 0) - numbers.get("suppressed", 0) - numbers.get("closed", 0))
    return {
        "numbers": result.numbers,
        # Messages per hour at the chosen pace and the campaign's sending time (inside the window).
        "per_hour": int(3600 // float(delay)) if delay else None,
        "eta_seconds": int(recipients * float(delay)) if delay else None,
        "recipients": recipients,
        "problems": result.problems,
        "warnings": result.warnings,
        "sample": result.sample,
        "preview": whatsapp_html(result.preview.text) if result.preview.text else "",
        "ok": result.ok,
    }


@operator_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    if (batch_id := request.GET.get("importacao", "")).isdigit():
        # The "Campanha" link of an import preselects it.
        initial["importacao"] = ImportBatch.objects.filter(pk=int(batch_id)).first()
    form = forms.CampaignForm(request.POST or None, initial=initial)
    validation = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("acao", "validar") == "criar":
            try:
                campaign = dispatch_services.campaign_create(**form.service_kwargs(), by=request.user)
            except ApplicationError as exc:
                show_error(request, exc)
            else:
                messages.success(
                    request, f"Campanha “{campaign.name}” criada como rascunho. Revise e inicie."
                )
                return redirect("dashboard:campaign-detail", pk=campaign.pk)
        else:
            validation = _validation(form)
    return render(
        request, "dashboard/campaign_new.html", {"form": form, "validation": validation, "nav": "cobranca"}
    )


@operator_required
@require_POST
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the chosen template rendered for a chosen client, else for a charge of the chosen audience (the
    form's import and filters, posted with the template), else for the first open charge."""
    template = MessageTemplate.objects.filter(pk=request.POST.get("modelo") or 0).first()
    if template is None:
        return render(request, "dashboard/partials/preview.html", {"error": "Escolha um modelo de mensagem."})
    client_id = request.POST.get("cliente_previa") or ""
    client = Client.objects.filter(pk=int(client_id)).first() if client_id.isdigit() else None
    charge = None
    if client is None:
        audience = forms.SegmentForm(request.POST)
        if audience.is_valid() and (audience.cleaned_data.get("importacao") or audience.segment()):
            batch = audience.cleaned_data.get("importacao")
            batch_id = batch.pk if batch else None
            charge = dispatch_selectors.audience_sample(
                campaign_audience(import_batch_id=batch_id, segment=audience.segment() or None)
            )
        else:
            charge = (
                Charge.objects.select_related("client")
                .filter(status=Charge.Status.OPEN)
                .order_by("pk")
                .first()
            )
    preview = template_preview(body=template.body, client=client, charge=charge)
    return render(
        request,
        "dashboard/partials/preview.html",
        {
            "preview": whatsapp_html(preview.text) if preview.text else "",
            "error": " ".join(preview.errors),
            "charge": preview.charge,
        },
    )


def _progress(campaign: Campaign) -> dict[str, Any]:
    """billing.dispatch.selectors.campaign_progress, shaped for the template."""
    data = dispatch_selectors.campaign_progress(campaign=campaign)
    counts = data.get("counts") or {}
    percent = data.get("progress_percent") or 0
    return {
        "total": data.get("total", 0),
        "done": data.get("processed", 0),
        # Floor, so the bar shows 100 % only when nothing is left; an empty audience (a draft) is 0 %.
        "percent": (
            0 if not data.get("total") else 100 if not data.get("remaining") else min(int(percent), 99)
        ),
        "rate": data.get("rate_per_minute"),
        "eta_seconds": data.get("eta_seconds"),
        # Waiting for the window, the end is a date ("07/12/2026 08:01"), not a duration from now.
        "eta_at": dt.datetime.fromisoformat(data["eta_at"])
        if data.get("waiting_for_window") and data.get("eta_at")
        else None,
        "waiting": data.get("waiting_for_window", False),
        "state": data.get("state_display") or campaign.get_status_display(),
        "opens_display": data.get("state_display", "").removeprefix("aguardando janela de envio: "),
        "rows": [(s.value, s.label, counts.get(s.value, 0)) for s in Dispatch.Status],
    }


def _campaign_context(campaign: Campaign) -> dict[str, Any]:
    ctx = {"campaign": campaign, "progress": _progress(campaign), "finished": campaign.is_finished}
    if campaign.status == Campaign.Status.DRAFT:
        # Nothing is dispatched yet: the page shows whom it will reach instead of "0 de 0" and an ETA.
        ctx["audience"] = campaign_audience(
            import_batch_id=campaign.import_batch_id, segment=campaign.segment or None
        ).count()
    return ctx


@operator_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "import_batch", "created_by"), pk=pk
    )
    warnings: list[str] = []
    off_hours = ""
    if campaign.status == Campaign.Status.DRAFT:
        warnings = template_compliance_warnings(campaign.template.body)
        off_hours = off_hours_warning(campaign.send_window, clock.now())
    ctx = _campaign_context(campaign) | {
        "off_hours_warning": off_hours,
        "nav": "cobranca",
        "problems": selectors.campaign_problem_dispatches(campaign),
        "compliance_warnings": warnings,
        "start_form": forms.CampaignStartForm(),
    }
    return render(request, "dashboard/campaign_detail.html", ctx)


@operator_required
@require_GET
@never_cache
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polling target (every 2 s while the campaign is not finished)."""
    campaign = get_object_or_404(Campaign.objects.select_related("template"), pk=pk)
    ctx = _campaign_context(campaign) | {"oob": True}
    if campaign.status == Campaign.Status.DRAFT:
        ctx |= {
            "compliance_warnings": template_compliance_warnings(campaign.template.body),
            "off_hours_warning": off_hours_warning(campaign.send_window, clock.now()),
            "start_form": forms.CampaignStartForm(),
        }
    return render(request, "dashboard/partials/campaign_progress.html", ctx)


@operator_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if action not in CAMPAIGN_ACTIONS:
        raise PermissionDenied("Ação desconhecida.")
    kwargs: dict[str, Any] = {"campaign": campaign, "by": request.user}
    if action == "iniciar":
        form = forms.CampaignStartForm(request.POST)
        form.is_valid()
        kwargs["confirm_compliance"] = bool(form.cleaned_data.get("confirmar_conformidade"))
        kwargs["confirm_off_hours"] = bool(form.cleaned_data.get("confirmar_fora_do_horario"))
    try:
        getattr(dispatch_services, CAMPAIGN_ACTIONS[action])(**kwargs)
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"Campanha {ACTION_DONE[action]}.")
    return redirect("dashboard:campaign-detail", pk=pk)


@operator_required
@require_POST
def dispatch_resend(request: HttpRequest, pk: int) -> HttpResponse:
    dispatch = get_object_or_404(Dispatch, pk=pk)
    try:
        dispatch_services.dispatch_resend_unknown(dispatch=dispatch, by=request.user)
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, "Envio recolocado na fila.")
    return redirect("dashboard:campaign-detail", pk=dispatch.campaign_id)


@operator_required
@require_GET
def campaign_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The campaign's dispatches as CSV (billing.dispatch.export: the same file as the admin's export)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    return campaign_export_response([campaign], filename=f"campanha-{campaign.pk}.csv")
