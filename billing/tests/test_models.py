from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import Campaign, Charge, Dispatch
from billing.tests.factories import CampaignFactory, ChargeFactory, ClientFactory, DispatchFactory

pytestmark = pytest.mark.django_db


def test_a_charge_amount_must_be_positive():
    client = ClientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Charge.objects.create(client=client, amount=Decimal("0"), due_date=dt.date(2026, 1, 1))


def test_a_charge_status_must_be_known():
    charge = ChargeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Charge.objects.filter(pk=charge.pk).update(status="perdoada")


def test_phones_and_external_ids_are_unique():
    client = ClientFactory(phone="+5511999990000")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClientFactory(phone="+5511999990000")
    ChargeFactory(client=client, external_id="X1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChargeFactory(client=client, external_id="X1")


def test_a_campaign_sends_once_per_charge():
    dispatch = DispatchFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispatch.objects.create(campaign=dispatch.campaign, charge=dispatch.charge, client=dispatch.client)


def test_waha_message_ids_are_unique():
    DispatchFactory(waha_message_id="true_5511@c.us_ABC")
    with pytest.raises(IntegrityError), transaction.atomic():
        DispatchFactory(waha_message_id="true_5511@c.us_ABC")


def test_jitter_cannot_exceed_delay():
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(delay_seconds=Decimal("1"), jitter_seconds=Decimal("2"))


def test_suppression_and_derived_values():
    client = ClientFactory(name="Maria Aparecida Souza", phone="+5511987654321")
    assert client.first_name == "Maria"
    assert client.masked_phone == "+5511*****4321"
    assert not client.is_suppressed
    client.wrong_number = True
    assert client.is_suppressed
    charge = ChargeFactory(client=client, due_date=dt.date(2026, 1, 10))
    assert charge.days_overdue(dt.date(2026, 1, 15)) == 5
    assert charge.days_overdue(dt.date(2026, 1, 5)) == 0
    assert charge.accepts_reminders
    charge.status = Charge.Status.DISPUTED
    assert not charge.accepts_reminders and charge.is_open


def test_campaign_finished_states():
    campaign = CampaignFactory()
    assert not campaign.is_finished
    campaign.status = Campaign.Status.CANCELLED
    assert campaign.is_finished
