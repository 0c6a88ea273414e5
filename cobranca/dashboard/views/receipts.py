"""The operator's decision on a receipt the worker read (/painel/conversas/comprovantes/<id>/…): confirm
(the amount read becomes a payment; the debtor gets the usual thank-you when it is applied) or reject (the
charge goes back to open and the debtor gets a polite reply from the catalogue). Both clear the
conversation's payment flags (`conversations.flags`) and come back to the conversation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from billing.models import ReceiptCheck
from billing.receipts import services as receipts
from chatbot.policy import reply
from cobranca.dashboard.views.common import show_error
from cobranca.exceptions import ApplicationError
from cobranca.roles import operator_required
from conversations.flags import flags_clear_after_receipt_decided
from conversations.operators import operator_send
from conversations.receipt_hold import conversation_expect_receipt

REJECT_REPLY_KEY = "comprovante_nao_confirmado"


def _check(request: HttpRequest, pk: int) -> ReceiptCheck:
    if not request.user.has_perm("billing.change_charge"):
        raise PermissionDenied("Seu perfil não permite esta ação.")
    return get_object_or_404(
        ReceiptCheck.objects.select_related("attachment__message__conversation", "charge"), pk=pk
    )


def _back(check: ReceiptCheck) -> HttpResponse:
    return redirect("dashboard:conversation", pk=check.attachment.message.conversation_id)


@operator_required
@require_POST
def receipt_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    check = _check(request, pk)
    try:
        receipts.receipt_confirm(check=check, by=request.user)
    except ApplicationError as exc:
        show_error(request, exc)
    else:
        flags_clear_after_receipt_decided(check=check)
        messages.success(
            request, "Comprovante confirmado: pagamento registrado; o cliente recebe o agradecimento."
        )
    return _back(check)


@operator_required
@require_POST
def receipt_reject(request: HttpRequest, pk: int) -> HttpResponse:
    check = _check(request, pk)
    try:
        receipts.receipt_reject(check=check, by=request.user)
    except ApplicationError as exc:
        show_error(request, exc)
        return _back(check)
    flags_clear_after_receipt_decided(check=check)
    conversation = check.attachment.message.conversation
    try:
        operator_send(conversation=conversation, text=reply(REJECT_REPLY_KEY), by=request.user)
    except ApplicationError as exc:
        messages.warning(request, "Comprovante rejeitado, mas a resposta ao cliente não foi enviada.")
        show_error(request, exc)
    else:
        # The reply asks for the complete receipt: the next picture/PDF is read, even in human mode.
        conversation_expect_receipt(conversation=conversation)
        messages.success(request, "Comprovante rejeitado; o cliente recebeu uma resposta.")
    return _back(check)
