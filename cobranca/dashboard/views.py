"""Operators' dashboard pages. Thin: parse the input with a form, call one service or selector, render.

Other apps' modules are imported inside the views that use them so a page keeps working while a sibling
package is being changed, and so importing this module never loads the chatbot or the dispatch engine.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.models import Campaign, Charge, Client, Dispatch, MessageTemplate
from cobranca.dashboard import forms, selectors
from cobranca.dashboard.formatting import INTENT_LABELS, whatsapp_html
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required
from conversations.models import Conversation, Message

UPLOAD_SESSION_KEY = "dashboard_uploads"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, exc.message)
    for key in ("errors", "warnings"):
        for item in exc.extra.get(key) or []:
            messages.warning(request, str(item))


# --- Painel


@operator_required
@require_GET
def painel(request: HttpRequest) -> HttpResponse:
    form = forms.PeriodForm(request.GET or None)
    period = selectors.DateRange.last_days(30)
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("inicio") or period.start
        end = form.cleaned_data.get("fim") or period.end
        period = selectors.DateRange(start=start, end=end)
    elif not form.is_bound:
        form = forms.PeriodForm(initial={"inicio": period.start, "fim": period.end})
    numbers = selectors.overview(period)
    charts = selectors.painel_charts(period, numbers["funnel"])
    return render(
        request,
        "dashboard/painel.html",
        {"form": form, "period": period, "n": numbers, "charts": charts, "nav": "painel"},
    )


# --- Cobrança: import


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


def _cobranca_context(**extra) -> dict[str, Any]:
    return {
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
    return render(request, "dashboard/cobranca.html", _cobranca_context())


@operator_required
@require_POST
def import_dry_run(request: HttpRequest) -> HttpResponse:
    """Validate the whole file without writing anything and show the report; importing is a second step."""
    from billing.importing import import_file

    form = forms.UploadForm(request.POST, request.FILES)
    report = token = None
    error = ""
    if form.is_valid():
        upload = form.cleaned_data["arquivo"]
        token = _stash_upload(request, upload)
        entry = request.session[UPLOAD_SESSION_KEY][token]
        try:
            report = import_file(
                path_or_file=entry["path"], filename=entry["filename"], dry_run=True, by=request.user
            )
        except ApplicationError as exc:
            error = exc.message
    ctx = {
        "upload_form": form,
        "report": report,
        "error": error,
        "confirm_form": forms.ImportConfirmForm(initial={"token": token}) if report else None,
    }
    if _is_htmx(request):
        return render(request, "dashboard/partials/import_report.html", ctx)
    return render(request, "dashboard/cobranca.html", _cobranca_context(**ctx))


@operator_required
@require_POST
def import_confirm(request: HttpRequest) -> HttpResponse:
    from billing.importing import import_file

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
        )
    except ApplicationError as exc:
        _error(request, exc)
        return redirect("dashboard:cobranca")
    if report.success:
        stash.pop(form.cleaned_data["token"], None)
        request.session[UPLOAD_SESSION_KEY] = stash
        Path(entry["path"]).unlink(missing_ok=True)
        messages.success(
            request,
            f"Importação concluída: {report.imported} linha(s) importada(s), "
            f"{report.created_clients} cliente(s) novo(s), {report.created_charges} cobrança(s) nova(s), "
            f"{report.updated_charges} atualizada(s).",
        )
        return redirect("dashboard:cobranca")
    ctx = {
        "report": report,
        "confirm_form": forms.ImportConfirmForm(initial={"token": form.cleaned_data["token"]}),
    }
    return render(request, "dashboard/cobranca.html", _cobranca_context(**ctx))


# --- Cobrança: campaigns


def _template_checks(body: str) -> tuple[list[str], list[str]]:
    from billing.compliance import template_compliance_warnings
    from billing.templating import template_validate

    return list(template_validate(body)), list(template_compliance_warnings(body))


@operator_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = forms.CampaignForm(request.POST or None)
    validation = None
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("acao", "validar")
        if action == "criar":
            from billing.dispatch.services import campaign_create

            try:
                campaign = campaign_create(**form.service_kwargs(), by=request.user)
            except ApplicationError as exc:
                _error(request, exc)
            else:
                messages.success(
                    request, f"Campanha “{campaign.name}” criada como rascunho. Revise e inicie."
                )
                return redirect("dashboard:campaign-detail", pk=campaign.pk)
        else:
            validation = _validate_campaign(form)
    return render(
        request, "dashboard/campaign_new.html", {"form": form, "validation": validation, "nav": "cobranca"}
    )


def _validate_campaign(form: forms.CampaignForm) -> dict[str, Any]:
    """The "validate first" dry run (billing.dispatch.selectors.campaign_validate), shaped for the page."""
    from billing.dispatch.selectors import campaign_validate

    kwargs = form.service_kwargs()
    result = campaign_validate(
        template=kwargs["template"],
        import_batch=kwargs["import_batch"],
        segment=kwargs["segment"],
        send_window=kwargs["send_window"],
    )
    return {
        "numbers": result.numbers,
        "problems": result.problems,
        "warnings": result.warnings,
        "sample": result.sample,
        "preview": whatsapp_html(result.preview.text) if result.preview.text else "",
        "ok": result.ok,
    }


@operator_required
@require_POST
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the chosen template rendered for a chosen client, or for the first open charge."""
    from billing.templating import template_preview

    template = MessageTemplate.objects.filter(pk=request.POST.get("modelo") or 0).first()
    if template is None:
        return render(request, "dashboard/partials/preview.html", {"error": "Escolha um modelo de mensagem."})
    client_id = request.POST.get("cliente_previa") or ""
    client = Client.objects.filter(pk=int(client_id)).first() if client_id.isdigit() else None
    charge = None
    if client is None:
        charge = (
            Charge.objects.select_related("client").filter(status=Charge.Status.OPEN).order_by("pk").first()
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
    from billing.dispatch.selectors import campaign_progress

    data = campaign_progress(campaign=campaign)
    counts = data.get("counts") or {}
    percent = data.get("progress_percent") or 0
    return {
        "total": data.get("total", 0),
        "done": data.get("processed", 0),
        # Floor, so the bar shows 100 % only when nothing is left.
        "percent": 100 if data.get("total") and not data.get("remaining") else min(int(percent), 99),
        "rate": data.get("rate_per_minute"),
        "eta_seconds": data.get("eta_seconds"),
        "rows": [(s.value, s.label, counts.get(s.value, 0)) for s in Dispatch.Status],
    }


def _campaign_context(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "progress": _progress(campaign),
        "finished": campaign.is_finished,
    }


@operator_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("template", "import_batch", "created_by"), pk=pk
    )
    warnings: list[str] = []
    if campaign.status == Campaign.Status.DRAFT:
        _, warnings = _template_checks(campaign.template.body)
    ctx = _campaign_context(campaign) | {
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
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(request, "dashboard/partials/campaign_progress.html", _campaign_context(campaign))


CAMPAIGN_ACTIONS = {
    "iniciar": "campaign_start",
    "pausar": "campaign_pause",
    "retomar": "campaign_resume",
    "cancelar": "campaign_cancel",
}
ACTION_DONE = {"iniciar": "iniciada", "pausar": "pausada", "retomar": "retomada", "cancelar": "cancelada"}


@operator_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    from billing.dispatch import services as dispatch_services

    campaign = get_object_or_404(Campaign, pk=pk)
    if action not in CAMPAIGN_ACTIONS:
        raise PermissionDenied("Ação desconhecida.")
    kwargs: dict[str, Any] = {"campaign": campaign, "by": request.user}
    if action == "iniciar":
        form = forms.CampaignStartForm(request.POST)
        form.is_valid()
        kwargs["confirm_compliance"] = bool(form.cleaned_data.get("confirmar_conformidade"))
    try:
        getattr(dispatch_services, CAMPAIGN_ACTIONS[action])(**kwargs)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Campanha {ACTION_DONE[action]}.")
    return redirect("dashboard:campaign-detail", pk=pk)


@operator_required
@require_POST
def dispatch_resend(request: HttpRequest, pk: int) -> HttpResponse:
    from billing.dispatch.services import dispatch_resend_unknown

    dispatch = get_object_or_404(Dispatch, pk=pk)
    try:
        dispatch_resend_unknown(dispatch=dispatch, by=request.user)
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(request, "Envio recolocado na fila.")
    return redirect("dashboard:campaign-detail", pk=dispatch.campaign_id)


@operator_required
@require_GET
def campaign_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The campaign's dispatches as CSV (billing.dispatch.export: the same file as the admin's export)."""
    from billing.dispatch.export import campaign_export_response

    campaign = get_object_or_404(Campaign, pk=pk)
    return campaign_export_response([campaign], filename=f"campanha-{campaign.pk}.csv")


# --- Conversas


@operator_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    form = forms.InboxFilterForm(request.GET or None, campaigns=selectors.campaign_choices())
    conversations = selectors.inbox_page(form.filters() if form.is_bound else {})
    ctx = {"form": form, "conversations": conversations, "nav": "conversas", "query": request.GET.urlencode()}
    if _is_htmx(request):
        return render(request, "dashboard/partials/inbox_rows.html", ctx)
    return render(request, "dashboard/inbox.html", ctx)


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("client", "assigned_to"), pk=pk)


def _chat_context(conversation: Conversation) -> dict[str, Any]:
    from conversations.selectors import conversation_history

    history = list(conversation_history(conversation=conversation).select_related("corrected_by"))
    return {"conversation": conversation, "history": history, "intent_choices": list(INTENT_LABELS.items())}


@operator_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    ctx = _chat_context(conversation)
    if _is_htmx(request):
        return render(request, "dashboard/partials/chat_messages.html", ctx)
    ctx |= {
        "nav": "conversas",
        "panel": selectors.client_panel(conversation.client),
        "reply_form": forms.ReplyForm(),
        "intent_form": forms.IntentCorrectionForm(),
    }
    return render(request, "dashboard/conversation.html", ctx)


@operator_required
@require_POST
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    from conversations.services import operator_reply

    conversation = _conversation(pk)
    form = forms.ReplyForm(request.POST)
    if form.is_valid():
        try:
            operator_reply(conversation=conversation, text=form.cleaned_data["texto"], by=request.user)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            messages.success(request, "Mensagem enviada.")
    else:
        messages.error(request, "Escreva a mensagem antes de enviar.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def conversation_take_over(request: HttpRequest, pk: int) -> HttpResponse:
    from conversations.services import conversation_take_over as take_over

    take_over(conversation=_conversation(pk), by=request.user)
    messages.success(request, "Você assumiu a conversa: o assistente fica em silêncio.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def conversation_give_back(request: HttpRequest, pk: int) -> HttpResponse:
    from conversations.services import conversation_give_back as give_back

    give_back(conversation=_conversation(pk), by=request.user)
    messages.success(request, "Conversa devolvida ao assistente.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def message_correct_intent(request: HttpRequest, pk: int) -> HttpResponse:
    from conversations.services import message_correct_intent as correct

    message = get_object_or_404(Message, pk=pk)
    form = forms.IntentCorrectionForm(request.POST)
    if form.is_valid():
        try:
            correct(message=message, intent=form.cleaned_data["intencao"], by=request.user)
        except ApplicationError as exc:
            _error(request, exc)
        else:
            messages.success(
                request, "Intenção corrigida. Obrigado: isso melhora o próximo treino do assistente."
            )
    else:
        messages.error(request, "Escolha uma intenção válida.")
    return redirect(reverse("dashboard:conversation", args=[message.conversation_id]) + f"#msg-{message.pk}")


# --- Templates


@operator_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    templates = MessageTemplate.objects.annotate(n_campaigns=Count("campaigns")).order_by(
        "-is_active", "name"
    )
    return render(request, "dashboard/templates.html", {"templates": templates, "nav": "templates"})


@operator_required
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    from billing.templating import template_create, template_update

    instance = get_object_or_404(MessageTemplate, pk=pk) if pk else None
    form = forms.TemplateForm.for_template(instance, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if instance is None:
                template = template_create(
                    name=data["name"], body=data["body"], title=data["title"], is_active=data["is_active"]
                )
            else:
                template = template_update(
                    template=instance,
                    name=data["name"],
                    body=data["body"],
                    title=data["title"],
                    is_active=data["is_active"],
                )
        except ApplicationError as exc:
            form.add_service_errors(exc.extra.get("fields") or {None: [exc.message]})
        else:
            messages.success(request, f"Modelo “{template.name}” salvo.")
            return redirect("dashboard:template-edit", pk=template.pk)
    body = form["body"].value() or ""
    ctx = {"form": form, "template": instance, "nav": "templates", "variables": _template_variables()}
    ctx |= _template_preview_context(body)
    return render(request, "dashboard/template_edit.html", ctx)


def _template_variables() -> list[tuple[str, str]]:
    from billing.templating import VARIABLES

    return list(VARIABLES.items())


def _template_preview_context(body: str, client: Client | None = None) -> dict[str, Any]:
    from billing.templating import template_preview as preview_for

    if not body.strip():
        return {"preview": "", "problems": [], "warnings": [], "error": ""}
    preview = preview_for(body=body, client=client)
    return {
        "preview": whatsapp_html(preview.text) if preview.text else "",
        "problems": preview.errors,
        "warnings": preview.warnings,
        "error": "",
    }


@operator_required
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    """htmx: live preview + validation + compliance warnings while the operator types."""
    body = request.POST.get("body", "")[:10000]
    client = None
    if (request.POST.get("cliente_previa") or "").isdigit():
        client = Client.objects.filter(pk=int(request.POST["cliente_previa"])).first()
    return render(
        request, "dashboard/partials/template_preview.html", _template_preview_context(body, client)
    )


# --- Sistema


def _check(fn) -> dict[str, Any]:
    started = time.monotonic()
    try:
        ok, detail = fn()
    except Exception as exc:  # noqa: BLE001 - a health page reports failures, it does not raise them
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000)}


def _check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, f"{connection.vendor} respondendo"


def _check_worker() -> tuple[bool, str]:
    from django_q.status import Stat

    stats = [s for s in Stat.get_all() if s]
    if not stats:
        return False, "Nenhum worker (qcluster) ativo nos últimos segundos"
    workers = sum(len(getattr(s, "workers", []) or []) for s in stats)
    states = ", ".join(sorted({str(getattr(s, "status", "?")) for s in stats}))
    return True, f"{len(stats)} cluster(s), {workers} worker(s): {states}"


def _check_waha() -> tuple[bool, str]:
    from whatsapp.client import get_client

    ok = get_client().ping()
    return ok, ("WAHA respondeu ao ping" if ok else f"Sem resposta de {settings.WAHA_BASE_URL}")


def _check_model() -> tuple[bool, str]:
    from chatbot.models import ModelVersion

    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None:
        return False, "Nenhuma versão ativa do modelo"
    f1 = active.macro_f1
    return True, f"{active.version} ({active.backend})" + (
        f", F1 macro {f1:.3f}" if isinstance(f1, (int, float)) else ""
    )


@operator_required
@require_GET
@never_cache
def sistema(request: HttpRequest) -> HttpResponse:
    checks = [
        ("Banco de dados", "fa-database", _check(_check_database)),
        ("Worker (django-q2)", "fa-gears", _check(_check_worker)),
        ("WAHA (WhatsApp)", "fa-brands fa-whatsapp", _check(_check_waha)),
        ("Modelo do assistente", "fa-robot", _check(_check_model)),
    ]
    return render(
        request,
        "dashboard/sistema.html",
        {"checks": checks, "queue": selectors.queue_numbers(), "nav": "sistema", "now": timezone.now()},
    )


@operator_required
@require_GET
@never_cache
def sends_today(request: HttpRequest) -> JsonResponse:
    """Today's sends per WAHA session against its daily cap, for static/js/whatsapp_cap.js."""
    return JsonResponse({"sessions": selectors.sends_today()})
