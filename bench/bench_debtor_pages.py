"""Devedores pages benchmark: server time and query count of /painel/devedores/ (list and searches) and of a
debtor page, with 100,000 charges and 10,000 conversations, on the embedded default (SQLite).

    .venv/bin/python bench/bench_debtor_pages.py [--charges 100000] [--conversations 10000] [--repeat 15]

Builds a throwaway SQLite database (migrated, then filled with bulk_create): `--charges` charges over 40 % as
many debtors (CPFs, external ids), a status change per charge, `--conversations` conversations with 6
messages each, and one "heavy" debtor with 30 charges (history, promises, an agreement with installments,
payments) and 400 messages. Then, in the same process, a logged-in operator requests each page `--repeat`
times through Django's test client (the whole request: middleware, view, template; no network) and the
median and p95 wall time and the query count are printed. Baseline in the same run: the Painel page
(`/painel/`, the cards' aggregates over the same data). Targets (issue #13): ≤ 15 queries, ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import describe_machine


def _cpf(n: int) -> str:
    base = [int(d) for d in f"{n:09d}"]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(base, range(size + 1, 1, -1), strict=True))
        base.append((total * 10 % 11) % 10)
    return "".join(map(str, base))


# long-function: one fixture database built step by step, in order
def build(charges: int, conversations: int, seed: int = 11) -> dict:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from billing.models import Agreement, Charge, ChargeStatusChange, Client, Installment, Payment
    from billing.payments.schedule import plan_installments
    from billing.suppression import phone_hash
    from conversations.models import Conversation, Message

    rng = random.Random(seed)
    now = timezone.now()
    debtors = int(charges * 0.4)
    Client.objects.bulk_create(
        [
            Client(
                name=f"Cliente {rng.choice(['Ana', 'Bruno', 'Carla', 'Diego', 'Elisa'])} {i}",
                phone=f"+55119{i:08d}",
                phone_hash=phone_hash(f"+55119{i:08d}"),
                document=_cpf(100_000_000 + i),
            )
            for i in range(debtors)
        ],
        batch_size=5000,
    )
    ids = list(Client.objects.order_by("pk").values_list("pk", flat=True))
    rows = []
    for i in range(charges):
        rows.append(
            Charge(
                client_id=ids[i % debtors],
                external_id=f"FAT-{i:07d}",
                amount="150.50",
                due_date=dt.date(2026, 1 + i % 12, 1 + i % 28),
                description="Mensalidade",
                status="paid" if i % 5 == 0 else "open",
            )
        )
        if len(rows) >= 20000:
            Charge.objects.bulk_create(rows, batch_size=5000)
            rows = []
    Charge.objects.bulk_create(rows, batch_size=5000)
    ChargeStatusChange.objects.bulk_create(
        (
            ChargeStatusChange(
                charge_id=pk, from_status="open", to_status="paid", reason="pagamento confirmado"
            )
            for pk in Charge.objects.filter(status="paid").values_list("pk", flat=True).iterator()
        ),
        batch_size=5000,
    )
    convs = [Conversation(client_id=ids[i], chat_id=f"55119{i:08d}@c.us") for i in range(conversations)]
    Conversation.objects.bulk_create(convs, batch_size=5000)
    messages = []
    for conv in Conversation.objects.values_list("pk", flat=True).iterator():
        for k in range(6):
            incoming = k % 2 == 1
            messages.append(
                Message(
                    conversation_id=conv,
                    direction="in" if incoming else "out",
                    author="debtor" if incoming else ("campaign" if k == 0 else "bot"),
                    body="quero pagar, me manda o pix" if incoming else "Olá! Segue o PIX.",
                    sent_at=now - dt.timedelta(minutes=10 - k),
                )
            )
        if len(messages) >= 20000:
            Message.objects.bulk_create(messages, batch_size=5000)
            messages = []
    Message.objects.bulk_create(messages, batch_size=5000)

    heavy = Client.objects.get(pk=ids[0])
    extra = [
        Charge(client=heavy, external_id=f"HEAVY-{i}", amount="80.00", due_date=dt.date(2026, 3, 1 + i % 28))
        for i in range(30)
    ]
    Charge.objects.bulk_create(extra)
    first = Charge.objects.get(external_id="HEAVY-0")
    agreement = Agreement.objects.create(
        charge=first,
        installments=6,
        installment_amount="13.34",
        total_amount="80.00",
        first_due_date=now.date(),
    )
    Installment.objects.bulk_create(
        Installment(agreement=agreement, number=p.number, due_date=p.due_date, amount=p.amount)
        for p in plan_installments(amount=agreement.total_amount, installments=6, first_due_date=now.date())
    )
    Payment.objects.bulk_create(
        Payment(charge=first, source="operator", amount="13.34", paid_at=now - dt.timedelta(days=d))
        for d in range(3)
    )
    conv = Conversation.objects.get(client=heavy)
    Message.objects.bulk_create(
        Message(conversation=conv, direction="in", author="debtor", body=f"mensagem {k}", sent_at=now)
        for k in range(400)
    )
    user = User.objects.create_user("bench-operadora")  # force_login: no password needed
    user.groups.add(Group.objects.get(name="Operadores"))
    return {"heavy": heavy.pk, "document": heavy.document, "user": user.pk}


def measure(http, url: str, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http.get(url)  # warm the template cache and the session
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = http.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "median_ms": round(_common.median(times) * 1000, 1),
        "p95_ms": round(_common.percentile(times, 95) * 1000, 1),
        "queries": len(queries),
    }


def measure_pages(facts: dict, repeat: int) -> dict:
    """Each page `repeat` times as the bench operator."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client as HttpClient
    from django.test import override_settings

    # The hashed static manifest is built by collectstatic, not here: plain static URLs cost the same.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    http = HttpClient()
    http.force_login(User.objects.get(pk=facts["user"]))
    cpf = facts["document"]
    pages = {
        "baseline /painel/": "/painel/",
        "list (no search)": "/painel/devedores/",
        "list page 500": "/painel/devedores/?pagina=500",
        "search name 'carla 12'": "/painel/devedores/?q=carla+12",
        "search phone '(11) 90000-4242'": "/painel/devedores/?q=%2811%29+90000-4242",
        "search CPF with punctuation": f"/painel/devedores/?q={cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}",
        "search reference 'fat-0031337'": "/painel/devedores/?q=fat-0031337",
        "debtor page (30 charges, 400 messages)": f"/painel/devedores/{facts['heavy']}/",
        "its timeline (htmx, on load)": f"/painel/devedores/{facts['heavy']}/linha-do-tempo/",
    }
    results = {name: measure(http, url, repeat) for name, url in pages.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-debtors-"))
    env = _common.server_env(
        workdir,
        DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}",
        WAHA_WEBHOOK_HMAC_KEY="bench-hmac-" + "k" * 32,
        WAHA_BASE_URL="http://127.0.0.1:9",
        REDIS_URL="",
        ALLOWED_HOSTS="testserver",
    )
    _common.prepare_database(env)
    _common.setup_django(env)
    started = time.perf_counter()
    facts = build(args.charges, args.conversations)
    build_seconds = time.perf_counter() - started

    results = measure_pages(facts, args.repeat)
    baseline = results["baseline /painel/"]["median_ms"]
    for row in results.values():
        row["x_baseline"] = round(row["median_ms"] / baseline, 2) if baseline else None
    print(
        json.dumps(
            {
                "machine": describe_machine("SQLite"),
                "charges": args.charges,
                "conversations": args.conversations,
                "build_seconds": round(build_seconds, 1),
                "repeat": args.repeat,
                "pages": results,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
