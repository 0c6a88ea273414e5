"""A short thank-you naming the charge when a payment arrives: once per payment, within the send window.

`billing.payments.apply.payment_applied` (after commit) enqueues `payment_thank_you_send`; outside the window
it waits for the "payment-thanks" schedule, which sends what is owed once the window opens. A payment is
claimed with a conditional UPDATE on `Payment.thanked_at`, so two workers never thank twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from loguru import logger

from billing.dispatch.window import parse_window
from billing.models import Agreement, Charge, Installment, Payment, PaymentIssue
from chatbot.follow_ups import bot_send_to_client
from chatbot.policy import charge_label, day, money, phrase, reply
from cobranca.tasks import enqueue_with_rows

__all__ = [
    "on_payment_applied",
    "payment_thank_you_send",
    "payment_thank_you_text",
    "payment_thanks_send_due",
]

# Outcomes of apply_payment worth a thank-you (not a payment for a closed charge, not a replay).
THANKED_OUTCOMES = frozenset({"paid", "overpaid", "partial"})
# A payment not thanked within this long (the window stayed shut, WAHA was down) is not thanked late.
THANKS_MAX_AGE = dt.timedelta(days=3)
# Nor a payment made longer ago than this, whenever it was recorded: an integration backfilling its history
# through the API or an old bank statement imported today must not thank debtors for months-old payments.
PAID_MAX_AGE = dt.timedelta(days=7)


def on_payment_applied(sender, payment, outcome, **kwargs) -> None:
    """Receiver of `payment_applied` (connected in ChatbotConfig.ready). Sent after the payment committed;
    a statement import sends its payments' signals together inside one transaction, where the ORM broker's
    task rows join that transaction (one commit for the lot) instead of one commit each."""
    if outcome.status in THANKED_OUTCOMES:
        enqueue_with_rows("chatbot.tasks.payment_thank_you", payment.pk, using="default")


def payment_thank_you_text(payment: Payment) -> str:
    charge, client = payment.charge, payment.charge.client
    values = {
        "saudacao": phrase("saudacao_nome", nome=client.first_name)
        if client.first_name
        else phrase("saudacao"),
        "valor": money(payment.amount),
        "cobranca": charge_label(
            amount=charge.amount, due_date=charge.due_date, description=charge.description
        ),
    }
    excess = _excess(payment)
    if 0 < excess < payment.amount:
        # More than was owed (charge or agreement): settled, and the excess waits in the operator queue.
        return reply(
            "pagamento_acima_do_saldo",
            saldo=money(payment.amount - excess),
            diferenca=money(excess),
            **values,
        )
    installment = payment.installment
    if installment is not None:
        agreement = installment.agreement
        following = (
            agreement.schedule.filter(status=Installment.Status.OPEN).order_by("number").first()
            if agreement.status == Agreement.Status.ACTIVE
            else None
        )
        if following is None:
            return reply("pagamento_acordo_quitado", **values)
        return reply(
            "pagamento_parcela_recebido",
            numero=str(installment.number),
            parcelas=str(agreement.installments),
            parcela=money(following.balance),
            proxima=day(following.due_date),
            **values,
        )
    if charge.balance > 0 and charge.status != Charge.Status.PAID:
        return reply("pagamento_parcial_recebido", restante=money(charge.balance), **values)
    return reply("pagamento_recebido", **values)


def _excess(payment: Payment) -> Decimal:
    """What `apply_payment` queued as an overpayment from this payment (0 when nothing was)."""
    amount = (
        payment.issues.filter(kind=PaymentIssue.Kind.OVERPAYMENT).values_list("amount", flat=True).first()
    )
    return amount or Decimal("0")


def payment_thank_you_send(*, payment_id: int, now: dt.datetime | None = None) -> str:
    """Thank the debtor for one payment. Returns "sent", "deferred" (window closed: the schedule retries),
    "already", "stale" or "skipped: …"."""
    now = now or timezone.now()
    if not parse_window(settings.SEND_WINDOW).is_open(now):
        return "deferred"
    fresh = Payment.objects.filter(pk=payment_id, thanked_at__isnull=True).filter(_recent(now))
    if not fresh.update(thanked_at=now):
        return (
            "already" if Payment.objects.filter(pk=payment_id, thanked_at__isnull=False).exists() else "stale"
        )
    payment = Payment.objects.select_related("charge__client", "installment__agreement").get(pk=payment_id)
    outcome = bot_send_to_client(
        client=payment.charge.client,
        text=payment_thank_you_text(payment),
        human_reason="Pagamento recebido",
        fail_reason="Falha ao enviar o agradecimento pelo pagamento",
    )
    logger.info("chatbot.payment_thanks payment={} outcome={}", payment.pk, outcome)
    return outcome


def _recent(now: dt.datetime) -> Q:
    """Recorded within THANKS_MAX_AGE and made within PAID_MAX_AGE."""
    return Q(created_at__gte=now - THANKS_MAX_AGE, paid_at__gte=now - PAID_MAX_AGE)


def payment_thanks_send_due(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Thank every recent payment not thanked yet, inside the send window only (schedule "payment-thanks")."""
    now = now or timezone.now()
    if not parse_window(settings.SEND_WINDOW).is_open(now):
        return 0
    # Money for a charge already closed went to the operator queue whole (PaymentIssue of the same amount):
    # no thank-you for a duplicate payment.
    due = (
        Payment.objects.filter(thanked_at__isnull=True)
        .filter(_recent(now))
        .exclude(charge__status=Charge.Status.CANCELLED)
        .exclude(issues__amount=F("amount"))
    )
    sent = 0
    for payment_id in due.order_by("pk").values_list("pk", flat=True)[:limit]:
        sent += payment_thank_you_send(payment_id=payment_id, now=now) == "sent"
    return sent
