"""The Painel's per-day rollup (#13) gives exactly the figures of the query over the dispatches, on varied
data, for any period; the schedule and the command keep it so."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Agreement, Charge, Dispatch, PromiseToPay
from billing.tests.factories import (
    CampaignFactory,
    ChargeFactory,
    ClientFactory,
    DispatchFactory,
    MessageTemplateFactory,
)
from cobranca.dashboard import rollup
from cobranca.dashboard.models import OutcomeRollup
from cobranca.dashboard.outcomes import reminder_outcomes
from cobranca.dashboard.selectors import DateRange
from cobranca.dashboard.tasks import outcomes_rollup_task
from conversations.models import Conversation, Message
from conversations.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _at(rng: random.Random, base: dt.datetime, low: float, high: float) -> dt.datetime:
    return base + dt.timedelta(seconds=rng.uniform(low, high) * 86400)


def _varied_world(seed: int = 13, reminders: int = 90) -> None:
    """Reminders spread over 45 days (today included) in five campaigns of three templates, with every kind
    of follow-up on both sides of each 7/30-day limit, a wrong number, and replies."""
    rng = random.Random(seed)
    now = timezone.now()
    templates = [MessageTemplateFactory(name=name) for name in ("lembrete", "ultimo-aviso", "acordo")]
    campaigns = [CampaignFactory(name=f"C{i}", template=templates[i % 3]) for i in range(5)]
    clients = [
        ClientFactory(
            wrong_number=rng.random() < 0.15,
            opted_out_at=_at(rng, now, -40, 0) if rng.random() < 0.3 else None,
        )
        for _ in range(25)
    ]
    conversations: dict[int, Conversation] = {}
    for _ in range(reminders):
        client = rng.choice(clients)
        charge = ChargeFactory(client=client, amount=Decimal(rng.randrange(1000, 90000)) / 100)
        sent = _at(rng, now, -45, 0)
        DispatchFactory(
            campaign=rng.choice(campaigns),
            charge=charge,
            client=client,
            status=rng.choice([Dispatch.Status.SENT, Dispatch.Status.DELIVERED, Dispatch.Status.READ]),
            sent_at=sent,
        )
        if rng.random() < 0.5:
            Charge.objects.filter(pk=charge.pk).update(
                status=Charge.Status.PAID, paid_at=min(now, _at(rng, sent, -3, 35))
            )
        for _ in range(rng.randrange(3)):
            promise = PromiseToPay.objects.create(
                charge=charge,
                promised_date=timezone.localdate(),
                status=rng.choice(["kept", "broken", "pending"]),
            )
            PromiseToPay.objects.filter(pk=promise.pk).update(created_at=min(now, _at(rng, sent, -5, 35)))
        if rng.random() < 0.3:
            deal = Agreement.objects.create(
                charge=charge,
                installments=2,
                installment_amount=Decimal("10.00"),
                total_amount=Decimal("20.00"),
                first_due_date=timezone.localdate(),
            )
            Agreement.objects.filter(pk=deal.pk).update(created_at=min(now, _at(rng, sent, -5, 35)))
        if rng.random() < 0.3:
            reply = MessageFactory(
                conversation=conversations.get(client.pk) or ConversationFactory(client=client),
                sent_at=min(now, _at(rng, sent, -2, 10)),
                source=rng.choice([Message.Source.WHATSAPP, Message.Source.API]),
            )
            conversations[client.pk] = reply.conversation
    DispatchFactory(campaign=campaigns[0], status=Dispatch.Status.PENDING, sent_at=None)


def _periods() -> list[DateRange]:
    today = timezone.localdate()
    return [
        DateRange.last_days(30),
        DateRange.last_days(7),
        DateRange.last_days(1),
        DateRange.last_days(90),
        DateRange(start=today - 40 * DAY, end=today - 20 * DAY),
        DateRange(start=today - 3 * DAY, end=today - 3 * DAY),
    ]


def _all_figures() -> list[dict]:
    return [reminder_outcomes(p.start_at, p.end_at, limit=100) for p in _periods()]


@pytest.mark.parametrize("seed", [13, 2026])
def test_the_rollup_gives_the_same_figures_as_the_dispatches(seed):
    _varied_world(seed)
    live = _all_figures()
    assert not OutcomeRollup.objects.exists()
    call_command("outcomes_rollup", "--all")
    marks = OutcomeRollup.objects.filter(campaign=None)
    assert marks.count() >= 44 and OutcomeRollup.objects.exclude(campaign=None).exists()
    assert not OutcomeRollup.objects.filter(day=timezone.localdate()).exists()  # today stays live
    assert _all_figures() == live
    assert live[0]["total"]["sent"] > 20 and live[0]["total"]["paid_30"] > 0  # the data is not empty


def test_the_painel_reads_rolled_up_days_in_two_queries(django_assert_max_num_queries):
    _varied_world(reminders=40)
    call_command("outcomes_rollup", "--all")
    period = DateRange.last_days(30)
    with django_assert_max_num_queries(2):
        reminder_outcomes(period.start_at, period.end_at)


def _rows() -> list[tuple]:
    return list(
        OutcomeRollup.objects.exclude(campaign=None)
        .order_by("day", "campaign_id")
        .values_list("day", "campaign_id", "sent", "paid_7", "paid_7_amount")
    )


def test_the_schedule_catches_up_with_what_changed_and_running_it_twice_changes_nothing():
    _varied_world(reminders=40)
    outcomes_rollup_task()
    today = timezone.localdate()
    recent = Dispatch.objects.filter(
        sent_at__gte=DateRange.last_days(20).start_at, sent_at__lt=DateRange.last_days(1).start_at
    )
    for dispatch in recent.exclude(charge__status=Charge.Status.PAID)[:10]:
        Charge.objects.filter(pk=dispatch.charge_id).update(
            status=Charge.Status.PAID, paid_at=dispatch.sent_at + dt.timedelta(hours=5)
        )
    stale = _all_figures()[:3]  # the last 30, 7 and 1 days: inside what the schedule recomputes

    assert outcomes_rollup_task() == rollup.REFRESH_DAYS
    fresh, rows = _all_figures()[:3], _rows()
    assert fresh != stale
    assert OutcomeRollup.objects.filter(day__lt=today, campaign=None).count() == rollup.REFRESH_DAYS
    outcomes_rollup_task()
    assert _rows() == rows
    OutcomeRollup.objects.all().delete()
    assert _all_figures()[:3] == fresh  # what the dispatches say, without the rollup


def test_days_missing_from_the_rollup_are_computed_from_the_dispatches():
    _varied_world(seed=7)
    live = _all_figures()
    call_command("outcomes_rollup", "--all")
    today = timezone.localdate()
    OutcomeRollup.objects.filter(day__in=[today - 5 * DAY, today - 6 * DAY, today - 33 * DAY]).delete()
    assert _all_figures() == live


def test_today_is_never_rolled_up():
    with pytest.raises(ValueError):
        rollup.outcomes_rollup_day(day=timezone.localdate())
