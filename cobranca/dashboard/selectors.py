"""Numbers for the dashboard pages, from a fixed number of aggregate queries whatever the data size.

Per-campaign progress (rate, ETA) belongs to billing.dispatch.selectors and the inbox to
conversations.selectors; this module only adds the cross-app figures the pages need.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import CharField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDay, TruncHour
from django.utils import timezone

from billing.dispatch.pacing import pacing_sent_today
from billing.models import Agreement, Campaign, Charge, Client, Dispatch, ImportBatch, PromiseToPay
from billing.payments.owed import with_owed
from billing.suppression import suppressed_clients_q
from cobranca.dashboard.formatting import intent_label
from cobranca.masking import sees_full_contact
from conversations.models import Conversation, Message
from conversations.selectors import inbox_annotate, inbox_filtered, view_q, with_unread
from whatsapp.models import WahaSession, WebhookEvent

DS = Dispatch.Status
DELIVERED_STATUSES = (DS.DELIVERED, DS.READ)
SENT_STATUSES = (DS.SENT, DS.DELIVERED, DS.READ)


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of a local date (settings.TIME_ZONE, America/Sao_Paulo), as an aware instant."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


@dataclass(frozen=True)
class DateRange:
    """Inclusive local (São Paulo) dates; `start_at`/`end_at` are the aware instants bounding them."""

    start: dt.date
    end: dt.date

    @classmethod
    def last_days(cls, days: int = 30, *, today: dt.date | None = None) -> DateRange:
        today = today or timezone.localdate()
        return cls(start=today - dt.timedelta(days=days - 1), end=today)

    @property
    def start_at(self) -> dt.datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return day_start(self.end + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def replied_after_dispatch():
    """An inbound message from the dispatch's client after the dispatch went out."""
    return Exists(
        Message.objects.filter(
            conversation__client_id=OuterRef("client_id"),
            direction=Message.Direction.IN,
            source=Message.Source.WHATSAPP,  # an API caller typing in his name is not the debtor replying
            sent_at__gte=OuterRef("sent_at"),
        )
    )


def _charge_numbers(period: DateRange) -> dict[str, Any]:
    """Open amount and count now; amount and count paid in the period. One query."""
    paid_in_period = Q(status=Charge.Status.PAID, paid_at__gte=period.start_at, paid_at__lt=period.end_at)
    return Charge.objects.aggregate(
        open_amount=Coalesce(Sum("amount", filter=Q(status__in=Charge.OPEN_STATUSES)), Value(Decimal("0"))),
        open_count=Count("pk", filter=Q(status__in=Charge.OPEN_STATUSES)),
        recovered=Coalesce(Sum("amount", filter=paid_in_period), Value(Decimal("0"))),
        recovered_count=Count("pk", filter=paid_in_period),
    )


def _funnel(period: DateRange) -> dict[str, int]:
    """Campaign messages sent in the period, and how many were delivered, read, answered, paid. One query."""
    paid_after = Exists(
        Charge.objects.filter(
            pk=OuterRef("charge_id"), status=Charge.Status.PAID, paid_at__gte=OuterRef("sent_at")
        )
    )
    return Dispatch.objects.filter(sent_at__gte=period.start_at, sent_at__lt=period.end_at).aggregate(
        sent=Count("pk"),
        delivered=Count("pk", filter=Q(status__in=DELIVERED_STATUSES) | Q(delivered_at__isnull=False)),
        read=Count("pk", filter=Q(status=DS.READ) | Q(read_at__isnull=False)),
        replied=Count("pk", filter=replied_after_dispatch()),
        paid=Count("pk", filter=paid_after),
    )


def _sent_today() -> int:
    """Every message sent today. Two queries."""
    today = DateRange(start=timezone.localdate(), end=timezone.localdate())
    # Campaign sends are counted from their Dispatch rows; bot and operator answers from Message rows.
    campaign = Dispatch.objects.filter(sent_at__gte=today.start_at, sent_at__lt=today.end_at).count()
    others = (
        Message.objects.filter(
            direction=Message.Direction.OUT, sent_at__gte=today.start_at, sent_at__lt=today.end_at
        )
        .exclude(author=Message.Author.CAMPAIGN)
        .count()
    )
    return campaign + others


def _promises(period: DateRange) -> dict[str, Any]:
    """Promises made in the period. One query."""
    # Live promises only (pending or kept): one cancelled and replaced by an agreement, or broken, no longer
    # counts. A promise without its own amount promises the whole charge.
    return PromiseToPay.objects.filter(
        created_at__gte=period.start_at,
        created_at__lt=period.end_at,
        status__in=(PromiseToPay.Status.PENDING, PromiseToPay.Status.KEPT),
    ).aggregate(
        count=Count("pk"),
        amount=Coalesce(Sum(Coalesce("amount", "charge__amount")), Value(Decimal("0"))),
    )


def overview(period: DateRange, funnel: dict[str, int] | None = None) -> dict[str, Any]:
    """The Painel cards and funnel. Six queries, five when the caller has the funnel already (the Painel
    gets it with the per-campaign results, cobranca.dashboard.outcomes)."""
    clients = Client.objects.aggregate(
        total=Count("pk"), suppressed=Count("pk", filter=suppressed_clients_q())
    )
    charges = _charge_numbers(period)
    funnel = funnel if funnel is not None else _funnel(period)
    promises = _promises(period)
    return {
        "clients": clients["total"],
        "clients_suppressed": clients["suppressed"],
        "open_amount": charges["open_amount"],
        "open_count": charges["open_count"],
        "recovered_amount": charges["recovered"],
        "recovered_count": charges["recovered_count"],
        "sent_today": _sent_today(),
        "delivery_rate": _ratio(funnel["delivered"], funnel["sent"]),
        "reply_rate": _ratio(funnel["replied"], funnel["sent"]),
        "promises": promises["count"],
        "promises_amount": promises["amount"],
        "funnel": funnel,
    }


def _bucket(hourly: bool):
    """The local (São Paulo) hour or day of `sent_at` as a sortable key. On SQLite, Django's Trunc* calls a
    Python function per row (about 1 s for 100,000 dispatches on this machine); strftime with the zone's UTC
    offset is native. São Paulo has had no daylight saving time since 2019, so one offset fits a period;
    PostgreSQL keeps the exact Trunc* with the time zone."""
    local_tz = timezone.get_default_timezone()
    if connection.vendor == "sqlite":
        offset = int(timezone.now().astimezone(local_tz).utcoffset().total_seconds())
        return Func(
            Value("%Y-%m-%d %H" if hourly else "%Y-%m-%d"),
            F("sent_at"),
            Value(f"{offset:+d} seconds"),
            function="strftime",
            output_field=CharField(),
        )
    return TruncHour("sent_at", tzinfo=local_tz) if hourly else TruncDay("sent_at", tzinfo=local_tz)


def _bucket_key(value, hourly: bool) -> str:
    if isinstance(value, str):
        return value
    local = value.astimezone(timezone.get_default_timezone())
    return local.strftime("%Y-%m-%d %H" if hourly else "%Y-%m-%d")


def sends_over_time(period: DateRange) -> dict[str, list]:
    """Sends per hour for a range of up to two days, per day otherwise (São Paulo time). One query."""
    hourly = period.days <= 2
    rows = (
        Dispatch.objects.filter(sent_at__gte=period.start_at, sent_at__lt=period.end_at)
        .annotate(bucket=_bucket(hourly))
        .values("bucket")
        .annotate(n=Count("pk"))
        .order_by("bucket")
    )
    counts = {_bucket_key(row["bucket"], hourly): row["n"] for row in rows}
    labels, values = [], []
    if hourly:
        cursor = dt.datetime.combine(period.start, dt.time.min)
        while cursor < dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min):
            labels.append(cursor.strftime("%d/%m %Hh"))
            values.append(counts.get(cursor.strftime("%Y-%m-%d %H"), 0))
            cursor += dt.timedelta(hours=1)
    else:
        for offset in range(period.days):
            day = period.start + dt.timedelta(days=offset)
            labels.append(day.strftime("%d/%m"))
            values.append(counts.get(day.isoformat(), 0))
    return {"labels": labels, "values": values, "unit": "hora" if hourly else "dia"}


def reply_intents(period: DateRange) -> dict[str, list]:
    """Inbound messages per effective intent (the operator's correction wins). One query."""
    label = Coalesce(NullIf("corrected_intent", Value("")), NullIf("intent", Value("")))
    rows = (
        Message.objects.filter(
            direction=Message.Direction.IN, sent_at__gte=period.start_at, sent_at__lt=period.end_at
        )
        .annotate(label=label)
        .exclude(label=None)
        .values("label")
        .annotate(n=Count("pk"))
        .order_by("-n", "label")
    )
    return {"labels": [intent_label(r["label"]) for r in rows], "values": [r["n"] for r in rows]}


def recovery_by_campaign(period: DateRange, limit: int = 10) -> dict[str, list]:
    """Amount paid after a campaign's message, per campaign started in the range. One query."""
    rows = (
        Campaign.objects.filter(created_at__lt=period.end_at)
        .filter(
            Q(started_at__gte=period.start_at) | Q(started_at__isnull=True, created_at__gte=period.start_at)
        )
        .annotate(
            recovered=Coalesce(
                Sum(
                    "dispatches__charge__amount",
                    filter=Q(
                        dispatches__charge__status=Charge.Status.PAID,
                        dispatches__charge__paid_at__gte=F("dispatches__sent_at"),
                    ),
                ),
                Value(Decimal("0")),
            )
        )
        .order_by("-recovered", "-created_at")
        .values("name", "recovered")[:limit]
    )
    return {"labels": [r["name"] for r in rows], "values": [float(r["recovered"]) for r in rows]}


def painel_charts(
    period: DateRange, funnel: dict[str, int], recovery: dict[str, list] | None = None
) -> dict[str, Any]:
    """Everything the Painel's Chart.js code draws, as plain JSON-able data (`recovery`: the chart of the
    amount recovered per campaign, when the caller has it already)."""
    return {
        "sends": sends_over_time(period),
        "funnel": {
            "labels": ["Enviadas", "Entregues", "Lidas", "Respondidas", "Pagas"],
            "values": [
                funnel["sent"],
                funnel["delivered"],
                funnel["read"],
                funnel["replied"],
                funnel["paid"],
            ],
        },
        "intents": reply_intents(period),
        "recovery": recovery if recovery is not None else recovery_by_campaign(period),
    }


# --- Cobrança


_COUNT_GROUPS = {
    "n_pending": (DS.PENDING, DS.SENDING),
    "n_sent": SENT_STATUSES,
    "n_failed": (DS.FAILED, DS.UNKNOWN),
    "n_skipped": (DS.SKIPPED,),
}


def campaigns_with_counts(qs: QuerySet[Campaign]) -> list[Campaign]:
    """The campaigns of `qs` (ordered and sliced by the caller) with their dispatch counts per outcome:
    `n_total`, `n_pending`, `n_sent`, `n_failed`, `n_skipped`. Two queries for the whole list: the counts
    come from one GROUP BY over the (campaign, status) index; a JOIN with COUNT(FILTER) per campaign read
    every dispatch row instead (0.5 s for 30 campaigns and 100,000 dispatches)."""
    campaigns = list(qs.select_related("template"))
    counts: dict[int, dict[str, int]] = {c.pk: {} for c in campaigns}
    for row in (
        Dispatch.objects.filter(campaign_id__in=list(counts))
        .values("campaign_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["campaign_id"]][row["status"]] = row["n"]
    for campaign in campaigns:
        by_status = counts[campaign.pk]
        campaign.n_total = sum(by_status.values())
        for name, statuses in _COUNT_GROUPS.items():
            setattr(campaign, name, sum(by_status.get(status, 0) for status in statuses))
    return campaigns


def active_campaigns() -> list[Campaign]:
    return campaigns_with_counts(
        Campaign.objects.filter(
            status__in=[Campaign.Status.DRAFT, *Campaign.ACTIVE_STATUSES, Campaign.Status.PAUSED]
        ).order_by("-created_at")
    )


def finished_campaigns(limit: int = 50) -> list[Campaign]:
    return campaigns_with_counts(
        Campaign.objects.filter(status__in=[Campaign.Status.COMPLETED, Campaign.Status.CANCELLED]).order_by(
            "-finished_at", "-created_at"
        )[:limit]
    )


def campaign_problem_dispatches(campaign: Campaign, limit: int = 200) -> QuerySet[Dispatch]:
    """Failed, unknown and skipped rows with their reasons (the operator's to-do list)."""
    return (
        Dispatch.objects.filter(campaign=campaign, status__in=[DS.FAILED, DS.UNKNOWN, DS.SKIPPED])
        .select_related("client", "charge")
        .order_by("status", "pk")[:limit]
    )


def recent_imports(limit: int = 10) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.select_related("created_by").order_by("-created_at")[:limit]


# --- Conversas


def inbox_page(filters: dict[str, Any], *, user=None, limit: int = 100) -> list[Conversation]:
    """The inbox through conversations.selectors, plus the dashboard's date and campaign filters, the team
    view (`view`: minhas, sem-responsavel, todas) and `user`'s unread count on each row.

    Two queries: the page's ids first (filters, order, limit: no per-row figure), then the figures for those
    rows only. Computing them for every conversation before the LIMIT took seconds at 10,000 conversations."""
    qs = inbox_filtered(
        {k: filters.get(k) for k in ("state", "intent", "search") if filters.get(k)},
        full_contact=sees_full_contact(user),
    )
    if filters.get("view"):
        qs = qs.filter(view_q(filters["view"], user))
    if filters.get("date_from"):
        qs = qs.filter(last_message_at__gte=day_start(filters["date_from"]))
    if filters.get("date_to"):
        qs = qs.filter(last_message_at__lt=day_start(filters["date_to"] + dt.timedelta(days=1)))
    if filters.get("campaign"):
        qs = qs.filter(
            client_id__in=Dispatch.objects.filter(campaign=filters["campaign"]).values("client_id")
        )
    ids = list(qs.values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    rows = inbox_annotate(Conversation.objects.filter(pk__in=ids))
    if user is not None:
        rows = with_unread(rows, user)
    last_in = Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.IN).order_by(
        "-sent_at", "-pk"
    )
    rows = rows.annotate(
        last_intent=Subquery(last_in.values("intent")[:1]),
        last_corrected=Subquery(last_in.values("corrected_intent")[:1]),
        last_acted_as=Subquery(last_in.values("acted_as_intent")[:1]),
        last_confidence=Subquery(last_in.values("confidence")[:1]),
    )
    position = {pk: n for n, pk in enumerate(ids)}
    return sorted(rows, key=lambda c: position[c.pk])


def client_panel(client: Client | None) -> dict[str, Any]:
    """The debtor's charges, promises and agreements beside the chat. Three queries."""
    if client is None:
        return {"charges": [], "promises": [], "agreements": [], "open_amount": Decimal("0")}
    charges = list(with_owed(client.charges.order_by("due_date", "pk")))
    return {
        "charges": charges,
        "open_amount": sum((c.owed for c in charges if c.is_open), Decimal("0")),
        "promises": list(PromiseToPay.objects.filter(charge__client=client).select_related("charge")[:20]),
        "agreements": list(Agreement.objects.filter(charge__client=client).select_related("charge")[:20]),
    }


def campaign_choices() -> list[tuple[int, str]]:
    return list(Campaign.objects.order_by("-created_at").values_list("pk", "name")[:100])


# --- Sistema


def queue_numbers() -> dict[str, Any]:
    """django-q2 queue and webhook backlog. Three queries."""
    from django_q.models import Failure, OrmQ

    since = timezone.now() - dt.timedelta(hours=24)
    webhooks = WebhookEvent.objects.aggregate(
        pending=Count("pk", filter=Q(state=WebhookEvent.State.PENDING)),
        failed=Count("pk", filter=Q(state=WebhookEvent.State.FAILED)),
    )
    return {
        "queued": OrmQ.objects.count(),
        "failures_24h": Failure.objects.filter(stopped__gte=since).count(),
        "webhooks_pending": webhooks["pending"],
        "webhooks_failed": webhooks["failed"],
    }


def sends_today() -> list[dict[str, Any]]:
    """Per WAHA session: messages sent today (the pacing counter) and the daily cap. One query + one per
    session for the pacing backend (a deployment has a handful of sessions)."""
    from django.conf import settings

    caps = dict(WahaSession.objects.values_list("name", "daily_cap"))
    names = sorted(set(caps) | {settings.WAHA_SESSION_NAME})
    result = []
    for name in names:
        cap = caps.get(name) or settings.DISPATCH_DAILY_CAP
        sent = int(pacing_sent_today(session_name=name) or 0)
        result.append({"name": name, "sent": sent, "cap": cap})
    return result


def assignable_operators() -> list:
    """The people a conversation can be given to: active staff and members of Operadores, by name."""
    from django.contrib.auth import get_user_model

    from cobranca.roles import OPERATORS

    return list(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__name=OPERATORS), is_active=True)
        .distinct()
        .order_by("username")
        .only("pk", "username", "first_name", "last_name")
    )
