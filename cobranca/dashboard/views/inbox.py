"""Conversas (/painel/conversas/): the inbox, one conversation with the debtor's panel, and the operator's
actions (reply, take over, give back, correct an intent), each through conversations.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from cobranca.dashboard import forms, selectors
from cobranca.dashboard.formatting import INTENT_LABELS
from cobranca.dashboard.views import inbox_team
from cobranca.dashboard.views.common import is_htmx, show_error
from cobranca.exceptions import ApplicationError
from cobranca.masking import sees_full_contact
from cobranca.roles import operator_required
from conversations import inbox as conversation_inbox
from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import Attachment, Conversation, Message


@operator_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    form = forms.InboxFilterForm(request.GET or None, campaigns=selectors.campaign_choices())
    view = request.GET.get("vista")
    view = view if view in conversation_selectors.VIEWS else conversation_selectors.VIEW_ALL
    filters = (form.filters() if form.is_bound else {}) | {"view": view}
    conversations = selectors.inbox_page(filters, user=request.user)
    ctx = {
        "form": form,
        "conversations": conversations,
        "nav": "conversas",
        "view": view,
        "views": _views(conversation_selectors.inbox_counts(request.user)),
        "query": request.GET.urlencode(),
        "filter_query": _without(request.GET, "vista"),
        "full_contact": sees_full_contact(request.user),
    }
    if is_htmx(request):
        return render(request, "dashboard/partials/inbox_rows.html", ctx | {"oob": True})
    return render(request, "dashboard/inbox.html", ctx)


_VIEW_LABELS = [
    (conversation_selectors.VIEW_MINE, "Minhas"),
    (conversation_selectors.VIEW_UNASSIGNED, "Sem responsável"),
    (conversation_selectors.VIEW_ALL, "Todas"),
]


def _views(counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    return [{"code": code, "label": label, **counts[code]} for code, label in _VIEW_LABELS]


def _without(query, key: str) -> str:
    kept = query.copy()
    kept.pop(key, None)
    return kept.urlencode()


def _conversation(pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("client", "assigned_to"), pk=pk)


def _chat_context(conversation: Conversation) -> dict[str, Any]:
    history = conversation_selectors.conversation_history(conversation=conversation)
    return {
        "conversation": conversation,
        "history": list(history.select_related("corrected_by", "source_user", "attachment")),
        "intent_choices": list(INTENT_LABELS.items()),
    }


@operator_required
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = get_object_or_404(conversation_selectors.conversation_for_page(user=request.user), pk=pk)
    ctx = _chat_context(conversation)
    # Opening the page (and each refresh of its messages) marks what the operator has now seen as read.
    if ctx["history"]:
        conversation_inbox.conversation_mark_read(
            conversation=conversation,
            user=request.user,
            upto_message_id=max(m.pk for m in ctx["history"]),
            current=conversation.read_upto,
        )
    if is_htmx(request):
        return render(request, "dashboard/partials/chat_messages.html", ctx | {"oob": True})
    panel = selectors.client_panel(conversation.client)
    ctx |= {
        "nav": "conversas",
        "panel": panel,
        "reply_form": forms.ReplyForm(),
        "intent_form": forms.IntentCorrectionForm(),
    }
    ctx |= inbox_team.team_context(request, conversation, panel["charges"])
    return render(request, "dashboard/conversation.html", ctx)


@operator_required
@require_POST
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(pk)
    form = forms.ReplyForm(request.POST)
    if form.is_valid():
        try:
            conversation_services.operator_reply(
                conversation=conversation, text=form.cleaned_data["texto"], by=request.user
            )
        except ApplicationError as exc:
            show_error(request, exc)
        else:
            messages.success(request, "Mensagem enviada.")
    else:
        messages.error(request, "Escreva a mensagem antes de enviar.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def conversation_take_over(request: HttpRequest, pk: int) -> HttpResponse:
    conversation_services.conversation_take_over(conversation=_conversation(pk), by=request.user)
    messages.success(request, "Você assumiu a conversa: o assistente fica em silêncio.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def conversation_give_back(request: HttpRequest, pk: int) -> HttpResponse:
    conversation_services.conversation_give_back(conversation=_conversation(pk), by=request.user)
    messages.success(request, "Conversa devolvida ao assistente.")
    return redirect("dashboard:conversation", pk=pk)


@operator_required
@require_POST
def message_correct_intent(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=pk)
    form = forms.IntentCorrectionForm(request.POST)
    if form.is_valid():
        try:
            conversation_services.message_correct_intent(
                message=message, intent=form.cleaned_data["intencao"], by=request.user
            )
        except ApplicationError as exc:
            show_error(request, exc)
        else:
            messages.success(
                request, "Intenção corrigida. Obrigado: isso melhora o próximo treino do assistente."
            )
    else:
        messages.error(request, "Escolha uma intenção válida.")
    return redirect(reverse("dashboard:conversation", args=[message.conversation_id]) + f"#msg-{message.pk}")


# A debtor's file is served only here, to a logged-in operator: never from a public URL. Its type is the one
# its bytes showed (conversations.media.sniff); the browser must not guess another (nosniff) nor run anything
# in it (a CSP sandbox of its own). Pictures and audio are shown inline; a PDF is downloaded.
_INLINE_KINDS = (Attachment.Kind.IMAGE, Attachment.Kind.AUDIO)


@operator_required
@require_GET
def attachment_file(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(Attachment, pk=pk, status=Attachment.Status.STORED)
    if not attachment.file or not attachment.content_type:
        raise Http404("Arquivo indisponível.")
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("Arquivo indisponível.") from None
    extension = attachment.file.name.rsplit(".", 1)[-1]
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=attachment.kind not in _INLINE_KINDS,
        filename=f"anexo-{attachment.pk}.{extension}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
