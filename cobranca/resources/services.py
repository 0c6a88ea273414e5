"""Writes behind the REST resources. Keyword-only, typed, raise ApplicationError; audit what matters."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from billing.models import Charge, Client
from cobranca.audit import audit_record
from cobranca.exceptions import ApplicationError

_CLIENT_FIELDS = ("name", "phone", "document", "email", "external_id")
_CHARGE_FIELDS = ("external_id", "amount", "due_date", "description")


def _check_unique_client(
    *, phone: str | None, external_id: str | None, exclude_pk: int | None = None
) -> None:
    others = Client.objects.exclude(pk=exclude_pk) if exclude_pk else Client.objects.all()
    if phone and others.filter(phone=phone).exists():
        raise ApplicationError("Já existe um cliente com este telefone.", {"field": "phone"}, status_code=409)
    if external_id and others.filter(external_id=external_id).exists():
        raise ApplicationError(
            "Já existe um cliente com este id externo.", {"field": "external_id"}, status_code=409
        )


@transaction.atomic
def client_create(*, data: dict, by=None, ip: str | None = None) -> Client:
    """`data` is validated input (phone already E.164). Duplicates answer 409, never an IntegrityError 500."""
    _check_unique_client(phone=data["phone"], external_id=data.get("external_id"))
    client = Client(**{k: data[k] for k in _CLIENT_FIELDS if k in data})
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError:  # a concurrent insert of the same phone between the check and the save
        raise ApplicationError("Cliente duplicado.", {"field": "phone"}, status_code=409) from None
    audit_record(action="client.create", actor=by, target=client, ip=ip)
    return client


@transaction.atomic
def client_update(*, client: Client, data: dict, by=None, ip: str | None = None) -> Client:
    if client.forgotten_at:
        # Writing personal data back into an anonymised record would undo the data subject's erasure.
        raise ApplicationError(
            "Cliente anonimizado (LGPD) não pode ser alterado.", {"client": client.pk}, status_code=409
        )
    _check_unique_client(phone=data.get("phone"), external_id=data.get("external_id"), exclude_pk=client.pk)
    changed = [k for k in _CLIENT_FIELDS if k in data and getattr(client, k) != data[k]]
    for key in changed:
        setattr(client, key, data[key])
    if changed:
        try:
            with transaction.atomic():
                client.save(update_fields=[*changed, "updated_at"])
        except IntegrityError:
            raise ApplicationError("Cliente duplicado.", {"field": "phone"}, status_code=409) from None
        # Field names only: the audit trail must not become a second copy of the personal data.
        audit_record(action="client.update", actor=by, target=client, details={"fields": changed}, ip=ip)
    return client


def _check_unique_charge(*, external_id: str | None, exclude_pk: int | None = None) -> None:
    others = Charge.objects.exclude(pk=exclude_pk) if exclude_pk else Charge.objects.all()
    if external_id and others.filter(external_id=external_id).exists():
        raise ApplicationError(
            "Já existe uma cobrança com este id externo.", {"field": "external_id"}, status_code=409
        )


@transaction.atomic
def charge_create(*, data: dict, by=None, ip: str | None = None) -> Charge:
    client: Client = data["client"]
    if client.forgotten_at:
        raise ApplicationError("Cliente anonimizado (LGPD).", {"client": client.pk}, status_code=409)
    _check_unique_charge(external_id=data.get("external_id"))
    charge = Charge(client=client, **{k: data[k] for k in _CHARGE_FIELDS if k in data})
    try:
        with transaction.atomic():
            charge.save()
    except IntegrityError:
        raise ApplicationError("Cobrança duplicada.", {"field": "external_id"}, status_code=409) from None
    audit_record(action="charge.create", actor=by, target=charge, details={"client": client.pk}, ip=ip)
    return charge


@transaction.atomic
def charge_update(*, charge: Charge, data: dict, by=None, ip: str | None = None) -> Charge:
    """Amount, due date, description, external id. A settled charge (paid/cancelled) is history: 409."""
    if charge.status in (Charge.Status.PAID, Charge.Status.CANCELLED):
        raise ApplicationError(
            "Cobrança encerrada não pode ser alterada.", {"status": charge.status}, status_code=409
        )
    _check_unique_charge(external_id=data.get("external_id"), exclude_pk=charge.pk)
    changed = [k for k in _CHARGE_FIELDS if k in data and getattr(charge, k) != data[k]]
    for key in changed:
        setattr(charge, key, data[key])
    if changed:
        charge.save(update_fields=[*changed, "updated_at"])
        details: dict = {"fields": changed}
        if "amount" in changed:
            details["amount"] = str(charge.amount)  # financial, not personal: kept for the money trail
        audit_record(action="charge.update", actor=by, target=charge, details=details, ip=ip)
    return charge
