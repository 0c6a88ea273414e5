"""Generated charge ids (`auto-…`) become keyed: the unkeyed BLAKE2b of phone|due date|description let anyone
who reads an id test guessed phone numbers against it, and it outlived `forget_client`. Each stored id that is
still the unkeyed digest of its own charge is recomputed with the key, so re-importing the same spreadsheet
keeps updating the same charges. Ids that do not match (hand-set, or a forgotten client's, phone gone)
are left as they are."""

import hashlib

from django.db import migrations


def _unkeyed(phone: str, due_iso: str, description: str) -> str:
    # Frozen copy of the old billing.importing.fields.derived_external_id.
    return "auto-" + hashlib.blake2b(f"{phone}|{due_iso}|{description}".encode(), digest_size=10).hexdigest()


def _keyed(key: bytes, phone: str, due_iso: str, description: str) -> str:
    # Frozen copy of the keyed derived_external_id (billing.importing.fields).
    data = f"{phone}|{due_iso}|{description}".encode()
    return "auto-" + hashlib.blake2b(data, digest_size=10, key=key).hexdigest()


def rekey_auto_ids(apps, schema_editor):
    from django.conf import settings

    Charge = apps.get_model("billing", "Charge")
    rows = Charge.objects.filter(external_id__startswith="auto-").values_list(
        "pk", "external_id", "client__phone", "due_date", "description"
    )
    if not rows.exists():
        return
    secret = settings.SUPPRESSION_HASH_KEY
    if not secret:
        raise RuntimeError("SUPPRESSION_HASH_KEY must be set before migrating billing 0009.")
    key = hashlib.sha256(b"cobranca.auto-external-id|" + secret.encode()).digest()
    batch = []
    for pk, external_id, phone, due, description in rows.iterator(chunk_size=2000):
        due_iso = due.isoformat()
        if phone and external_id == _unkeyed(phone, due_iso, description):
            batch.append(Charge(pk=pk, external_id=_keyed(key, phone, due_iso, description)))
        if len(batch) >= 2000:
            Charge.objects.bulk_update(batch, ["external_id"])
            batch = []
    if batch:
        Charge.objects.bulk_update(batch, ["external_id"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_regua_entry_fewer_indexes")]

    operations = [migrations.RunPython(rekey_auto_ids, migrations.RunPython.noop)]
