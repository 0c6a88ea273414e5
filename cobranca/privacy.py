"""LGPD data-subject rights: erasure (`forget_client`, art. 18 VI) and access/portability (`export_client`,
art. 18 II and V).

Forgetting anonymises in place instead of deleting: charges, dispatch statuses and agreements are the
creditor's financial records (and aggregate numbers) and must survive; what identifies the person does not.
Callers: the API (`POST /api/clients/<id>/forget`), the admin action `forget_clients_action`, `manage.py
forget_client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from loguru import logger

from billing.models import (
    Charge,
    Client,
    Dispatch,
    Payment,
    PaymentIssue,
    PixCobv,
    PixNotification,
    ReceiptCheck,
    SuppressionReason,
)
from billing.phones import PhoneError, normalize_phone, phone_variants
from billing.suppression import suppress_client
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError
from conversations.attachments import attachments_remove
from conversations.models import Attachment, Conversation, Message
from whatsapp.models import WebhookEvent

REMOVED_BODY = "[removido]"


def anonymous_name(client_id: int) -> str:
    return f"Titular anonimizado #{client_id}"


def anonymous_phone(client_id: int) -> str:
    # "+000…" is no country's prefix: unique (phone is unique), never routable, and obviously not a real
    # number.
    return f"+000{client_id}"


@transaction.atomic
def _remove_webhook_payloads(ids: list[str]) -> int:
    removed = 0
    for start in range(0, len(ids), 500):
        removed += WebhookEvent.objects.filter(payload_id__in=ids[start : start + 500]).update(
            payload={"removed": True}, raw_body=None
        )
    return removed


# long-function: one transaction's anonymising steps read best in order
@transaction.atomic
def forget_client(*, client: Client, by=None, reason: str = "", ip: str | None = None) -> Client:
    """Anonymise a client and every message to or from them. Idempotent: forgetting twice changes nothing
    more.

    Kept: charges (amounts, dates, statuses), dispatch statuses, promises and agreements, conversation states,
    message directions/intents/timestamps (the numbers the dashboard aggregates). Cleared: name, phone,
    document, email, WhatsApp ids, message texts, the files they sent, dispatch texts, bot context, the raw
    webhook payloads of the client's messages. `opted_out_at` is set so no campaign can ever send to the
    record again.
    """
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.forgotten_at:
        return client
    now = timezone.now()
    # Listed before the phone is erased: the list is what keeps the number from being messaged again.
    suppress_client(client=client, reason=SuppressionReason.FORGOTTEN, by=by)
    data = subject_data(client=client)
    conversation_ids = list(data.conversations.values_list("pk", flat=True))
    messages_qs = Message.objects.filter(conversation_id__in=conversation_ids)
    waha_ids = [w for w in messages_qs.exclude(waha_id=None).values_list("waha_id", flat=True) if w]
    dispatch_waha_ids = [
        w
        for w in data.dispatches.exclude(waha_message_id=None).values_list("waha_message_id", flat=True)
        if w
    ]

    n_messages = messages_qs.update(body=REMOVED_BODY, entities={})
    n_attachments = attachments_remove(
        Attachment.objects.filter(message__conversation_id__in=conversation_ids)
    )
    for pk in conversation_ids:
        # chat_id is unique and holds the phone number: replace it with a unique placeholder.
        Conversation.objects.filter(pk=pk).update(
            chat_id=f"anon-{pk}@forgotten", context={}, attention_reason="", client=client
        )
    n_dispatches = data.dispatches.update(body="", updated_at=now)
    n_webhooks = _remove_webhook_payloads(waha_ids + dispatch_waha_ids)
    n_payments = _forget_payment_data(data)

    client.name = anonymous_name(client.pk)
    client.phone = anonymous_phone(client.pk)
    client.document = ""
    client.email = ""
    client.chat_id = ""
    client.lid = ""
    client.forgotten_at = now
    client.opted_out_at = client.opted_out_at or now
    client.save(
        update_fields=[
            "name",
            "phone",
            "document",
            "email",
            "chat_id",
            "lid",
            "forgotten_at",
            "opted_out_at",
            "updated_at",
        ]
    )
    audit_record(
        action="client.forget",
        actor=by,
        target=client,
        details={
            "reason": reason[:200],
            "messages": n_messages,
            "attachments": n_attachments,
            "conversations": len(conversation_ids),
            "dispatches": n_dispatches,
            "webhook_events": n_webhooks,
            "payments": n_payments,
            "charges_kept": data.charges.count(),
        },
        ip=ip,
    )
    logger.info("privacy.forget client={} messages={} by={}", client.pk, n_messages, getattr(by, "pk", None))
    return client


def _forget_payment_data(data: SubjectData) -> int:
    """Who paid and what the PSP, the bank statement or the receipt said about the person: cleared. Kept:
    amounts, times, e2eids and statuses (the creditor's financial record). Returns the payments cleared."""
    n_payments = data.payments.update(payer_name="", payer_document="", raw={})
    data.pix_notifications.update(raw={}, notified_amount="")
    # The cobv's answer repeats the debtor (devedor: CPF/CNPJ and name); the PSP keeps its own copy.
    data.pix_cobvs.update(psp_response={})
    data.payment_issues.update(details={}, note="")
    data.receipt_checks.update(payer_name="", confidence={}, checks=[], error="")
    return n_payments


@dataclass(frozen=True)
class SubjectData:
    """Where one data subject's personal data lives. Both `export_client` (access) and `forget_client`
    (erasure) read it from here, so what is exported is exactly what is erased."""

    client: Client
    charges: QuerySet[Charge]
    dispatches: QuerySet[Dispatch]
    conversations: QuerySet[Conversation]
    payments: QuerySet[Payment]
    pix_cobvs: QuerySet[PixCobv]
    pix_notifications: QuerySet[PixNotification]
    payment_issues: QuerySet[PaymentIssue]
    receipt_checks: QuerySet[ReceiptCheck]


def subject_data(*, client: Client) -> SubjectData:
    """The one definition of "this person's data": the client row, its charges and dispatches, and every
    conversation that is theirs: linked to the client, or on one of their chat ids even when it began
    before the client existed (a debtor who wrote first; WhatsApp's 8-digit legacy form of the number)."""
    conversations = Conversation.objects.filter(Q(client=client) | Q(chat_id__in=_chat_ids(client)))
    payments = Payment.objects.filter(charge__client=client)
    return SubjectData(
        client=client,
        charges=Charge.objects.filter(client=client),
        dispatches=Dispatch.objects.filter(client=client),
        conversations=conversations,
        payments=payments,
        pix_cobvs=PixCobv.objects.filter(charge__client=client),
        # Notifications of the client's Pix: applied to one of its payments, or naming one of its cobvs.
        pix_notifications=PixNotification.objects.filter(
            Q(payment__charge__client=client)
            | Q(txid__in=PixCobv.objects.filter(charge__client=client).values("txid"))
        ),
        payment_issues=PaymentIssue.objects.filter(
            Q(charge__client=client) | Q(payment__charge__client=client)
        ),
        receipt_checks=ReceiptCheck.objects.filter(
            Q(charge__client=client) | Q(attachment__message__conversation__in=conversations)
        ),
    )


def _chat_ids(client: Client) -> list[str]:
    ids = [c for c in (client.chat_id, client.lid) if c]
    try:
        forms = phone_variants(normalize_phone(client.phone))
    except PhoneError:
        forms = [client.phone] if client.phone else []  # forgotten (+000…): nothing routable
    ids.extend(f"{form.lstrip('+')}@c.us" for form in forms)
    return list(dict.fromkeys(ids))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# long-function: one section per kind of data held, a flat list best read whole
def export_client(*, client: Client) -> dict[str, Any]:
    """Everything held about one client (`subject_data`), as JSON-ready data (strings for money and dates)."""
    data = subject_data(client=client)
    charges = data.charges.prefetch_related("promises", "agreements__schedule").order_by("due_date", "pk")
    conversations = data.conversations.prefetch_related("messages").order_by("created_at", "pk")
    return {
        "generated_at": timezone.now().isoformat(),
        "client": {
            "id": client.pk,
            "name": client.name,
            "phone": client.phone,
            "document": client.document,
            "email": client.email,
            "external_id": client.external_id,
            "whatsapp_chat_id": client.chat_id,
            "whatsapp_lid": client.lid,
            "opted_out_at": _iso(client.opted_out_at),
            "wrong_number": client.wrong_number,
            "not_on_whatsapp": client.not_on_whatsapp,
            "forgotten_at": _iso(client.forgotten_at),
            "created_at": _iso(client.created_at),
        },
        "charges": [
            {
                "id": charge.pk,
                "external_id": charge.external_id,
                "amount": str(charge.amount),
                "due_date": _iso(charge.due_date),
                "description": charge.description,
                "status": charge.status,
                "paid_at": _iso(charge.paid_at),
                "promises": [
                    {
                        "promised_date": _iso(p.promised_date),
                        "amount": str(p.amount) if p.amount is not None else None,
                        "status": p.status,
                        "created_at": _iso(p.created_at),
                    }
                    for p in charge.promises.all()
                ],
                "amount_paid": str(charge.amount_paid),
                "agreements": [
                    {
                        "schedule": [
                            {
                                "number": i.number,
                                "due_date": _iso(i.due_date),
                                "amount": str(i.amount),
                                "amount_paid": str(i.amount_paid),
                                "status": i.status,
                            }
                            for i in a.schedule.all()
                        ],
                        "installments": a.installments,
                        "installment_amount": str(a.installment_amount),
                        "total_amount": str(a.total_amount),
                        "discount_percent": str(a.discount_percent),
                        "first_due_date": _iso(a.first_due_date),
                        "status": a.status,
                        "created_at": _iso(a.created_at),
                    }
                    for a in charge.agreements.all()
                ],
            }
            for charge in charges
        ],
        "payments": [
            {
                "charge": p.charge_id,
                "installment": p.installment.number if p.installment else None,
                "source": p.source,
                "amount": str(p.amount),
                "paid_at": _iso(p.paid_at),
                "e2eid": p.e2eid,
                "payer_name": p.payer_name,
                "payer_document": p.payer_document,
            }
            for p in data.payments.select_related("installment").order_by("paid_at", "pk")
        ],
        "receipts": [
            {
                "charge": r.charge_id,
                "status": r.status,
                "amount_read": str(r.amount) if r.amount is not None else None,
                "paid_at_read": _iso(r.paid_at),
                "e2eid_read": r.e2eid,
                "payer_name_read": r.payer_name,
                "created_at": _iso(r.created_at),
            }
            for r in data.receipt_checks.order_by("pk")
        ],
        "payment_issues": [
            {
                "kind": i.kind,
                "status": i.status,
                "charge": i.charge_id,
                "amount": str(i.amount or ""),
                "created_at": _iso(i.created_at),
            }
            for i in data.payment_issues.order_by("pk")
        ],
        "dispatches": [
            {
                "campaign": d.campaign_id,
                "charge": d.charge_id,
                "status": d.status,
                "body": d.body,
                "sent_at": _iso(d.sent_at),
            }
            for d in data.dispatches.order_by("pk")
        ],
        "conversations": [
            {
                "id": conv.pk,
                "chat_id": conv.chat_id,
                "state": conv.state,
                "created_at": _iso(conv.created_at),
                "messages": [
                    {
                        "direction": m.direction,
                        "author": m.author,
                        # "api": typed by an API caller in the debtor's name, not received from him.
                        "source": m.source,
                        "body": m.body,
                        "intent": m.effective_intent,
                        "sent_at": _iso(m.sent_at),
                    }
                    for m in conv.messages.all()
                ],
            }
            for conv in conversations
        ],
    }


def export_client_audited(*, client: Client, by=None, ip: str | None = None) -> dict[str, Any]:
    data = export_client(client=client)
    audit_record(action="client.export", actor=by, target=client, ip=ip)
    return data


def find_client(*, ref: str) -> Client:
    """A client by id or by phone (any Brazilian format), for the management commands."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) <= 9:
        client = Client.objects.filter(pk=int(ref)).first()
    else:
        try:
            client = Client.objects.filter(phone=normalize_phone(ref)).first()
        except PhoneError:
            client = None
    if client is None:
        raise ApplicationError("Cliente não encontrado.", {"ref": "id ou telefone"}, status_code=404)
    return client


@admin.action(description="Anonimizar (LGPD: esquecer titular)", permissions=["delete"])
def forget_clients_action(modeladmin, request, queryset) -> None:
    """Attach to ClientAdmin.actions. Needs the delete permission: it is as irreversible as a delete."""
    count = 0
    for client in queryset.filter(forgotten_at__isnull=True):
        forget_client(client=client, by=request.user, reason="admin", ip=request.META.get("REMOTE_ADDR"))
        count += 1
    modeladmin.message_user(request, f"{count} cliente(s) anonimizado(s).", messages.SUCCESS)
