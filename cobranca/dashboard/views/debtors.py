"""Devedores (/painel/devedores/): find a debtor, see everything about him on one page, and act on his charges
(mark paid, cancel, send the PIX), his conversation, his opt-out and his LGPD export.

Every action is a POST (CSRF) behind the operator role and the model permission the admin and the API ask
for the same change, confirmed in the browser (`.confirm-submit`), and done by the one service that owns it,
which audits it: billing.services (charge_mark_paid, charge_cancel, client_opt_out),
conversations.debtor_actions (the PIX, the conversation), cobranca.privacy.export_client_audited.
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from billing import services as billing_services
from billing.models import Charge, Client
from billing.payments.operator_confirm import charge_confirm_payment
from cobranca.audit import client_ip
from cobranca.dashboard import debtors
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.privacy import export_client_audited
from cobranca.roles import operator_required
from conversations.debtor_actions import charge_send_pix, client_conversation
from conversations.flags import flags_clear_after_payment_confirmed

PAGE_SIZE = 25


def _permission(codename: str):
    """The model permission an action needs, on top of the operator role (403 without it)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(codename):
                raise PermissionDenied("Sem permissão para esta ação.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@operator_required
@require_GET
def debtor_list(request: HttpRequest) -> HttpResponse:
    text = (request.GET.get("q") or "").strip()[:100]
    found = debtors.debtor_search(text, full_contact=sees_full_contact(request.user))
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("pagina"))
    return render(
        request,
        "dashboard/debtors.html",
        {
            "nav": "devedores",
            "q": text,
            "page": page,
            "rows": debtors.debtor_rows(list(page)),
            "full_contact": sees_full_contact(request.user),
        },
    )


@operator_required
@require_GET
def debtor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(debtors.debtors_with_suppression(), pk=pk)
    user = request.user
    return render(
        request,
        "dashboard/debtor.html",
        {
            "nav": "devedores",
            "data": debtors.debtor_page(client),
            "full_contact": sees_full_contact(user),
            "can_change_charge": user.has_perm("billing.change_charge"),
            "can_message": user.has_perm("conversations.add_message"),
            "can_change_client": user.has_perm("billing.change_client"),
        },
    )


@operator_required
@require_GET
def debtor_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The page's timeline and sends, loaded by htmx after the page: the page's queries stay the page's and
    the longest part renders in a request of its own."""
    client = get_object_or_404(Client, pk=pk)
    return render(
        request,
        "dashboard/partials/debtor_timeline.html",
        {"client": client, "tl": debtors.debtor_timeline(client)},
    )


def _charge(pk: int, charge_pk: int) -> Charge:
    return get_object_or_404(Charge.objects.select_related("client"), pk=charge_pk, client_id=pk)


def _back(pk: int, anchor: str = "") -> HttpResponse:
    response = redirect("dashboard:debtor", pk=pk)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


@operator_required
@require_POST
@_permission("billing.change_charge")
def charge_mark_paid(request: HttpRequest, pk: int, charge_pk: int) -> HttpResponse:
    charge = _charge(pk, charge_pk)
    try:
        charge_confirm_payment(charge=charge, by=request.user, ip=client_ip(request))
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        flags_clear_after_payment_confirmed(charge=charge)
        messages.success(
            request, f"Cobrança “{charge.title}” marcada como paga; o cliente recebe o agradecimento."
        )
    return _back(pk, f"cobranca-{charge.pk}")


@operator_required
@require_POST
@_permission("billing.change_charge")
def charge_cancel(request: HttpRequest, pk: int, charge_pk: int) -> HttpResponse:
    charge = _charge(pk, charge_pk)
    try:
        billing_services.charge_cancel(
            charge=charge, by=request.user, reason="cancelada no painel", ip=client_ip(request)
        )
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"Cobrança “{charge.title}” cancelada.")
    return _back(pk, f"cobranca-{charge.pk}")


@operator_required
@require_POST
@_permission("conversations.add_message")
def charge_pix(request: HttpRequest, pk: int, charge_pk: int) -> HttpResponse:
    charge = _charge(pk, charge_pk)
    try:
        charge_send_pix(charge=charge, by=request.user, ip=client_ip(request))
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"PIX da cobrança “{charge.title}” enviado pelo WhatsApp.")
    return _back(pk, f"cobranca-{charge.pk}")


@operator_required
@require_POST
@_permission("conversations.change_conversation")
def debtor_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    if client.forgotten_at:
        messages.error(request, "Titular anonimizado: não há conversa a abrir.")
        return _back(pk)
    conversation = client_conversation(client=client)
    return redirect("dashboard:conversation", pk=conversation.pk)


@operator_required
@require_POST
@_permission("billing.change_client")
def debtor_opt_out(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=pk)
    already = client.opted_out_at is not None
    billing_services.client_opt_out(client=client, by=request.user, ip=client_ip(request))
    if already:
        messages.info(request, "Este cliente já estava descadastrado.")
    else:
        messages.success(request, "Cliente descadastrado: não recebe mais mensagens.")
    return _back(pk)


@operator_required
@require_POST
def debtor_export(request: HttpRequest, pk: int) -> HttpResponse:
    # Everything held about the person, unmasked: only for whoever reads full contacts (cobranca.masking).
    if not sees_full_contact(request.user):
        raise PermissionDenied("Sem permissão para exportar os dados do titular.")
    client = get_object_or_404(Client, pk=pk)
    data = export_client_audited(client=client, by=request.user, ip=client_ip(request))
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="titular-{client.pk}.json"'
    response["Cache-Control"] = "private, no-store"
    return response
