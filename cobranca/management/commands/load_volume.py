"""Fill an empty database with a production-sized, deterministic data set for page benchmarks and manual
checks of the dashboard at volume: `manage.py load_volume --charges 100000 --conversations 10000`.

What it builds (same seed → same rows): clients (0.6 per charge, some opted out or wrong number), charges in
every status over the last 120 days and the next 30 (paid ones with `paid_at`), templates, campaigns with
dispatches in every state (and some régua daily campaigns with their planned reminders), promises and
agreements in every status, conversations with inbound and outbound messages (intents, replies to a
campaign). Rows go in with bulk_create in batches; no service runs, so nothing is sent and no task queued.
Needs an empty client table (use a throwaway database): it never mixes its fake debtors with real ones.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from billing.models import (
    Agreement,
    Campaign,
    Charge,
    Client,
    Dispatch,
    ImportBatch,
    MessageTemplate,
    PromiseToPay,
    Regua,
    ReguaEntry,
)
from billing.suppression import phone_hash
from conversations.models import Conversation, Message

BATCH = 2000
CS = Charge.Status
DS = Dispatch.Status
INTENTS = (
    "promessa_pagamento",
    "confirmacao_pagamento",
    "negociacao",
    "saudacao",
    "opt_out",
    "pessoa_errada",
)


class Command(BaseCommand):
    help = (
        "Cria dados de volume (clientes, cobranças, campanhas, conversas) num banco vazio, para benchmarks."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--charges", type=int, default=100_000)
        parser.add_argument("--conversations", type=int, default=10_000)
        parser.add_argument("--campaigns", type=int, default=30)
        parser.add_argument("--seed", type=int, default=13)

    def handle(self, *args, **options) -> None:
        if Client.objects.exists():
            raise CommandError(
                "O banco já tem clientes: use um banco vazio (load_volume só cria dados de teste)."
            )
        started = time.monotonic()
        builder = _Builder(random.Random(options["seed"]), timezone.now(), seed=options["seed"])
        with transaction.atomic():
            counts = builder.build(
                charges=options["charges"],
                conversations=options["conversations"],
                campaigns=options["campaigns"],
            )
        summary = ", ".join(f"{name}: {n}" for name, n in counts.items())
        self.stdout.write(f"Dados criados em {time.monotonic() - started:.1f} s — {summary}.")


class _Builder:
    def __init__(self, rng: random.Random, now: dt.datetime, *, seed: int) -> None:
        self.rng = rng
        self.seed = seed
        self.now = now
        self.today = timezone.localdate(now)
        self.counts: dict[str, int] = {}

    def _bulk(self, model, rows: list) -> list:
        created = []
        for start in range(0, len(rows), BATCH):
            created.extend(model.objects.bulk_create(rows[start : start + BATCH]))
        self.counts[model._meta.verbose_name_plural] = self.counts.get(
            model._meta.verbose_name_plural, 0
        ) + len(rows)
        return created

    def build(self, *, charges: int, conversations: int, campaigns: int) -> dict[str, int]:
        clients = self._clients(max(1, int(charges * 0.6)))
        charge_rows = self._charges(clients, charges)
        templates = self._templates()
        campaign_rows = self._campaigns(templates, campaigns)
        dispatches = self._dispatches(campaign_rows, charge_rows)
        self._regua_entries(charge_rows, dispatches)
        self._promises_and_agreements(charge_rows)
        self._conversations(clients, dispatches, conversations)
        return self.counts

    # long-function: one row literal per client, fields in model order
    def _clients(self, n: int) -> list[Client]:
        rng, rows = self.rng, []
        for i in range(n):
            phone = f"+55{11 + i % 89:02d}9{i:08d}"
            opted_out = self.now - dt.timedelta(days=rng.randint(0, 90)) if rng.random() < 0.03 else None
            rows.append(
                Client(
                    name=f"Devedor {i:06d} {rng.choice(('Silva', 'Souza', 'Lima', 'Costa', 'Pereira'))}",
                    phone=phone,
                    phone_hash=phone_hash(phone),
                    chat_id=f"55{phone[3:]}@c.us" if rng.random() < 0.8 else "",
                    opted_out_at=opted_out,
                    wrong_number=rng.random() < 0.02,
                    whatsapp_checked_at=self.now if rng.random() < 0.8 else None,
                )
            )
        return self._bulk(Client, rows)

    def _charges(self, clients: list[Client], n: int) -> list[Charge]:
        rng, rows = self.rng, []
        batch = ImportBatch.objects.create(
            filename="volume.csv", file_format="csv", total_rows=n, imported_rows=n
        )
        statuses = [CS.OPEN] * 60 + [CS.PAID] * 18 + [CS.PROMISED] * 8 + [CS.NEGOTIATING] * 6
        statuses += [CS.CANCELLED] * 4 + [CS.PAYMENT_CLAIMED] * 2 + [CS.DISPUTED] * 2
        for i in range(n):
            status = rng.choice(statuses)
            due = self.today + dt.timedelta(days=rng.randint(-120, 30))
            paid_at = self.now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23))
            rows.append(
                Charge(
                    client=clients[i % len(clients)],
                    external_id=f"VOL-{i:07d}",
                    amount=Decimal(rng.randint(2000, 250000)) / 100,
                    due_date=due,
                    description=f"Mensalidade {due:%m/%Y}" if rng.random() < 0.9 else "",
                    status=status,
                    import_batch=batch,
                    paid_at=paid_at if status == CS.PAID else None,
                )
            )
        return self._bulk(Charge, rows)

    def _templates(self) -> list[MessageTemplate]:
        rows = [
            MessageTemplate(
                name=f"volume-{self.seed}-{i}",
                title=f"Lembrete {i}",
                body='Olá {primeiro_nome}, consta em aberto {descricao|"sua mensalidade"} no valor de '
                "{valor}, vencimento {vencimento}. Credor: {credor}.",
            )
            for i in range(5)
        ]
        return self._bulk(MessageTemplate, rows)

    def _campaigns(self, templates: list[MessageTemplate], n: int) -> list[Campaign]:
        rng, rows = self.rng, []
        regua = Regua.objects.filter(is_default=True).first()
        for i in range(n):
            started = self.now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 12))
            done = i >= 3
            rows.append(
                Campaign(
                    name=f"Campanha {i + 1:03d}",
                    template=templates[i % len(templates)],
                    status=Campaign.Status.COMPLETED if done else Campaign.Status.RUNNING,
                    started_at=started,
                    finished_at=started + dt.timedelta(hours=6) if done else None,
                    send_window="always",
                    regua=regua if regua is not None and i % 5 == 4 else None,
                    regua_day=started.date() if regua is not None and i % 5 == 4 else None,
                )
            )
        return self._bulk(Campaign, rows)

    def _dispatches(self, campaigns: list[Campaign], charges: list[Charge]) -> list[Dispatch]:
        """About half the charges get a message from one to three campaigns (never twice from one)."""
        rng, rows = self.rng, []
        outcomes = [DS.READ] * 40 + [DS.DELIVERED] * 30 + [DS.SENT] * 15 + [DS.FAILED] * 5 + [DS.SKIPPED] * 5
        outcomes += [DS.PENDING] * 5
        for charge in charges[: len(charges) // 2]:
            for campaign in rng.sample(campaigns, k=min(len(campaigns), rng.randint(1, 3))):
                status = rng.choice(outcomes)
                sent = campaign.started_at + dt.timedelta(minutes=rng.randint(0, 300))
                has_sent = status in (DS.SENT, DS.DELIVERED, DS.READ)
                rows.append(
                    Dispatch(
                        campaign=campaign,
                        charge_id=charge.pk,
                        client_id=charge.client_id,
                        status=status,
                        reason="sem WhatsApp" if status == DS.SKIPPED else "",
                        sent_at=sent if has_sent else None,
                        delivered_at=sent + dt.timedelta(seconds=5)
                        if status in (DS.DELIVERED, DS.READ)
                        else None,
                        read_at=sent + dt.timedelta(minutes=30) if status == DS.READ else None,
                        body="Olá, consta em aberto…" if has_sent else "",
                    )
                )
        return self._bulk(Dispatch, rows)

    def _regua_entries(self, charges: list[Charge], dispatches: list[Dispatch]) -> None:
        regua = Regua.objects.filter(is_default=True).prefetch_related("steps").first()
        steps = list(regua.steps.all()) if regua else []
        if not steps:
            return
        rows = []
        for index, charge in enumerate(charges[: len(charges) // 10]):
            step = steps[index % len(steps)]
            day = charge.due_date + dt.timedelta(days=step.offset_days)
            rows.append(
                ReguaEntry(
                    regua=regua,
                    step=step,
                    charge_id=charge.pk,
                    client_id=charge.client_id,
                    ref_date=charge.due_date,
                    day=day,
                    status=ReguaEntry.Status.PLANNED if index % 4 else ReguaEntry.Status.SKIPPED,
                    reason="" if index % 4 else "opt_out",
                )
            )
        self._bulk(ReguaEntry, rows)

    def _promises_and_agreements(self, charges: list[Charge]) -> None:
        rng = self.rng
        promises, agreements = [], []
        for charge in charges:
            if charge.status == CS.PROMISED or (charge.status == CS.PAID and rng.random() < 0.2):
                promises.append(
                    PromiseToPay(
                        charge_id=charge.pk,
                        promised_date=self.today + dt.timedelta(days=rng.randint(-30, 15)),
                        status=rng.choice(list(PromiseToPay.Status)),
                    )
                )
            elif charge.status == CS.NEGOTIATING:
                installments = rng.randint(2, 6)
                agreements.append(
                    Agreement(
                        charge_id=charge.pk,
                        installments=installments,
                        installment_amount=(charge.amount / installments).quantize(Decimal("0.01")),
                        total_amount=charge.amount,
                        first_due_date=self.today + dt.timedelta(days=rng.randint(1, 30)),
                        status=rng.choice(list(Agreement.Status)),
                    )
                )
        self._bulk(PromiseToPay, promises)
        self._bulk(Agreement, agreements)
        # created_at is auto_now_add: spread it over the last 60 days like real promises.
        for model in (PromiseToPay, Agreement):
            ids = list(model.objects.values_list("pk", flat=True))
            for offset in range(0, 60):
                chunk = ids[offset::60]
                if chunk:
                    model.objects.filter(pk__in=chunk).update(created_at=self.now - dt.timedelta(days=offset))

    # long-function: conversations and their messages are built together (each message needs its chat)
    def _conversations(self, clients: list[Client], dispatches: list[Dispatch], n: int) -> None:
        rng = self.rng
        sent_by_client = {d.client_id: d for d in dispatches if d.sent_at is not None}
        chosen = [c for c in clients if c.pk in sent_by_client][:n]
        chosen += [c for c in clients if c.pk not in sent_by_client][: n - len(chosen)]
        states = (
            [Conversation.State.BOT] * 80 + [Conversation.State.HUMAN] * 12 + [Conversation.State.CLOSED] * 8
        )
        conversations = self._bulk(
            Conversation,
            [
                Conversation(
                    client=client,
                    chat_id=f"55{client.phone[3:]}@c.us",
                    state=rng.choice(states),
                    needs_attention=rng.random() < 0.1,
                    last_message_at=self.now - dt.timedelta(hours=rng.randint(0, 24 * 30)),
                )
                for client in chosen
            ],
        )
        messages = []
        for conversation, client in zip(conversations, chosen, strict=True):
            dispatch = sent_by_client.get(client.pk)
            at = dispatch.sent_at if dispatch else conversation.last_message_at - dt.timedelta(hours=2)
            if dispatch:
                messages.append(
                    Message(
                        conversation=conversation,
                        direction=Message.Direction.OUT,
                        author=Message.Author.CAMPAIGN,
                        body=dispatch.body or "Lembrete",
                        dispatch_id=dispatch.pk,
                        sent_at=at,
                    )
                )
            for turn in range(rng.randint(1, 3)):
                at = at + dt.timedelta(minutes=rng.randint(5, 600))
                intent = rng.choice(INTENTS)
                messages.append(
                    Message(
                        conversation=conversation,
                        direction=Message.Direction.IN,
                        author=Message.Author.DEBTOR,
                        body=f"Mensagem {turn + 1} do devedor",
                        intent=intent,
                        confidence=round(rng.uniform(0.5, 0.99), 2),
                        sent_at=at,
                    )
                )
                messages.append(
                    Message(
                        conversation=conversation,
                        direction=Message.Direction.OUT,
                        author=Message.Author.BOT,
                        body="Resposta do assistente",
                        sent_at=at + dt.timedelta(seconds=20),
                    )
                )
        self._bulk(Message, messages)
        # What conversations.recording keeps per debtor message, for the inbox's unread counts.
        newest = Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.IN).order_by(
            "-pk"
        )
        Conversation.objects.update(last_inbound_id=Subquery(newest.values("pk")[:1]))
