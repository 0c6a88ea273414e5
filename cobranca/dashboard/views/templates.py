"""Templates (/painel/templates/): the list, the editor (saved through billing.templating) and its live
preview (billing.templating.template_preview, the API's preview too)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from billing import templating
from billing.models import Client, MessageTemplate
from cobranca.dashboard import forms
from cobranca.dashboard.formatting import whatsapp_html
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required


@operator_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    templates = MessageTemplate.objects.annotate(n_campaigns=Count("campaigns")).order_by(
        "-is_active", "name"
    )
    return render(request, "dashboard/templates.html", {"templates": templates, "nav": "templates"})


def _save(form: forms.TemplateForm, instance: MessageTemplate | None) -> MessageTemplate:
    data = form.cleaned_data
    fields = {k: data[k] for k in ("name", "body", "title", "is_active")}
    if instance is None:
        return templating.template_create(**fields)  # a blank name: derived from the title
    # A blank slug keeps the one integrations already use.
    return templating.template_update(template=instance, **(fields | {"name": data["name"] or None}))


@operator_required
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(MessageTemplate, pk=pk) if pk else None
    form = forms.TemplateForm.for_template(instance, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            template = _save(form, instance)
        except ApplicationError as exc:
            form.add_service_errors(exc.extra.get("fields") or {None: [exc.message]})
        else:
            messages.success(request, f"Modelo “{template.display_name}” salvo.")
            return redirect("dashboard:template-edit", pk=template.pk)
    ctx = {
        "form": form,
        "template": instance,
        "nav": "templates",
        "variables": list(templating.VARIABLES.items()),
    }
    return render(request, "dashboard/template_edit.html", ctx | _preview_context(form["body"].value() or ""))


def _preview_context(body: str, client: Client | None = None) -> dict[str, Any]:
    if not body.strip():
        return {"preview": "", "problems": [], "warnings": [], "error": ""}
    preview = templating.template_preview(body=body, client=client)
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
    return render(request, "dashboard/partials/template_preview.html", _preview_context(body, client))
