"""Inbox "Requer atendimento" flags that the operator's act resolves are cleared by it (receipt confirmed or
rejected, debtor page "Marcar como paga"); a flag raised for something else stays."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import Charge, Payment, ReceiptCheck
from chatbot.media_replies import RECEIPT_FLAG
from chatbot.policy import PAYMENT_REPORTED_FLAG
from cobranca.tests import test_dashboard_receipts as receipt_pages
from conversations.models import Conversation

# The receipt card's fixtures: an operator's HTTP client, a receipt in review, a fake WAHA.
operator, check, waha = receipt_pages.operator, receipt_pages.check, receipt_pages.waha

pytestmark = pytest.mark.django_db


def flag(conversation_id: int, reason: str) -> None:
    Conversation.objects.filter(pk=conversation_id).update(needs_attention=True, attention_reason=reason)


def flagged(conversation_id: int) -> tuple[bool, str]:
    conversation = Conversation.objects.get(pk=conversation_id)
    return conversation.needs_attention, conversation.attention_reason


@pytest.mark.parametrize("action", ["dashboard:receipt-confirm", "dashboard:receipt-reject"])
@pytest.mark.parametrize("reason", [RECEIPT_FLAG, PAYMENT_REPORTED_FLAG])
def test_deciding_a_receipt_clears_the_receipt_flag(operator, check, waha, action, reason):
    conversation_id = check.attachment.message.conversation_id
    flag(conversation_id, reason)
    assert operator.post(reverse(action, args=[check.pk])).status_code == 302
    assert flagged(conversation_id) == (False, "")


@pytest.mark.parametrize("action", ["dashboard:receipt-confirm", "dashboard:receipt-reject"])
def test_deciding_a_receipt_keeps_a_flag_raised_for_something_else(operator, check, waha, action):
    conversation_id = check.attachment.message.conversation_id
    flag(conversation_id, "Cliente pediu para falar com atendente")
    operator.post(reverse(action, args=[check.pk]))
    assert flagged(conversation_id) == (True, "Cliente pediu para falar com atendente")


@pytest.mark.parametrize("reason", [RECEIPT_FLAG, PAYMENT_REPORTED_FLAG])
def test_marking_the_charge_paid_on_the_debtor_page_clears_the_payment_flags(operator, check, waha, reason):
    conversation_id = check.attachment.message.conversation_id
    flag(conversation_id, reason)
    charge = check.charge
    url = reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk])
    assert operator.post(url).status_code == 302
    charge.refresh_from_db()
    assert charge.status == Charge.Status.PAID
    assert flagged(conversation_id) == (False, "")


def test_marking_paid_keeps_another_flag(operator, check, waha):
    conversation_id = check.attachment.message.conversation_id
    flag(conversation_id, "Cliente pediu para falar com atendente")
    charge = check.charge
    operator.post(reverse("dashboard:debtor-charge-paid", args=[charge.client_id, charge.pk]))
    assert flagged(conversation_id) == (True, "Cliente pediu para falar com atendente")


def test_after_the_inbox_confirmation_the_leftover_receipt_offers_no_decision(operator, check, waha):
    """The tester's case: "Confirmar pagamento" in the inbox, then the receipt card of the same charge."""
    conversation_id = check.attachment.message.conversation_id
    flag(conversation_id, RECEIPT_FLAG)
    paid = operator.post(
        reverse("dashboard:conversation-paid", args=[conversation_id]), {"cobranca": check.charge_id}
    )
    assert paid.status_code == 302
    check.refresh_from_db()
    assert check.status == "settled"
    assert flagged(conversation_id) == (False, "")
    page = operator.get(reverse("dashboard:conversation", args=[conversation_id])).content.decode()
    assert f'id="receipt-confirm-{check.pk}"' not in page and f'id="receipt-reject-{check.pk}"' not in page
    ReceiptCheck.objects.filter(pk=check.pk).update(status=ReceiptCheck.Status.REVIEW)
    refused = operator.post(reverse("dashboard:receipt-confirm", args=[check.pk]), follow=True)
    assert "já está paga" in refused.content.decode()
    assert Payment.objects.filter(charge_id=check.charge_id).count() == 1
