"""The Painel's results of the reminders (issue #13): recovery within 7 and 30 days of a reminder, promises
kept and broken, agreements, opt-out and wrong-number rates, per campaign and per template, in the period
picked; promises and agreements made in the period."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from billing.models import Agreement, Charge, Dispatch, PromiseToPay
from billing.tests.factories import (
    CampaignFactory,
    ChargeFactory,
    ClientFactory,
    DispatchFactory,
    MessageTemplateFactory,
)
from cobranca.dashboard.outcomes import deals_in_period, reminder_outcomes
from cobranca.dashboard.selectors import DateRange
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _created(obj, when: dt.datetime) -> None:
    type(obj).objects.filter(pk=obj.pk).update(created_at=when)


def _paid(charge: Charge, when: dt.datetime) -> None:
    Charge.objects.filter(pk=charge.pk).update(status=Charge.Status.PAID, paid_at=when)


@pytest.fixture
def world():
    now = timezone.now()
    sent = now - 12 * DAY
    lembrete, ultimo = MessageTemplateFactory(name="lembrete"), MessageTemplateFactory(name="ultimo-aviso")
    janeiro = CampaignFactory(name="Janeiro", template=lembrete, started_at=sent)
    fevereiro = CampaignFactory(name="Fevereiro", template=lembrete, started_at=sent)
    antiga = CampaignFactory(name="Antiga", template=ultimo, started_at=now - 50 * DAY)

    def reminder(campaign, at=sent, amount="100.00", **client):
        charge = ChargeFactory(amount=Decimal(amount), client=ClientFactory(**client))
        return DispatchFactory(
            campaign=campaign, charge=charge, client=charge.client, status=Dispatch.Status.READ, sent_at=at
        )

    fast = reminder(janeiro, amount="150.00")
    _paid(fast.charge, sent + 3 * DAY)  # within 7 days
    slow = reminder(janeiro, amount="80.00")
    _paid(slow.charge, sent + 10 * DAY)  # within 30, not 7
    before = reminder(janeiro, amount="999.00")
    _paid(before.charge, sent - DAY)  # paid before the reminder: not the reminder's doing
    quits = reminder(janeiro, opted_out_at=sent + 2 * DAY)
    kept = PromiseToPay.objects.create(charge=quits.charge, promised_date=timezone.localdate(), status="kept")
    _created(kept, sent + DAY)
    broken = PromiseToPay.objects.create(
        charge=quits.charge, promised_date=timezone.localdate(), status="broken"
    )
    _created(broken, sent + 2 * DAY)
    stale = PromiseToPay.objects.create(
        charge=before.charge, promised_date=timezone.localdate(), status="kept"
    )
    _created(stale, sent - 5 * DAY)  # made before the reminder
    wrong = reminder(fevereiro, wrong_number=True)
    deal = Agreement.objects.create(
        charge=wrong.charge,
        installments=2,
        installment_amount=Decimal("50.00"),
        total_amount=Decimal("100.00"),
        first_due_date=timezone.localdate(),
    )
    _created(deal, sent + 5 * DAY)
    old = reminder(antiga, at=now - 50 * DAY)  # outside the default 30-day period
    _paid(old.charge, now - 48 * DAY)
    DispatchFactory(campaign=fevereiro, status=Dispatch.Status.PENDING, sent_at=None)  # never went out
    return {"janeiro": janeiro, "fevereiro": fevereiro, "antiga": antiga}


def test_each_campaign_is_credited_with_what_followed_its_reminders(world):
    period = DateRange.last_days(30)
    results = reminder_outcomes(period.start_at, period.end_at)

    rows = {row["name"]: row for row in results["campaigns"]}
    assert set(rows) == {"Janeiro", "Fevereiro"}
    janeiro = rows["Janeiro"]
    assert (janeiro["sent"], janeiro["paid_7"], janeiro["paid_30"]) == (4, 1, 2)
    assert janeiro["paid_7_amount"] == Decimal("150.00") and janeiro["paid_30_amount"] == Decimal("230.00")
    assert (janeiro["promises_kept"], janeiro["promises_broken"], janeiro["agreements"]) == (1, 1, 0)
    assert (janeiro["opted_out"], janeiro["wrong_number"]) == (1, 0)
    assert (janeiro["paid_7_rate"], janeiro["paid_30_rate"], janeiro["opt_out_rate"]) == (0.25, 0.5, 0.25)
    fevereiro = rows["Fevereiro"]
    assert (fevereiro["sent"], fevereiro["agreements"], fevereiro["wrong_number_rate"]) == (1, 1, 1.0)
    assert results["total"]["sent"] == 5 and results["total"]["paid_30"] == 2
    assert results["recovery_chart"] == {"labels": ["Janeiro"], "values": [230.0]}


def test_templates_add_up_their_campaigns(world):
    period = DateRange.last_days(30)
    templates = reminder_outcomes(period.start_at, period.end_at)["templates"]
    assert [(t["name"], t["campaigns"], t["sent"], t["paid_30"], t["agreements"]) for t in templates] == [
        ("lembrete", 2, 5, 2, 1)
    ]


def test_the_period_picks_the_reminders_sent_in_it(world):
    today = timezone.localdate()
    period = DateRange(start=today - dt.timedelta(days=60), end=today - dt.timedelta(days=40))
    results = reminder_outcomes(period.start_at, period.end_at)
    assert [(r["name"], r["sent"], r["paid_7"]) for r in results["campaigns"]] == [("Antiga", 1, 1)]
    assert results["templates"][0]["name"] == "ultimo-aviso"


def test_nothing_sent_gives_empty_tables_and_no_rates():
    period = DateRange.last_days(30)
    results = reminder_outcomes(period.start_at, period.end_at)
    assert results["campaigns"] == [] and results["templates"] == []
    assert results["total"]["sent"] == 0 and results["total"]["paid_7_rate"] is None


def test_promises_and_agreements_made_in_the_period_by_outcome(world):
    period = DateRange.last_days(30)
    deals = deals_in_period(period.start_at, period.end_at)
    # kept + broken made after the reminder, the stale one 17 days ago: all in the last 30 days.
    assert deals["promises"] == {"total": 3, "kept": 2, "broken": 1, "pending": 0}
    assert deals["promises_kept_rate"] == round(2 / 3, 4)
    assert deals["agreements"]["total"] == 1 and deals["agreements"]["amount"] == Decimal("100.00")


@pytest.fixture
def op_client(db) -> HttpClient:
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    return client


def test_the_painel_shows_the_results_tables_in_a_bounded_number_of_queries(
    op_client, world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(15):
        response = op_client.get(reverse("dashboard:painel"))
    html = response.content.decode()
    campaigns = html.split('id="outcomes-campaigns"', 1)[1].split("</table>", 1)[0]
    janeiro = campaigns.split(f'data-outcome-id="{world["janeiro"].pk}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-col="paid_7">1 <span class="text-body-secondary">(25,0' in janeiro
    assert 'data-col="paid_30_amount">R$ 230,00' in janeiro
    assert "Antiga" not in campaigns
    templates = html.split('id="outcomes-templates"', 1)[1].split("</table>", 1)[0]
    assert "lembrete" in templates and "2 campanha(s)" in templates
    assert 'data-kpi="promises_kept">2<' in html and 'data-kpi="agreements">1<' in html
    assert response.context["charts"]["funnel"]["values"][0] == 5


def test_the_period_picker_moves_the_results(op_client, world):
    today = timezone.localdate()
    response = op_client.get(
        reverse("dashboard:painel"),
        {
            "inicio": (today - dt.timedelta(days=60)).isoformat(),
            "fim": (today - dt.timedelta(days=40)).isoformat(),
        },
    )
    campaigns = response.content.decode().split('id="outcomes-campaigns"', 1)[1].split("</table>", 1)[0]
    assert "Antiga" in campaigns and "Janeiro" not in campaigns
