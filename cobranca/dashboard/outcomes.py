"""What the reminders of a period achieved, per campaign and per template (the Painel's "Resultados" tables).

The unit is a reminder: a campaign message sent in the period (a Dispatch with `sent_at` in it). For each one
we ask what happened to its charge and its debtor after it went out:

- recovery: the charge was paid (status paid, `paid_at`) within 7 / 30 days of the reminder (count, amount);
- promises kept / broken: a promise on the charge made within 30 days of the reminder, now kept or broken;
- agreements: an agreement on the charge made within 30 days of the reminder (any status);
- opt-out: the debtor opted out within 30 days of the reminder; wrong number: the debtor is marked as a
  wrong number (the flag has no date).

A charge paid after reminders of two campaigns counts for both: each reminder is credited with what followed.
One aggregate query grouped by campaign whatever the data size; the per-template table adds the campaign rows
up in Python (a few dozen rows, never the big tables). A régua's daily campaign is listed with the template
its campaign row names.

At volume that query reads every reminder of the period with its charge and debtor (seconds for 30 days of
100,000 charges), so whole past days are read from a per-day rollup (models.OutcomeRollup, kept by
cobranca.dashboard.rollup with this module's own query) and only the days not rolled up yet (today) are
computed here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import Agreement, Charge, Dispatch, PromiseToPay
from cobranca.dashboard.models import OutcomeRollup
from cobranca.dashboard.selectors import DELIVERED_STATUSES, day_start, replied_after_dispatch

WINDOWS = (7, 30)
FOLLOW_DAYS = 30
FUNNEL = ("sent", "delivered", "read", "replied", "paid")
COUNTS = (
    "sent",
    "delivered",
    "read",
    "replied",
    "paid",
    "paid_7",
    "paid_30",
    "promises_kept",
    "promises_broken",
    "agreements",
    "opted_out",
    "wrong_number",
)
AMOUNTS = ("paid_7_amount", "paid_30_amount")


class _PlusDays(Func):
    """`sent_at` + N days. Django's datetime + timedelta calls a Python function per row on SQLite (the
    query took seconds at 100,000 reminders); SQLite's own datetime() does it natively. Its text drops the
    microseconds, which moves the 7/30-day limits by under a second."""

    output_field = DateTimeField()

    def __init__(self, expression, days: int) -> None:
        self.days = days
        super().__init__(expression)

    def as_sql(self, compiler, connection, **extra):
        inner = ExpressionWrapper(self.source_expressions[0] + dt.timedelta(days=self.days), DateTimeField())
        return compiler.compile(inner)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"datetime({sql}, %s)", (*params, f"+{self.days} days")


def _after_sent(days: int) -> _PlusDays:
    return _PlusDays(F("sent_at"), days)


def _paid_within(days: int) -> Q:
    # Status first: SQLite evaluates AND left to right, so the date arithmetic runs for paid charges only.
    return Q(charge__status=Charge.Status.PAID) & Q(
        charge__paid_at__gte=F("sent_at"), charge__paid_at__lt=_after_sent(days)
    )


def _followed_by(model, **filters) -> Exists:
    """A row of `model` (promise, agreement) on the reminder's charge, made within FOLLOW_DAYS of it."""
    return Exists(
        model.objects.filter(
            charge_id=OuterRef("charge_id"),
            created_at__gte=OuterRef("sent_at"),
            created_at__lt=OuterRef("follow_until"),
            **filters,
        )
    )


def per_campaign_rows(start_at: dt.datetime, end_at: dt.datetime) -> list[dict[str, Any]]:
    """One row per campaign with reminders sent in [start_at, end_at), from the dispatches. One query."""
    return _dispatch_rows(Q(sent_at__gte=start_at, sent_at__lt=end_at))


def _dispatch_rows(sent_in: Q) -> list[dict[str, Any]]:
    zero = Value(Decimal("0"))
    return list(
        Dispatch.objects.filter(sent_in)
        .annotate(follow_until=_after_sent(FOLLOW_DAYS))
        .values("campaign_id", "campaign__name", "campaign__template_id", "campaign__template__name")
        .annotate(
            sent=Count("pk"),
            # The Painel's funnel, from the same scan (selectors._funnel has the same definitions).
            delivered=Count("pk", filter=Q(status__in=DELIVERED_STATUSES) | Q(delivered_at__isnull=False)),
            read=Count("pk", filter=Q(status=Dispatch.Status.READ) | Q(read_at__isnull=False)),
            replied=Count("pk", filter=replied_after_dispatch()),
            paid=Count("pk", filter=Q(charge__status=Charge.Status.PAID, charge__paid_at__gte=F("sent_at"))),
            paid_7=Count("pk", filter=_paid_within(7)),
            paid_7_amount=Coalesce(Sum("charge__amount", filter=_paid_within(7)), zero),
            paid_30=Count("pk", filter=_paid_within(30)),
            paid_30_amount=Coalesce(Sum("charge__amount", filter=_paid_within(30)), zero),
            promises_kept=Count("pk", filter=_followed_by(PromiseToPay, status=PromiseToPay.Status.KEPT)),
            promises_broken=Count("pk", filter=_followed_by(PromiseToPay, status=PromiseToPay.Status.BROKEN)),
            agreements=Count("pk", filter=_followed_by(Agreement)),
            opted_out=Count(
                "pk",
                filter=Q(client__opted_out_at__gte=F("sent_at"), client__opted_out_at__lt=F("follow_until")),
            ),
            wrong_number=Count("pk", filter=Q(client__wrong_number=True)),
        )
        .order_by("-sent", "campaign_id")
    )


LABELS = ("campaign_id", "campaign__name", "campaign__template_id", "campaign__template__name")


def _local_day(at: dt.datetime) -> dt.date | None:
    """The local date `at` is the midnight of, else None (a period that does not fall on whole days)."""
    day = timezone.localtime(at).date()
    return day if day_start(day) == at else None


def _rolled_up(start: dt.date, end: dt.date) -> tuple[list[dict[str, Any]], set[dt.date]]:
    """The rollup summed per campaign over the local days [start, end), and the days it holds. One query
    (the mark rows, without a campaign, tell which days), two when those days are not one unbroken run."""
    sums = {name: Sum(name) for name in (*COUNTS, *AMOUNTS)}
    rows = list(
        OutcomeRollup.objects.filter(day__gte=start, day__lt=end)
        .values(*LABELS)
        .annotate(**sums, days=Count("pk"), first=Min("day"), last=Max("day"))
    )
    marks = next((row for row in rows if row["campaign_id"] is None), None)
    if marks is None:
        return [], set()
    days = {marks["first"] + dt.timedelta(days=n) for n in range((marks["last"] - marks["first"]).days + 1)}
    if len(days) != marks["days"]:
        days = set(
            OutcomeRollup.objects.filter(day__gte=start, day__lt=end, campaign=None).values_list(
                "day", flat=True
            )
        )
    return [row for row in rows if row["campaign_id"] is not None], days


def _rows(start_at: dt.datetime, end_at: dt.datetime) -> list[dict[str, Any]]:
    """Per campaign, what per_campaign_rows(start_at, end_at) gives: rolled-up days from the rollup, the
    other days (today) from the dispatches. Two queries."""
    start, end = _local_day(start_at), _local_day(end_at)
    if start is None or end is None or start >= end:
        return per_campaign_rows(start_at, end_at)
    rolled, marked = _rolled_up(start, end)
    live, day = Q(pk__in=[]), start
    while day < end:
        if day in marked:
            day += dt.timedelta(days=1)
            continue
        run_end = day
        while run_end < end and run_end not in marked:
            run_end += dt.timedelta(days=1)
        live |= Q(sent_at__gte=day_start(day), sent_at__lt=day_start(run_end))
        day = run_end
    parts = [rolled]
    if len(marked) < (end - start).days:
        parts.append(_dispatch_rows(live))
    merged: dict[int, dict[str, Any]] = {}
    for part in parts:
        for raw in part:
            row = merged.setdefault(raw["campaign_id"], _empty(**{label: raw[label] for label in LABELS}))
            _add(row, raw)
    return sorted(merged.values(), key=lambda row: (-row["sent"], row["campaign_id"]))


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    sent = row["sent"]

    def rate(part: int) -> float | None:
        return round(part / sent, 4) if sent else None

    row.update(
        paid_7_rate=rate(row["paid_7"]),
        paid_30_rate=rate(row["paid_30"]),
        opt_out_rate=rate(row["opted_out"]),
        wrong_number_rate=rate(row["wrong_number"]),
    )
    return row


def _empty(**labels: Any) -> dict[str, Any]:
    return {**labels, **dict.fromkeys(COUNTS, 0), **{name: Decimal("0") for name in AMOUNTS}}


def _add(total: dict[str, Any], row: dict[str, Any]) -> None:
    for name in (*COUNTS, *AMOUNTS):
        total[name] += row[name]


def reminder_outcomes(start_at: dt.datetime, end_at: dt.datetime, *, limit: int = 50) -> dict[str, Any]:
    """Per campaign (most reminders first, up to `limit`), per template, and the total of the period, each
    with its counts, amounts and rates (None when nothing was sent); the Painel's funnel and the chart of
    the amount recovered within 30 days per campaign (top 10). Two queries: the rollup, today's dispatches."""
    campaigns, templates = [], {}
    total = _empty(name="Total")
    for raw in _rows(start_at, end_at):
        row = _empty(
            id=raw["campaign_id"], name=raw["campaign__name"], template=raw["campaign__template__name"]
        )
        _add(row, raw)
        _add(total, row)
        template = templates.setdefault(
            raw["campaign__template_id"],
            _empty(id=raw["campaign__template_id"], name=raw["campaign__template__name"], campaigns=0),
        )
        template["campaigns"] += 1
        _add(template, row)
        campaigns.append(_with_rates(row))
    by_template = sorted(templates.values(), key=lambda t: (-t["sent"], t["name"]))
    top = sorted((c for c in campaigns if c["paid_30_amount"]), key=lambda c: -c["paid_30_amount"])[:10]
    return {
        "funnel": {name: total[name] for name in FUNNEL},
        "recovery_chart": {
            "labels": [c["name"] for c in top],
            "values": [float(c["paid_30_amount"]) for c in top],
        },
        "campaigns": campaigns[:limit],
        "campaigns_total": len(campaigns),
        "templates": [_with_rates(t) for t in by_template],
        "total": _with_rates(total),
        "follow_days": FOLLOW_DAYS,
    }


def deals_in_period(start_at: dt.datetime, end_at: dt.datetime) -> dict[str, Any]:
    """Promises made in the period by what became of them, and agreements made in the period. Two queries."""
    promise_status = PromiseToPay.Status
    promises = PromiseToPay.objects.filter(created_at__gte=start_at, created_at__lt=end_at).aggregate(
        total=Count("pk"),
        kept=Count("pk", filter=Q(status=promise_status.KEPT)),
        broken=Count("pk", filter=Q(status=promise_status.BROKEN)),
        pending=Count("pk", filter=Q(status=promise_status.PENDING)),
    )
    agreements = Agreement.objects.filter(created_at__gte=start_at, created_at__lt=end_at).aggregate(
        total=Count("pk"),
        amount=Coalesce(Sum("total_amount"), Value(Decimal("0"))),
        broken=Count("pk", filter=Q(status=Agreement.Status.BROKEN)),
    )
    settled = promises["kept"] + promises["broken"]
    return {
        "promises": promises,
        "promises_kept_rate": round(promises["kept"] / settled, 4) if settled else None,
        "agreements": agreements,
    }
