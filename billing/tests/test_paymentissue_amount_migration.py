"""billing 0021 on a database where an OFX "1E+400" / NaN left a PaymentIssue no page could read (third
outside test): the row is neutralised and the queue answers again; the CHECK keeps new ones out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from billing.models import PaymentIssue

BEFORE = [("billing", "0020_client_search_name")]


def _insert_raw(table: str, key: str, amount: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, status, amount, key, details, note, created_at) "  # noqa: S608 (model's table)
            "VALUES ('unmatched', 'open', %s, %s, '{}', '', CURRENT_TIMESTAMP)",
            [amount, key],
        )


@pytest.mark.django_db(transaction=True)
def test_the_migration_neutralises_non_finite_amounts_and_the_queue_answers_again(admin_client):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    table = PaymentIssue._meta.db_table
    _insert_raw(table, "statement:x:ok", "189.90")
    if connection.vendor == "postgresql":
        # numeric(12,2) cannot hold an infinite value on PostgreSQL (it refuses the row), but it holds NaN.
        _insert_raw(table, "statement:x:nan", "NaN")
    else:
        # SQLite stores whatever it is given: the "1E+400" that got through was read back as inf.
        _insert_raw(table, "statement:x:inf", "Infinity")
        _insert_raw(table, "statement:x:ninf", "-Infinity")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    bad = PaymentIssue.objects.exclude(key="statement:x:ok")
    assert bad.count() >= 1 and all(issue.amount is None for issue in bad)
    assert all("billing 0021" in issue.note and issue.details["amount_removed"] for issue in bad)
    assert PaymentIssue.objects.get(key="statement:x:ok").amount == Decimal("189.90")
    assert admin_client.get("/painel/pagamentos/pendencias/?tipo=unmatched").status_code == 200
    assert admin_client.get("/admin/billing/paymentissue/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [Decimal("1E+400"), Decimal("-1E+400"), Decimal("1E+10")])
def test_the_database_refuses_an_amount_the_field_cannot_hold(amount):
    """Django refuses Infinity/NaN itself; 1E+400 is finite for Decimal and got through as inf on SQLite
    (the CHECK refuses it there); PostgreSQL's numeric(12,2) refuses it on its own (DataError)."""
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        PaymentIssue.objects.create(kind="unmatched", key="statement:y:1", amount=amount)
