"""billing 0006 on a database with clients: every phone hashed, the opted-out numbers listed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing import suppression

BEFORE = [("billing", "0005_default_regua")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_every_phone_and_lists_the_opted_out_numbers():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    Client = old_apps.get_model("billing", "Client")
    now = timezone.now()
    Client.objects.create(name="Ativa", phone="+5511912345678")
    Client.objects.create(name="Saiu", phone="+5511987654321", opted_out_at=now)
    Client.objects.create(name="Titular anonimizado #3", phone="+0003", opted_out_at=now, forgotten_at=now)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    from billing.models import Client as CurrentClient

    assert all(c.phone_hash == suppression.phone_hash(c.phone) for c in CurrentClient.objects.all())
    assert suppression.is_suppressed("+5511987654321") and suppression.is_suppressed("+551187654321")
    assert not suppression.is_suppressed("+5511912345678")
    assert not suppression.is_suppressed("+0003")
