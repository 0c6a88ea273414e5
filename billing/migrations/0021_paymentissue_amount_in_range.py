"""PaymentIssue.amount: rows holding a value the field cannot hold (an OFX "1E+400" stored as inf, NaN) are
neutralised (amount NULL, the reason in `note` and `details`), then a CHECK keeps such values out. Before
this, every page that read such a row (the payments queue, the admin) answered 500 (third outside test)."""

from decimal import Decimal

from django.db import migrations, models

LIMIT = "9999999999.99"
NOTE = "Valor inválido (não finito ou fora do limite) removido pela migração billing 0021."


def neutralise(apps, schema_editor):
    PaymentIssue = apps.get_model("billing", "PaymentIssue")
    table = schema_editor.connection.ops.quote_name(PaymentIssue._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        # Read in SQL: the ORM's decimal converter itself fails on such a value. NaN sorts above every number
        # in PostgreSQL, and in SQLite a non-numeric text ('Infinity', 'NaN') sorts above every number too.
        cursor.execute(
            f"SELECT id, CAST(amount AS TEXT) FROM {table} "
            f"WHERE amount IS NOT NULL AND NOT (amount BETWEEN -{LIMIT} AND {LIMIT})"
        )
        bad = cursor.fetchall()
    for pk, shown in bad:
        row = PaymentIssue.objects.only("pk", "details", "note").get(pk=pk)
        details = dict(row.details or {})
        details["amount_removed"] = str(shown)[:40]
        note = f"{row.note}\n{NOTE}".strip()
        PaymentIssue.objects.filter(pk=pk).update(amount=None, details=details, note=note)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0020_client_search_name"),
    ]

    operations = [
        migrations.RunPython(neutralise, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="paymentissue",
            constraint=models.CheckConstraint(
                condition=models.Q(amount__isnull=True)
                | models.Q(amount__gte=Decimal("-" + LIMIT), amount__lte=Decimal(LIMIT)),
                name="paymentissue_amount_in_range",
            ),
        ),
    ]
