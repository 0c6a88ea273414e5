"""Scripts bench/load_api.py runs through `manage.py shell`: seed the throwaway database, verify it."""

SEED = """
import datetime as dt, os, random
from decimal import Decimal
from django.contrib.auth.models import Group, User
from django.utils import timezone
from billing.models import Campaign, Charge, Client, Dispatch, MessageTemplate
from conversations.models import Conversation, Message
from cobranca.roles import INTEGRATORS

n = int(os.environ["LOAD_SEED_CLIENTS"])
rng = random.Random(7)
now = timezone.now()
clients = Client.objects.bulk_create(
    [Client(name=f"Devedor Carga {i}", phone=f"+55119{i:08d}") for i in range(n)], batch_size=2000
)
statuses = ["open", "open", "open", "promised", "paid", "negotiating"]
charges = Charge.objects.bulk_create(
    [
        Charge(
            client=c, external_id=f"LOAD-{i:07d}", amount=Decimal(rng.randint(1000, 500000)) / 100,
            due_date=dt.date(2026, 1 + i % 12, 1 + i % 28), description=f"Mensalidade {1 + i % 12:02d}/2026",
            status=statuses[i % len(statuses)],
        )
        for i, c in enumerate(clients)
    ],
    batch_size=2000,
)
template = MessageTemplate.objects.create(
    name="carga", body="Olá {name}, sua fatura de {amount} vence em {due_date}."
)
campaign = Campaign.objects.create(
    name="Carga", template=template, status="completed", total=min(n, 1000),
    delay_seconds=0, jitter_seconds=0,
    started_at=now - dt.timedelta(hours=1), finished_at=now - dt.timedelta(minutes=5),
)
dispatch_statuses = ["sent", "delivered", "read", "read", "failed", "skipped"]
Dispatch.objects.bulk_create(
    [
        Dispatch(
            campaign=campaign, charge=ch, client_id=ch.client_id, status=dispatch_statuses[i % 6],
            sent_at=now - dt.timedelta(minutes=50 - i % 45), waha_message_id=f"true_load_{i}",
        )
        for i, ch in enumerate(charges[: min(n, 1000)])
    ],
    batch_size=2000,
)
conversations = Conversation.objects.bulk_create(
    [
        Conversation(
            client=c, chat_id=c.phone.lstrip("+") + "@c.us", last_message_at=now - dt.timedelta(minutes=i),
            state="human" if i % 10 == 0 else "bot", needs_attention=i % 10 == 0,
        )
        for i, c in enumerate(clients[: min(n, 300)])
    ]
)
Message.objects.bulk_create(
    [
        Message(conversation=conv, direction="in" if k % 2 else "out", author="debtor" if k % 2 else "bot",
                body="Olá, quero negociar a fatura." if k % 2 else "Olá! Posso ajudar com a sua fatura.",
                sent_at=now - dt.timedelta(minutes=10 * k), intent="negociacao" if k % 2 else "")
        for conv in conversations
        for k in range(4)
    ],
    batch_size=2000,
)
user = User.objects.create_user(os.environ["LOAD_USERNAME"], password=os.environ["LOAD_PASSWORD"])
user.groups.add(Group.objects.get(name=INTEGRATORS))
print(f"seeded {n} clients/charges, {min(n, 1000)} dispatches, {len(conversations)} conversations")
"""

VERIFY = """
import json, os
from django.conf import settings
from django_q.conf import Conf
from whatsapp.models import WebhookEvent

prefix = os.environ["LOAD_EVENT_PREFIX"]
result = {"events_total": WebhookEvent.objects.count(),
          "events_run": WebhookEvent.objects.filter(event_id__startswith=prefix).count()}
if settings.REDIS_URL:
    import redis
    r = redis.Redis.from_url(settings.REDIS_URL)
    result["tasks_enqueued"] = r.llen(f"django_q:{Conf.CLUSTER_NAME}:q")
else:
    from django_q.models import OrmQ
    result["tasks_enqueued"] = OrmQ.objects.count()
print("VERIFY " + json.dumps(result))
"""
