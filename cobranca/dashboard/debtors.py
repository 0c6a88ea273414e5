"""Reads of the Devedores pages (/painel/devedores/): finding a debtor by what an operator has at hand, and
everything about one debtor on one page, in a fixed number of queries whatever the data size.

Whose data it is comes from `cobranca.privacy.subject_data` (the same definition the LGPD export and erasure
use), so the timeline shows every conversation the export would hand over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from billing.models import (
    Agreement,
    Charge,
    ChargeStatusChange,
    Client,
    Dispatch,
    Installment,
    Payment,
    PromiseToPay,
)
from billing.models.clients import search_text
from billing.payments.owed import client_owed_expression, with_owed
from billing.phones import PhoneError, normalize_phone, phone_variants
from billing.suppression import annotate_suppressed, client_suppression_reason
from cobranca.privacy import subject_data
from conversations.models import Conversation, Message

# How much of a long history the page shows; older rows stay in the LGPD export and the admin.
TIMELINE_LIMIT = 100
DISPATCH_LIMIT = 100


def _document_forms(digits: str) -> list[str]:
    """A CPF/CNPJ typed with or without punctuation, as stored (bare, see billing.importing.fields) and in the
    punctuated forms an older record may hold."""
    forms = [digits]
    if len(digits) == 11:
        forms.append(f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}")
    elif len(digits) == 14:
        forms.append(f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}")
    return forms


def _phone_forms(text: str) -> list[str]:
    try:
        return phone_variants(normalize_phone(text))
    except PhoneError:
        return []


def debtor_search_q(text: str, *, full_contact: bool = True) -> Q:
    """What an operator typed, as a filter on clients: a part of the name, the phone in any Brazilian format
    (or at least 4 of its digits), the CPF/CNPJ with or without punctuation, the client's or one of its
    charges' external id (the reference on the bill)."""
    text = text.strip()
    # References as typed, upper- or lower-cased: exact lookups on the unique indexes (an `iexact` would scan
    # every charge on SQLite), resolved once rather than per client row.
    refs = list({text, text.upper(), text.lower()})
    # Name: accents and case folded in Python on both sides (Client.search_name), the same on SQLite and PG.
    cond = Q(search_name__contains=search_text(text)) | Q(external_id__in=refs)
    cond |= Q(pk__in=Charge.objects.filter(external_id__in=refs).values("client_id"))
    digits = re.sub(r"\D", "", text)
    alnum = re.sub(r"[\s./\-]", "", text).upper()
    if len(alnum) == 14 or (digits == alnum and len(digits) == 11):
        cond |= Q(document__in=_document_forms(alnum))
    # Digits and separators only (no letters: "fat-0031337" is a reference, not a phone).
    if len(digits) >= 4 and not re.search(r"[^\d\s()+.\-/]", text):
        if full_contact:  # masked numbers: the whole number only, or the hidden digits could be probed
            cond |= Q(phone__contains=digits)
        if variants := _phone_forms(text):
            cond |= Q(phone__in=variants)
    return cond


def debtor_search(text: str, *, full_contact: bool = True) -> QuerySet[Client]:
    """Ids of the clients matching `text` (all when empty), by name: what the list paginates. Only ids, so a
    deep page costs a sort of ids, not the figures of every client before it (`debtor_rows` adds those for
    the page's rows only)."""
    qs = Client.objects.all()
    if text.strip():
        qs = qs.filter(debtor_search_q(text, full_contact=full_contact))
    return qs.order_by("name", "pk").values_list("pk", flat=True)


def debtor_rows(ids: list[int]) -> list[Client]:
    """The clients of one page, in the page's order, with their suppression flag, open amount and number of
    open charges (subqueries over these rows only). One query."""
    open_charges = Charge.objects.filter(client=OuterRef("pk"), status__in=Charge.OPEN_STATUSES)
    rows = annotate_suppressed(Client.objects.filter(pk__in=ids)).annotate(
        open_count=Coalesce(_scalar(open_charges.values("client").annotate(n=Count("pk")).values("n")), 0),
        open_amount=client_owed_expression(),
    )
    by_id = {row.pk: row for row in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def _scalar(qs: QuerySet) -> Subquery:
    return Subquery(qs[:1])


def debtors_with_suppression() -> QuerySet[Client]:
    """Clients with `on_suppression_list` annotated, so the page reads the suppression state with the row."""
    return annotate_suppressed(Client.objects.all())


@dataclass
class DebtorPage:
    """The debtor page: who he is, his state, his charges with everything about each."""

    client: Client
    suppression_reason: str
    charges: list[Charge]
    open_amount: Decimal
    conversations: list[Conversation]


@dataclass
class DebtorTimeline:
    """The debtor page's second request (htmx, on load): one timeline, and the campaign sends."""

    timeline: list[dict[str, Any]]
    dispatches: list[Dispatch]
    conversation_ids: list[int] = field(default_factory=list)
    truncated: bool = False


def _charges(client: Client) -> list[Charge]:
    """Every charge with its status history, promises, agreements and their installments. One query per
    kind."""
    return list(
        with_owed(Charge.objects.filter(client=client))
        .prefetch_related(
            Prefetch(
                "status_changes",
                queryset=ChargeStatusChange.objects.select_related("changed_by").order_by("created_at", "pk"),
            ),
            Prefetch("promises", queryset=PromiseToPay.objects.order_by("-created_at", "-pk")),
            Prefetch("agreements", queryset=Agreement.objects.order_by("-created_at", "-pk")),
            Prefetch("agreements__schedule", queryset=Installment.objects.order_by("number")),
        )
        .order_by("-due_date", "-pk")
    )


def _payments(client: Client) -> list[Payment]:
    return list(
        Payment.objects.filter(charge__client=client)
        .select_related("recorded_by", "installment")
        .order_by("-paid_at", "-pk")[:TIMELINE_LIMIT]
    )


def _timeline(
    messages: list[Message],
    changes: list[ChargeStatusChange],
    payments: list[Payment],
    dispatches: list[Dispatch],
) -> list[dict[str, Any]]:
    """Messages in and out (debtor, bot, operator, campaign), status changes, payments and the campaign sends
    that left no message (skipped, failed), newest first."""
    events: list[dict[str, Any]] = [{"kind": "message", "at": m.sent_at, "item": m} for m in messages]
    events += [{"kind": "status", "at": c.created_at, "item": c} for c in changes]
    events += [{"kind": "payment", "at": p.paid_at, "item": p} for p in payments]
    with_message = {m.dispatch_id for m in messages if m.dispatch_id}
    events += [
        {"kind": "dispatch", "at": d.sent_at or d.updated_at, "item": d}
        for d in dispatches
        if d.pk not in with_message and d.status in (Dispatch.Status.FAILED, Dispatch.Status.SKIPPED)
    ]
    events.sort(key=lambda e: (e["at"], e["kind"]), reverse=True)
    return events


def debtor_page(client: Client) -> DebtorPage:
    """The debtor page's data: six queries (charges, their status history, promises, agreements,
    installments; conversations), whatever the number of charges."""
    charges = _charges(client)
    return DebtorPage(
        client=client,
        suppression_reason=client_suppression_reason(
            client, listed=getattr(client, "on_suppression_list", None)
        ),
        charges=charges,
        open_amount=sum((c.owed for c in charges if c.is_open), Decimal("0")),
        conversations=list(subject_data(client=client).conversations.select_related("assigned_to")),
    )


def debtor_timeline(client: Client) -> DebtorTimeline:
    """The timeline of every conversation that is the debtor's (`subject_data`), his status changes,
    payments and sends: four queries, the latest `TIMELINE_LIMIT` messages."""
    conversations = subject_data(client=client).conversations.values("pk")
    messages = list(
        Message.objects.filter(conversation__in=conversations)
        .select_related("operator", "source_user", "dispatch__campaign")
        .order_by("-sent_at", "-pk")[: TIMELINE_LIMIT + 1]
    )
    truncated = len(messages) > TIMELINE_LIMIT
    messages = messages[:TIMELINE_LIMIT]
    dispatches = list(
        Dispatch.objects.filter(client=client)
        .select_related("campaign", "charge")
        .order_by("-created_at", "-pk")[:DISPATCH_LIMIT]
    )
    changes = list(
        ChargeStatusChange.objects.filter(charge__client=client)
        .select_related("charge")
        .order_by("-created_at", "-pk")[:TIMELINE_LIMIT]
    )
    return DebtorTimeline(
        timeline=_timeline(messages, changes, _payments(client), dispatches),
        dispatches=dispatches,
        conversation_ids=sorted({m.conversation_id for m in messages}),
        truncated=truncated,
    )
