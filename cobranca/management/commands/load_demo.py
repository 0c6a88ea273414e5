"""A small demo data set: a few debtors with charges in different situations. Idempotent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing.models import Charge, Client, NegotiationPolicy

DEMO = [
    ("Maria Aparecida Souza", "+5511987654321", "DEMO-001", "189.90", -12, "Mensalidade escolar outubro"),
    ("João Carlos Pereira", "+5521998765432", "DEMO-002", "350.00", 3, "Plano odontológico"),
    ("Ana Beatriz Lima", "+5531991234567", "DEMO-003", "99.90", -40, "Academia - plano mensal"),
    ("Carlos Eduardo Santos", "+5541988887777", "DEMO-004", "1234.56", 10, "Serviço de manutenção"),
    ("Fernanda Oliveira", "+5551977776666", "DEMO-005", "75.00", -3, "Pedido loja online #8841"),
    ("Fernanda Oliveira", "+5551977776666", "DEMO-006", "75.00", 27, "Pedido loja online #8842"),
]


class Command(BaseCommand):
    help = "Carrega um pequeno conjunto de dados de demonstração (idempotente)."

    @transaction.atomic
    def handle(self, *args, **options):
        today = timezone.localdate()
        for name, phone, ext_id, amount, due_in, description in DEMO:
            client, _ = Client.objects.get_or_create(phone=phone, defaults={"name": name})
            Charge.objects.get_or_create(
                external_id=ext_id,
                defaults={
                    "client": client,
                    "amount": Decimal(amount),
                    "due_date": today + dt.timedelta(days=due_in),
                    "description": description,
                },
            )
        if not NegotiationPolicy.objects.exists():
            NegotiationPolicy.objects.create()
        self.stdout.write(f"Demo: {Client.objects.count()} clientes, {Charge.objects.count()} cobranças.")
