"""The team side of Conversas: who owns a conversation, canned replies (pick, preview, send, keep), and the
chat's quick actions (PIX, payment confirmed, promise). Each POST calls one service of conversations.inbox or
conversations.quick_actions and comes back to the conversation with its outcome as a flash message."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.models import Charge
from cobranca.audit import client_ip
from cobranca.dashboard import inbox_forms, selectors
from cobranca.dashboard.formatting import brl, date_br
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.roles import operator_required
from conversations import inbox as team
from conversations import quick_actions
from conversations.models import CannedReply, Conversation
from conversations.operators import conversation_send_refusal


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied("Seu perfil não permite esta ação.")


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("client", "assigned_to"), pk=pk)


def _charges(conversation: Conversation) -> list[Charge]:
    if conversation.client_id is None:
        return []
    return list(Charge.objects.filter(client_id=conversation.client_id).order_by("due_date", "pk"))


def _charge(charge_id: int | None) -> Charge | None:
    if charge_id is None:
        return None
    # Another debtor's charge id is refused by the service (it checks the owner), not hidden as a 404 here.
    return Charge.objects.filter(pk=charge_id).first()


def team_context(request: HttpRequest, conversation: Conversation, charges: list[Charge]) -> dict[str, Any]:
    """What the conversation page's team parts need (assign, canned replies, quick actions). Four queries:
    operators, canned replies, the suppression check, the user's permissions."""
    operators = selectors.assignable_operators()
    canned = list(CannedReply.objects.filter(is_active=True))
    open_charges = [c for c in charges if c.is_open]
    return {
        "operators": operators,
        "canned_form": inbox_forms.CannedPickForm(canned=canned, charges=open_charges),
        "canned_replies": canned,
        "open_charges": open_charges,
        "payable_charges": [c for c in charges if c.status in Charge.OPEN_STATUSES],
        "send_refusal": conversation_send_refusal(conversation),
        "full_contact": sees_full_contact(request.user),
        "can_change_charge": request.user.has_perm("billing.change_charge"),
    }


def _done(pk: int) -> HttpResponse:
    return redirect("dashboard:conversation", pk=pk)


# --- assignment ---------------------------------------------------------------------------------------------


@operator_required
@require_POST
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "conversations.change_conversation")
    conversation = _conversation(pk)
    operators = {u.pk: u for u in selectors.assignable_operators()}
    form = inbox_forms.AssignForm(request.POST, operator_ids=list(operators))
    if not form.is_valid():
        messages.error(request, "Escolha para quem atribuir a conversa.")
        return _done(pk)
    target = form.cleaned_data["para"]
    to = {inbox_forms.ME: request.user, inbox_forms.NOBODY: None}.get(target, operators.get(target))
    try:
        team.conversation_assign(
            conversation=conversation,
            to=to,
            expected_id=form.cleaned_data["esperado"],
            by=request.user,
            ip=client_ip(request),
        )
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        if to is None:
            messages.success(request, "Conversa liberada: agora está sem responsável.")
        elif to == request.user:
            messages.success(request, "A conversa agora é sua (aparece em Minhas).")
        else:
            messages.success(request, f"Conversa atribuída a {to.get_username()}.")
    return _done(pk)


# --- canned replies in the chat -----------------------------------------------------------------------------


def _picked(conversation: Conversation, data) -> tuple[CannedReply | None, Charge | None]:
    canned = CannedReply.objects.filter(is_active=True)
    form = inbox_forms.CannedPickForm(data, canned=canned, charges=_charges(conversation))
    if not form.is_valid():
        return None, None
    reply = canned.filter(pk=form.cleaned_data["resposta"]).first()
    return reply, _charge(form.cleaned_data.get("cobranca"))


@operator_required
@require_GET
def canned_reply_insert(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: the reply box filled with the chosen canned reply rendered for this debtor, for the operator to
    read (and edit) before sending; or the reason it cannot be used, beside an untouched box."""
    conversation = _conversation(pk)
    canned, charge = _picked(conversation, request.GET)
    ctx: dict[str, Any] = {"conversation": conversation, "text": request.GET.get("texto", "")}
    if canned is None:
        ctx["error"] = "Escolha uma resposta pronta (e a cobrança, se ela usa valores)."
    else:
        try:
            ctx["text"] = quick_actions.canned_reply_render(
                canned=canned, conversation=conversation, charge=charge
            )
        except ApplicationError as exc:
            ctx["error"] = exc.message
    return render(request, "dashboard/partials/reply_box.html", ctx)


@operator_required
@require_POST
def canned_reply_send(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "conversations.add_message")
    conversation = _conversation(pk)
    canned, charge = _picked(conversation, request.POST)
    if canned is None:
        messages.error(request, "Escolha uma resposta pronta.")
        return _done(pk)
    try:
        quick_actions.conversation_send_canned_reply(
            conversation=conversation, canned=canned, charge=charge, by=request.user
        )
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"Resposta pronta “{canned.title}” enviada.")
    return _done(pk)


# --- quick actions ------------------------------------------------------------------------------------------


def _charge_from_post(request: HttpRequest, conversation: Conversation, form_class=None):
    form_class = form_class or inbox_forms.ChargeChoiceForm
    form = form_class(request.POST, charges=_charges(conversation))
    if not form.is_valid():
        return form, None
    return form, _charge(form.cleaned_data["cobranca"])


@operator_required
@require_POST
def conversation_send_pix(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "conversations.add_message")
    conversation = _conversation(pk)
    _form, charge = _charge_from_post(request, conversation)
    if charge is None:
        messages.error(request, "Escolha a cobrança do PIX.")
        return _done(pk)
    try:
        quick_actions.conversation_send_pix(conversation=conversation, charge=charge, by=request.user)
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(request, f"PIX de “{charge.title}” enviado.")
    return _done(pk)


@operator_required
@require_POST
def conversation_confirm_payment(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "billing.change_charge")
    conversation = _conversation(pk)
    _form, charge = _charge_from_post(request, conversation)
    if charge is None:
        messages.error(request, "Escolha a cobrança paga.")
        return _done(pk)
    try:
        quick_actions.conversation_confirm_payment(
            conversation=conversation, charge=charge, by=request.user, ip=client_ip(request)
        )
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        messages.success(
            request, f"Pagamento confirmado: “{charge.title}” está paga; o cliente recebe o agradecimento."
        )
    return _done(pk)


@operator_required
@require_POST
def conversation_register_promise(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "billing.change_charge")
    conversation = _conversation(pk)
    form, charge = _charge_from_post(request, conversation, inbox_forms.PromiseForm)
    if charge is None:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _done(pk)
    try:
        promise = quick_actions.conversation_register_promise(
            conversation=conversation,
            charge=charge,
            promised_date=form.cleaned_data["data"],
            amount=form.cleaned_data["valor"],
            by=request.user,
            ip=client_ip(request),
        )
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        amount = brl(promise.amount) if promise.amount is not None else "o valor total"
        messages.success(
            request, f"Promessa registrada: {amount} até {date_br(promise.promised_date)} (“{charge.title}”)."
        )
    return _done(pk)


# --- keeping canned replies ---------------------------------------------------------------------------------


@operator_required
@require_http_methods(["GET", "POST"])
def canned_replies(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Respostas prontas: the list, and a form to add one or edit the one chosen (`pk`)."""
    instance = get_object_or_404(CannedReply, pk=pk) if pk else None
    if request.method == "POST":
        _require(request, "conversations.change_cannedreply" if instance else "conversations.add_cannedreply")
        form = inbox_forms.CannedReplyForm(request.POST)
        if form.is_valid():
            try:
                team.canned_reply_save(
                    title=form.cleaned_data["titulo"],
                    body=form.cleaned_data["texto"],
                    is_active=form.cleaned_data["ativa"],
                    by=request.user,
                    instance=instance,
                )
            except ApplicationError as exc:
                for field, errors in (exc.extra.get("fields") or {}).items():
                    for error in errors:
                        form.add_error({"title": "titulo", "body": "texto"}.get(field), error)
            else:
                messages.success(request, "Resposta pronta salva.")
                return redirect("dashboard:canned-replies")
    elif instance is not None:
        form = inbox_forms.CannedReplyForm(
            initial={"titulo": instance.title, "texto": instance.body, "ativa": instance.is_active}
        )
    else:
        form = inbox_forms.CannedReplyForm()
    ctx = {
        "nav": "conversas",
        "form": form,
        "editing": instance,
        "replies": CannedReply.objects.select_related("created_by"),
        "variables": team.canned_variables(),
    }
    return render(request, "dashboard/canned_replies.html", ctx)
