"""factory_boy factories for the billing models (shared by every app's tests)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from billing.models import Campaign, Charge, Client, Dispatch, MessageTemplate


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Cliente {n}")
    # +55 11 9xxxx-xxxx: valid São Paulo mobiles, unique per sequence number.
    phone = factory.Sequence(lambda n: f"+55119{n:08d}")


class ChargeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charge

    client = factory.SubFactory(ClientFactory)
    external_id = factory.Sequence(lambda n: f"CHG-{n:06d}")
    amount = Decimal("150.50")
    due_date = factory.LazyFunction(lambda: dt.date.today() + dt.timedelta(days=5))
    description = "Mensalidade"


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"modelo-{n}")
    body = "Olá {name}, sua fatura de {amount} vence em {due_date}."


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campanha {n}")
    template = factory.SubFactory(MessageTemplateFactory)
    delay_seconds = Decimal("0")
    jitter_seconds = Decimal("0")


class DispatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dispatch

    campaign = factory.SubFactory(CampaignFactory)
    charge = factory.SubFactory(ChargeFactory)
    client = factory.SelfAttribute("charge.client")
