"""The tester's debtor inside Django: November was paid by Pix a moment ago, December is open; "já paguei a de
novembro" must not put the claim on December."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Charge
from billing.tests.factories import ChargeFactory, ClientFactory
from chatbot.selectors import bot_client_snapshot
from chatbot.tests import test_bot_flow as flow
from chatbot.tests.test_bot_flow import say
from conversations.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db
classified, waha = flow.classified, flow.waha


def paid(client, month: int, name: str, *, days_ago: int, amount: str = "800.00") -> Charge:
    return ChargeFactory(
        client=client,
        amount=Decimal(amount),
        due_date=dt.date(2025, month, 10),
        description=f"Mensalidade escolar {name}",
        status=Charge.Status.PAID,
        paid_at=timezone.now() - dt.timedelta(days=days_ago),
        amount_paid=Decimal(amount),
    )


def test_the_snapshot_holds_the_charges_paid_in_the_last_60_days_with_amount_and_day():
    client = ClientFactory()
    november = paid(client, 11, "novembro", days_ago=0)
    paid(client, 8, "agosto", days_ago=90)
    ChargeFactory(client=client, amount=Decimal("800.00"), due_date=dt.date(2025, 12, 10))
    snap = bot_client_snapshot(client=client, with_limits=False)
    assert [c.id for c in snap.recent_paid] == [november.pk]
    assert snap.recent_paid[0].paid_amount == Decimal("800.00")
    assert snap.recent_paid[0].paid_on == timezone.localdate(november.paid_at)


def test_a_claim_of_the_month_just_paid_leaves_december_open(classified, waha):
    client = ClientFactory(name="Cláudia Reis")
    paid(client, 11, "novembro", days_ago=0)
    december = ChargeFactory(
        client=client,
        amount=Decimal("800.00"),
        due_date=dt.date(2025, 12, 10),
        description="Mensalidade escolar dezembro",
    )
    conversation = ConversationFactory(client=client)
    say(conversation, "já paguei a de novembro, segue o comprovante")
    december.refresh_from_db()
    assert december.status == Charge.Status.OPEN
    assert "já está paga" in waha.sent[-1][1] and "novembro" in waha.sent[-1][1]
