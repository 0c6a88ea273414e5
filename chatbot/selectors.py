"""Read-side of the chatbot: the snapshot the dialogue policy decides on, due follow-ups, API numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Agreement, Charge, Client, Installment, PromiseToPay
from billing.phones import PhoneError, normalize_phone
from billing.services import negotiation_policy_current
from chatbot.models import ModelVersion
from chatbot.policy import ChargeSnapshot, ClientSnapshot, Creditor, NegotiationLimits
from cobranca.exceptions import ApplicationError
from conversations.models import Conversation, Message
from conversations.selectors import br_phone_variants, conversation_history


def creditor_from_settings() -> Creditor:
    return Creditor(
        name=settings.CREDITOR_NAME,
        document=settings.CREDITOR_DOCUMENT,
        address=settings.CREDITOR_ADDRESS,
        city=settings.CREDITOR_CITY,
        pix_key=settings.PIX_KEY,
    )


def negotiation_limits_current() -> NegotiationLimits:
    policy = negotiation_policy_current()
    return NegotiationLimits(
        max_installments=policy.max_installments,
        min_installment_amount=policy.min_installment_amount,
        max_discount_percent=policy.max_discount_percent,
    )


def bot_focus_charge_id(*, conversation: Conversation, context: dict[str, Any]) -> int | None:
    """The charge of the last reminder sent in this conversation (its Dispatch's charge), when that reminder
    is newer than the focus the conversation keeps (`context["focus_at"]`: set when the debtor named a charge,
    the bot acted on one, or the debtor quoted a reminder). None: the context's focus stands. One query."""
    last = (
        Message.objects.filter(
            conversation=conversation, direction=Message.Direction.OUT, dispatch__isnull=False
        )
        .order_by("-sent_at", "-pk")
        .values_list("dispatch__charge_id", "sent_at")
        .first()
    )
    if last is None:
        return None
    charge_id, sent_at = last
    try:
        focus_at = dt.datetime.fromisoformat(context.get("focus_at") or "")
    except (TypeError, ValueError):
        focus_at = None
    if context.get("focus_charge_id") is not None and focus_at is not None and focus_at >= sent_at:
        return None
    return charge_id


def _next_installment_balances(agreements) -> dict[int, Decimal]:
    """agreement id → what its earliest open installment still owes (one query)."""
    ids = [a.pk for a in agreements]
    if not ids:
        return {}
    found: dict[int, Decimal] = {}
    rows = Installment.objects.filter(agreement_id__in=ids, status=Installment.Status.OPEN).order_by(
        "agreement_id", "number"
    )
    for installment in rows:
        found.setdefault(installment.agreement_id, installment.balance)
    return found


RECENT_PAYMENT_DAYS = 7
_AGREEMENT_STATUSES = (Charge.Status.NEGOTIATING, Charge.Status.PAYMENT_CLAIMED)


RECENTLY_PAID_DAYS = 60
RECENTLY_PAID_KEPT = 12


def _reference(charge: Charge) -> str:
    return charge.external_id or f"COB{charge.pk}"


def _recently_paid(client: Client) -> list[Charge]:
    """The client's charges paid in the last RECENTLY_PAID_DAYS days, newest first (one query)."""
    since = timezone.now() - dt.timedelta(days=RECENTLY_PAID_DAYS)
    return list(
        Charge.objects.filter(client=client, status=Charge.Status.PAID, paid_at__gte=since).order_by(
            "-paid_at", "-pk"
        )[:RECENTLY_PAID_KEPT]
    )


def _paid_snapshot(charge: Charge) -> ChargeSnapshot:
    return ChargeSnapshot(
        id=charge.pk,
        amount=charge.amount,
        due_date=charge.due_date,
        description=charge.description,
        status=charge.status,
        reference=_reference(charge),
        paid_amount=charge.amount_paid or charge.amount,
        paid_on=timezone.localdate(charge.paid_at),
    )


def _recent_payment(paid: list[Charge]) -> tuple[Decimal, dt.date] | None:
    """The newest of the charges paid lately when it was paid in the last RECENT_PAYMENT_DAYS days: (amount
    received, local day)."""
    since = timezone.now() - dt.timedelta(days=RECENT_PAYMENT_DAYS)
    if not paid or paid[0].paid_at < since:
        return None
    return (paid[0].amount_paid or paid[0].amount, timezone.localdate(paid[0].paid_at))


def bot_client_snapshot(
    *, client: Client | None, with_limits: bool = True, focus_charge_id: int | None = None
) -> ClientSnapshot:
    """The debtor as the policy sees him: open charges (with the active agreement's installment), limits.

    One query for the open charges, one for the charges paid lately, two more only when a charge is under
    negotiation or being checked (its agreement and the agreement's next open installment, whose balance is
    what the PIX asks), one for the policy row unless `with_limits` is False (the turn needs no offer: the
    defaults stand in, unused).
    No client: an empty snapshot that makes the policy answer generically.
    """
    creditor = creditor_from_settings()
    if client is None:
        return ClientSnapshot(client_id=None, creditor=creditor)
    charges = list(
        Charge.objects.filter(client=client, status__in=Charge.OPEN_STATUSES).order_by("due_date", "pk")
    )
    agreements: dict[int, Agreement] = {}
    # An agreement moves its charge to negotiating; a payment being checked (payment_claimed) keeps the
    # agreement, and its PIX must still ask the installment.
    negotiating = [c.pk for c in charges if c.status in _AGREEMENT_STATUSES]
    if negotiating:
        # Oldest first, so the newest active agreement of a charge wins in the dict.
        for agreement in Agreement.objects.filter(
            charge_id__in=negotiating, status=Agreement.Status.ACTIVE
        ).order_by("created_at", "pk"):
            agreements[agreement.charge_id] = agreement
    next_due = _next_installment_balances(agreements.values())
    snapshots = []
    for charge in charges:
        agreement = agreements.get(charge.pk)
        snapshots.append(
            ChargeSnapshot(
                id=charge.pk,
                amount=charge.amount,
                due_date=charge.due_date,
                description=charge.description,
                status=charge.status,
                reference=_reference(charge),
                agreement_installments=agreement.installments if agreement else None,
                agreement_installment_amount=(
                    next_due.get(agreement.pk, agreement.installment_amount) if agreement else None
                ),
                agreement_first_due_date=agreement.first_due_date if agreement else None,
                balance=charge.balance,
            )
        )
    paid = _recently_paid(client)
    return ClientSnapshot(
        recent_payment=None if charges else _recent_payment(paid),
        recent_paid=tuple(_paid_snapshot(charge) for charge in paid),
        client_id=client.pk,
        creditor=creditor,
        first_name=client.first_name,
        wrong_number=client.wrong_number,
        opted_out=client.opted_out_at is not None,
        charges=tuple(snapshots),
        limits=negotiation_limits_current() if with_limits else NegotiationLimits(),
        focus_charge_id=focus_charge_id,
    )


def promises_due_follow_up(*, now: dt.datetime, limit: int = 200) -> list[int]:
    """Ids of pending or broken promises whose follow-up time has come and that were not followed up yet."""
    return list(
        PromiseToPay.objects.filter(
            status__in=(PromiseToPay.Status.PENDING, PromiseToPay.Status.BROKEN),
            follow_up_at__lte=now,
            follow_up_sent_at__isnull=True,
        )
        .order_by("follow_up_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def phone_to_e164(phone: str) -> str:
    """Any common Brazilian format → E.164; ApplicationError (400) when it is not a phone number."""
    try:
        return normalize_phone(phone)
    except PhoneError as exc:
        raise ApplicationError("Telefone inválido.", {"phone": str(exc)}) from None


def client_by_phone(*, phone: str) -> Client | None:
    """The client of an E.164 number, accepting the pre-9th-digit variant stored by older imports."""
    variants = ["+" + v for v in br_phone_variants(phone)]
    return Client.objects.filter(phone__in=variants).order_by("pk").first()


def chat_history(*, phone: str) -> dict[str, Any]:
    """The API's conversation history of a phone: client, conversations (state, context) and every message."""
    e164 = phone_to_e164(phone)
    client = client_by_phone(phone=e164)
    messages: QuerySet[Message] = conversation_history(phone=e164)
    conversations = Conversation.objects.filter(pk__in=messages.values("conversation_id")).order_by("pk")
    return {
        "phone": e164,
        "client": {"id": client.pk, "name": client.name} if client else None,
        "conversations": [
            {
                "id": c.pk,
                "state": c.state,
                "needs_attention": c.needs_attention,
                "attention_reason": c.attention_reason,
                "context": c.context,
            }
            for c in conversations
        ],
        "messages": [
            {
                "id": m.pk,
                "conversation_id": m.conversation_id,
                "direction": m.direction,
                "author": m.author,
                "source": m.source,
                "body": m.body,
                "intent": m.effective_intent,
                "confidence": m.confidence,
                "entities": m.entities,
                "sent_at": m.sent_at.isoformat(),
                "ack": m.ack,
            }
            for m in messages
        ],
    }
