"""Client.search_name: the name folded for the Devedores search (accents and case ignored), with a backfill."""

import unicodedata

from django.db import migrations, models


def _fold(text: str) -> str:
    # A copy of billing.models.clients.search_text as it is now: a migration must not change with the code.
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def backfill(apps, schema_editor):
    Client = apps.get_model("billing", "Client")
    batch = []
    for client in Client.objects.only("pk", "name").iterator(chunk_size=2000):
        client.search_name = _fold(client.name)
        batch.append(client)
        if len(batch) >= 2000:
            Client.objects.bulk_update(batch, ["search_name"])
            batch = []
    if batch:
        Client.objects.bulk_update(batch, ["search_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0019_campaign_cancel_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="client",
            name="search_name",
            field=models.CharField(blank=True, editable=False, max_length=200, verbose_name="nome para busca"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
