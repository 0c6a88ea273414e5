"""Read-side of conversations: client lookup by chat id, history, the inbox and its numbers."""

from __future__ import annotations

import re
import statistics
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from billing.models import Client
from billing.phones import PhoneError, normalize_phone, phone_variants
from billing.suppression import annotate_suppressed, is_suppressed
from conversations.models import Conversation, Message, ReadMarker


def br_phone_variants(digits: str) -> list[str]:
    """Both forms of a Brazilian mobile: 13 digits 55 DD 9XXXXXXXX ↔ 12 digits 55 DD XXXXXXXX.

    WhatsApp accounts registered before the 9th digit still have the 12-digit id (docs/waha.md, "Chat ids"),
    so a debtor imported as +5511987654321 may write from 551187654321@c.us. Landlines (first local digit
    2–5) never got the 9, so only mobiles (6–9) are expanded.
    """
    digits = re.sub(r"\D", "", digits or "")
    variants = [digits] if digits else []
    if digits.startswith("55"):
        if len(digits) == 13 and digits[4] == "9" and digits[5] in "6789":
            variants.append(digits[:4] + digits[5:])
        elif len(digits) == 12 and digits[4] in "6789":
            variants.append(digits[:4] + "9" + digits[4:])
    return variants


def _chat_digits(chat_id: str) -> str:
    return chat_id.split("@", 1)[0] if chat_id.endswith("@c.us") else ""


def client_for_chat(*, chat_id: str, lid: str = "", phone_chat_id: str = "") -> Client | None:
    """The debtor behind a WhatsApp chat: by stored chat id, then lid, then phone (8/9-digit variants).

    One query; the priority is applied in Python because an exact chat id beats a phone guess.
    """
    chats = {c for c in (chat_id, phone_chat_id) if c and c.endswith("@c.us")}
    lids = set()
    if lid:
        lids = {lid, lid.split("@", 1)[0]}  # stored as "…@lid" by us; tolerate the bare form from others
    phones = set()
    for chat in chats:
        phones.update("+" + v for v in br_phone_variants(_chat_digits(chat)))
    cond = Q(pk__in=[])
    if chats:
        cond |= Q(chat_id__in=chats)
    if lids:
        cond |= Q(lid__in=lids)
    if phones:
        cond |= Q(phone__in=phones)
    if not (chats or lids or phones):
        return None
    candidates = list(Client.objects.filter(cond).order_by("pk")[:10])
    for matches in (
        lambda c: c.chat_id in chats,
        lambda c: c.lid in lids,
        lambda c: c.phone in phones,
    ):
        for client in candidates:
            if matches(client):
                return client
    return None


def conversation_for_chat(*, chat_ids: list[str], client: Client | None) -> Conversation | None:
    """An existing conversation for any of these chat ids, else the client's latest one (a debtor who writes
    from an @lid id continues the conversation the campaign opened with the @c.us id)."""
    ids = [c for c in chat_ids if c]
    by_chat = {c.chat_id: c for c in Conversation.objects.filter(chat_id__in=ids)}
    for chat in ids:
        if chat in by_chat:
            return by_chat[chat]
    if client is not None:
        return client.conversations.order_by("-last_message_at", "-pk").first()
    return None


# Why the bot stays silent (pt-BR: the API's dry run returns it as `skipped`).
SILENT_DISABLED = "chatbot desligado"
SILENT_OPTED_OUT = "cliente descadastrado"


def bot_silence_reason(conversation: Conversation) -> str:
    """Whether the bot answers in this conversation: "" when it does, else why not.

    The one rule for "should the bot answer", used when a debtor's message arrives (`message_receive` hands it
    to the chatbot or not) and again by the chatbot under the conversation's lock (an operator may have taken
    over meanwhile)."""
    if not settings.CHATBOT_ENABLED:
        return SILENT_DISABLED
    if conversation.state != Conversation.State.BOT:
        return f"conversa em modo {conversation.state}"
    client = conversation.client
    if (client is not None and client.opted_out_at) or (conversation.context or {}).get("opted_out"):
        return SILENT_OPTED_OUT
    # The suppression list also covers a chat without a client, or a client row created after the number was
    # listed (it wrote first; its record was forgotten).
    if is_suppressed(client.phone if client is not None else conversation.chat_id):
        return SILENT_OPTED_OUT
    return ""


def conversation_history(
    *, phone: str | None = None, conversation: Conversation | None = None
) -> QuerySet[Message]:
    """Every message of a conversation, or of all conversations of a phone number (E.164 or digits)."""
    qs = Message.objects.select_related("conversation", "operator").order_by("sent_at", "pk")
    if conversation is not None:
        return qs.filter(conversation=conversation)
    if phone:
        variants = br_phone_variants(phone)
        return qs.filter(
            Q(conversation__client__phone__in=["+" + v for v in variants])
            | Q(conversation__chat_id__in=[f"{v}@c.us" for v in variants])
        )
    return qs.none()


INBOX_ORDER = ("-needs_attention", "-last_message_at", "-pk")


def whole_number_q(text: str, *, phone_field: str, chat_field: str | None = None) -> Q | None:
    """A filter matching the whole number `text` (any Brazilian format, and its form without the 9th digit)
    on `phone_field` (E.164) and `chat_field` (a WAHA chat id), or None when `text` is not a phone number.
    What a user who reads numbers masked may search by: a substring would reveal the hidden digits."""
    try:
        variants = phone_variants(normalize_phone(text))
    except PhoneError:
        return None
    cond = Q(**{f"{phone_field}__in": variants})
    if chat_field:
        cond |= Q(**{f"{chat_field}__in": [f"{v[1:]}@c.us" for v in variants]})
    return cond


def inbox_filtered(
    filters: dict[str, Any] | None = None, *, full_contact: bool = True
) -> QuerySet[Conversation]:
    """The inbox's conversations without the per-row figures: filters state, intent (effective intent of an
    inbound message), search (client name, phone or chat id digits), needs_attention, assigned_to (user id).
    Cheap enough to sort and cut a page from before `inbox_annotate` adds the figures to that page only.
    Without `full_contact` (cobranca.masking.sees_full_contact) the search matches the name or the whole
    number only, never digits inside the masked phone or chat id."""
    filters = filters or {}
    qs = Conversation.objects.order_by(*INBOX_ORDER)
    if filters.get("state"):
        qs = qs.filter(state=filters["state"])
    if filters.get("needs_attention") is not None:
        qs = qs.filter(needs_attention=bool(filters["needs_attention"]))
    if filters.get("assigned_to"):
        qs = qs.filter(assigned_to_id=filters["assigned_to"])
    if filters.get("intent"):
        intent = filters["intent"]
        matching = Message.objects.filter(direction=Message.Direction.IN).filter(
            Q(corrected_intent=intent) | (Q(corrected_intent="") & Q(intent=intent))
        )
        qs = qs.filter(pk__in=matching.values("conversation_id"))
    search = (filters.get("search") or "").strip()
    if search:
        cond = Q(client__name__icontains=search)
        digits = re.sub(r"\D", "", search)
        if full_contact and len(digits) >= 4:
            cond |= Q(client__phone__contains=digits) | Q(chat_id__contains=digits)
        elif (whole := whole_number_q(search, phone_field="client__phone", chat_field="chat_id")) is not None:
            cond |= whole
        qs = qs.filter(cond)
    return qs


def inbox_annotate(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Client, owner, message count and the last message's text on each row."""
    last_body = Subquery(
        Message.objects.filter(conversation=OuterRef("pk")).order_by("-sent_at", "-pk").values("body")[:1]
    )
    return qs.select_related("client", "assigned_to").annotate(
        message_count=Count("messages", distinct=True), last_message_body=last_body
    )


def inbox(filters: dict[str, Any] | None = None) -> QuerySet[Conversation]:
    """Conversations for the operators' inbox (`inbox_filtered`, with `inbox_annotate`'s figures)."""
    return inbox_annotate(inbox_filtered(filters))


# --- the team inbox: views, unread counts -------------------------------------------------------------

VIEW_MINE = "minhas"
VIEW_UNASSIGNED = "sem-responsavel"
VIEW_ALL = "todas"
VIEWS = (VIEW_MINE, VIEW_UNASSIGNED, VIEW_ALL)


def view_q(view: str, user) -> Q:
    """The conversations of an inbox view: mine (assigned to `user`), unassigned, or all."""
    if view == VIEW_MINE:
        return Q(assigned_to_id=getattr(user, "pk", None))
    if view == VIEW_UNASSIGNED:
        return Q(assigned_to__isnull=True)
    return Q()


def _unread_messages() -> QuerySet[Message]:
    # Correlated on an outer query annotated by `with_unread` (`read_upto`).
    return Message.objects.filter(
        conversation=OuterRef("pk"), direction=Message.Direction.IN, pk__gt=OuterRef("read_upto")
    )


def with_read_upto(qs: QuerySet[Conversation], user, default: int | None = 0) -> QuerySet[Conversation]:
    """Annotates `read_upto`: the id of the last message `user` saw in each conversation (`default` when he
    never opened it)."""
    marker = ReadMarker.objects.filter(conversation=OuterRef("pk"), user_id=getattr(user, "pk", None))
    read_upto = Subquery(marker.values("last_read_message_id")[:1])
    if default is not None:
        read_upto = Coalesce(read_upto, Value(default))
    return qs.annotate(read_upto=read_upto)


def with_unread(qs: QuerySet[Conversation], user) -> QuerySet[Conversation]:
    """Annotates `unread_count`: the debtor's messages recorded after what `user` last saw (one correlated
    subquery per row, on the message index; no query per conversation)."""
    counted = _unread_messages().order_by().annotate(n=Func(Value(1), function="COUNT")).values("n")[:1]
    return with_read_upto(qs, user).annotate(unread_count=Coalesce(Subquery(counted), Value(0)))


def conversation_for_page(*, user) -> QuerySet[Conversation]:
    """Conversations as the chat page reads one: with client and owner, `read_upto` for `user` (None: never
    opened) and `client_listed` (the client's number is on the suppression list, for
    `conversations.operators.conversation_send_refusal`), all in the one query."""
    qs = with_read_upto(Conversation.objects.select_related("client", "assigned_to"), user, default=None)
    return annotate_suppressed(qs, prefix="client__", name="client_listed")


def _has_unread() -> Q:
    # On a queryset annotated by `with_read_upto`: the newest debtor message is past what the user saw.
    return Q(last_inbound_id__gt=F("read_upto"))


def inbox_counts(user) -> dict[str, dict[str, int]]:
    """Per view (mine, unassigned, all): how many conversations, and how many with unread messages for
    `user`. One query: a scan of the conversations with one marker lookup each (`last_inbound_id`)."""
    qs = with_read_upto(Conversation.objects.all(), user)
    aggregates = {}
    for view in VIEWS:
        key = view.replace("-", "_")
        aggregates[f"{key}_total"] = Count("pk", filter=view_q(view, user))
        aggregates[f"{key}_unread"] = Count("pk", filter=view_q(view, user) & _has_unread())
    row = qs.aggregate(**aggregates)
    return {
        view: {
            "total": row[f"{view.replace('-', '_')}_total"],
            "unread": row[f"{view.replace('-', '_')}_unread"],
        }
        for view in VIEWS
    }


def unread_for_nav(user) -> int:
    """The navigation badge: conversations with messages `user` has not read that are his, or that nobody
    owns and that wait for a person (handed over or flagged). Bot-handled conversations stay out: the
    assistant answers them. One query."""
    waiting = Q(assigned_to__isnull=True) & (Q(needs_attention=True) | Q(state=Conversation.State.HUMAN))
    qs = Conversation.objects.filter(Q(assigned_to_id=getattr(user, "pk", None)) | waiting)
    return with_read_upto(qs, user).filter(_has_unread()).count()


def _percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def conversation_stats(*, days: int = 30) -> dict[str, Any]:
    """Numbers for the dashboard: conversations by state, inbound intents, handoff rate, bot answer time.

    Handoff rate = conversations that reached a person (human state now, an assigned operator, or an operator
    message) over all conversations. Bot answer time = from an inbound message's `sent_at` to the `created_at`
    of the next bot message in that conversation, over the last `days` days.
    """
    by_state = dict(Conversation.objects.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    total = sum(by_state.values())
    # The operator's correction wins over the model's label (Message.effective_intent, in SQL).
    label = Coalesce(NullIf("corrected_intent", Value("")), NullIf("intent", Value("")))
    intents = dict(
        Message.objects.filter(direction=Message.Direction.IN)
        .annotate(label=label)
        .exclude(label=None)
        .values("label")
        .annotate(n=Count("pk"))
        .values_list("label", "n")
    )
    handed = (
        Conversation.objects.filter(
            Q(state=Conversation.State.HUMAN)
            | Q(assigned_to__isnull=False)
            | Q(messages__author=Message.Author.OPERATOR)
        )
        .distinct()
        .count()
    )
    since = timezone.now() - timedelta(days=days)
    next_bot = Subquery(
        Message.objects.filter(
            conversation=OuterRef("conversation"),
            author=Message.Author.BOT,
            created_at__gte=OuterRef("sent_at"),
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    pairs = (
        Message.objects.filter(direction=Message.Direction.IN, sent_at__gte=since)
        .annotate(next_bot_at=next_bot)
        .exclude(next_bot_at=None)
        .values_list("sent_at", "next_bot_at")[:20000]
    )
    seconds = [max((bot_at - sent_at).total_seconds(), 0.0) for sent_at, bot_at in pairs]
    return {
        "conversations": total,
        "by_state": {state: by_state.get(state, 0) for state in Conversation.State.values},
        "intents": intents,
        "handoff_rate": round(handed / total, 4) if total else None,
        "bot_answer_seconds": {
            "count": len(seconds),
            "median": round(statistics.median(seconds), 3) if seconds else None,
            "p95": round(_percentile(seconds, 95), 3) if seconds else None,
        },
    }
