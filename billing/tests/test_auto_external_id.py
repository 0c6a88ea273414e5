"""Generated charge ids are keyed: they cannot be recomputed from a guessed phone number."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib

import pytest

from billing.importing.fields import derived_external_id
from billing.tests.factories import ChargeFactory, ClientFactory

DUE = dt.date(2026, 1, 15)


def _bare(phone: str) -> str:
    return (
        "auto-"
        + hashlib.blake2b(f"{phone}|{DUE.isoformat()}|Mensalidade".encode(), digest_size=10).hexdigest()
    )


def test_a_generated_id_is_not_a_bare_hash_of_the_phone(settings):
    phone = "+5511987654321"
    settings.SUPPRESSION_HASH_KEY = "k" * 40
    first = derived_external_id(phone, DUE, "Mensalidade")
    assert first.startswith("auto-")
    assert first != _bare(phone)
    assert first == derived_external_id(phone, DUE, "Mensalidade")  # stable: re-import updates
    settings.SUPPRESSION_HASH_KEY = "z" * 40
    assert derived_external_id(phone, DUE, "Mensalidade") != first  # depends on the secret


@pytest.mark.django_db
def test_the_migration_rekeys_ids_that_are_their_own_unkeyed_digest(settings):
    settings.SUPPRESSION_HASH_KEY = "k" * 40
    client = ClientFactory(phone="+5511987654321")
    generated = ChargeFactory(
        client=client, due_date=DUE, description="Mensalidade", external_id=_bare(client.phone)
    )
    hand_set = ChargeFactory(client=client, due_date=DUE, description="Outra", external_id="auto-feito-a-mao")
    migration = importlib.import_module("billing.migrations.0009_keyed_auto_external_ids")
    from django.apps import apps

    migration.rekey_auto_ids(apps, None)
    generated.refresh_from_db()
    hand_set.refresh_from_db()
    assert generated.external_id == derived_external_id(client.phone, DUE, "Mensalidade")
    assert hand_set.external_id == "auto-feito-a-mao"
