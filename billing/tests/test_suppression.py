"""The suppression list: keyed hashes of opted-out and forgotten numbers, checked on every way to a number."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from billing import suppression
from billing.dispatch.selectors import campaign_validate
from billing.importing import import_file
from billing.models import Charge, Client, Dispatch, ImportBatch, SuppressedPhone, SuppressionLift
from billing.services import client_opt_out
from billing.tests import dispatch_support as support
from billing.tests.factories import ChargeFactory, ClientFactory
from cobranca.exceptions import ApplicationError
from cobranca.privacy import forget_client
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db

PHONE = "+5511987654321"
LEGACY = "+551187654321"  # the same mobile without the 9th digit


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


def _json(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "clientes.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def _row(**overrides) -> dict:
    base = {
        "id": "C-1",
        "name": "Joana Pereira",
        "phone": "11987654321",
        "amount": "150,50",
        "due_date": "15/01/2030",
        "description": "Mensalidade",
    }
    base.update(overrides)
    return base


def _lifter() -> User:
    """An operator who was given the lift permission (the Operadores group does not hold it)."""
    user = User.objects.create_user("supervisora", password="x")
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    user.user_permissions.add(Permission.objects.get(codename="lift_suppressedphone"))
    return User.objects.get(pk=user.pk)  # fresh permission cache


# --- the list itself ----------------------------------------------------------------------------------------


def test_it_stores_a_keyed_hash_of_every_form_of_the_number_and_never_the_number(settings):
    suppression.suppress(PHONE, reason=suppression.Reason.OPT_OUT)

    stored = set(SuppressedPhone.objects.values_list("phone_hash", flat=True))
    assert len(stored) == 2  # 9-digit and 8-digit forms
    dump = json.dumps(list(SuppressedPhone.objects.values()), default=str)
    assert "987654321" not in dump and "87654321" not in dump
    for form in (PHONE, LEGACY, PHONE.lstrip("+"), "5511987654321"):
        assert hashlib.sha256(form.encode()).hexdigest() not in stored  # not a bare SHA of the phone
    key = settings.SUPPRESSION_HASH_KEY.encode()
    assert stored == {hmac.new(key, form.encode(), hashlib.sha256).hexdigest() for form in (PHONE, LEGACY)}
    settings.SUPPRESSION_HASH_KEY = "another-key-entirely-0123456789abcdef"
    assert not suppression.is_suppressed(PHONE)  # the hash depends on the key


def test_every_format_of_a_listed_number_is_recognised():
    suppression.suppress("(11) 8765-4321", reason=suppression.Reason.OPT_OUT)  # listed in the legacy form

    for form in (PHONE, LEGACY, "11 98765-4321", "5511987654321@c.us", "551187654321@c.us"):
        assert suppression.is_suppressed(form), form
    assert not suppression.is_suppressed("+5511987654322")
    assert suppression.suppressed_subset([PHONE, "+5511912345678", "551187654321@c.us"]) == {
        PHONE,
        "551187654321@c.us",
    }


def test_querysets_of_clients_and_charges_are_filtered_in_sql():
    listed = ClientFactory(phone=PHONE)
    other = ClientFactory()
    ChargeFactory(client=listed)
    kept = ChargeFactory(client=other)
    Client.objects.filter(pk=listed.pk).update(opted_out_at=None)
    suppression.suppress(PHONE, reason=suppression.Reason.OPT_OUT)
    Client.objects.filter(pk=listed.pk).update(opted_out_at=None)  # even without the flag, the list decides

    assert list(suppression.exclude_suppressed(Client.objects.all())) == [other]
    assert list(suppression.exclude_suppressed(Charge.objects.all(), prefix="client__")) == [kept]
    annotated = suppression.annotate_suppressed(Client.objects.all())
    flags = dict(annotated.values_list("pk", "on_suppression_list"))
    assert flags == {listed.pk: True, other.pk: False}


def test_suppressing_marks_the_live_client_opted_out():
    client = ClientFactory(phone=PHONE)

    suppression.suppress(LEGACY, reason=suppression.Reason.OPT_OUT)

    client.refresh_from_db()
    assert client.opted_out_at is not None


def test_a_debtor_opt_out_lists_the_number():
    client = ClientFactory(phone=PHONE)

    client_opt_out(client=client)

    assert suppression.is_suppressed(PHONE)
    assert SuppressedPhone.objects.filter(reason="opt_out").count() == 2


# --- forgetting and re-importing ----------------------------------------------------------------------------


def test_a_forgotten_number_stays_suppressed_when_it_is_imported_again(tmp_path):
    client = ClientFactory(phone=PHONE, chat_id="551187654321@c.us")
    ChargeFactory(client=client, external_id="C-1")
    forget_client(client=client)
    assert suppression.is_suppressed(PHONE) and suppression.is_suppressed(LEGACY)

    report = import_file(path_or_file=_json(tmp_path, [_row(id="C-2")]))

    assert report.success and report.imported == 1 and report.suppressed_rows == 1
    again = Client.objects.get(phone=PHONE)
    assert again.pk != client.pk and again.opted_out_at is not None
    assert [w["row"] for w in report.row_warnings] == [1]
    assert "lista de supressão" in report.row_warnings[0]["message"]
    assert "supressão" in report.message


def test_the_dry_run_reports_the_suppressed_rows_too(tmp_path):
    suppression.suppress(PHONE, reason=suppression.Reason.FORGOTTEN)

    report = import_file(path_or_file=_json(tmp_path, [_row()]), dry_run=True)

    assert report.success and report.suppressed_rows == 1 and len(report.row_warnings) == 1
    assert not Client.objects.exists()


def test_charges_of_a_forgotten_client_never_move_to_another_client(tmp_path):
    client = ClientFactory(phone=PHONE)
    charge = ChargeFactory(client=client, external_id="C-1", amount="99.00")
    forget_client(client=client)

    report = import_file(path_or_file=_json(tmp_path, [_row(id="C-1", amount="150,50")]))

    charge.refresh_from_db()
    assert charge.client_id == client.pk and str(charge.amount) == "99.00"
    assert report.success and report.kept_on_forgotten_charges == 1
    assert any("anonimizado" in w["message"] for w in report.row_warnings)
    assert not Charge.objects.filter(client__phone=PHONE).exists()


# --- lifting a suppression ----------------------------------------------------------------------------------


def test_only_a_holder_of_the_permission_can_lift_and_only_with_the_new_consent():
    client = ClientFactory(phone=PHONE)
    client_opt_out(client=client)
    plain = User.objects.create_user("operador", password="x")
    consent = timezone.now() - dt.timedelta(hours=1)

    with pytest.raises(ApplicationError) as denied:
        suppression.suppression_lift(
            phone=PHONE, by=plain, consent_at=consent, consent_channel="WhatsApp", justification="pediu"
        )
    assert denied.value.status_code == 403
    lifter = _lifter()
    with pytest.raises(ApplicationError) as incomplete:
        suppression.suppression_lift(
            phone=PHONE, by=lifter, consent_at=consent, consent_channel="", justification=""
        )
    assert set(incomplete.value.extra) == {"consent_channel", "justification"}
    assert suppression.is_suppressed(PHONE)


def test_lifting_records_the_consent_audits_it_and_reactivates_the_live_client():
    client = ClientFactory(phone=PHONE)
    client_opt_out(client=client)
    lifter = _lifter()
    consent = timezone.now() - dt.timedelta(hours=1)

    lift = suppression.suppression_lift(
        phone="11 8765-4321",
        by=lifter,
        consent_at=consent,
        consent_channel="ligação gravada 123",
        justification="titular pediu para voltar a receber lembretes",
    )

    assert not suppression.is_suppressed(PHONE) and not SuppressedPhone.objects.exists()
    client.refresh_from_db()
    assert client.opted_out_at is None
    lift = SuppressionLift.objects.get(pk=lift.pk)
    assert (lift.lifted_by, lift.consent_at, lift.previous_reason) == (lifter, consent, "opt_out")
    entry = AuditLog.objects.get(action="suppression.lift")
    assert entry.actor == lifter and entry.details["clients"] == [client.pk]
    assert "987654321" not in json.dumps(entry.details)


def test_lifting_a_forgotten_number_leaves_the_forgotten_record_forgotten():
    client = ClientFactory(phone=PHONE)
    forget_client(client=client)

    suppression.suppression_lift(
        phone=PHONE,
        by=_lifter(),
        consent_at=timezone.now(),
        consent_channel="e-mail",
        justification="novo contrato",
    )

    client.refresh_from_db()
    assert client.forgotten_at is not None and client.opted_out_at is not None
    assert not suppression.is_suppressed(PHONE)


# --- every way to a number checks the list ------------------------------------------------------------------

fake_waha = support.fake_waha  # fixture
sibling_modules = support.sibling_modules  # fixture


@pytest.fixture
def api(db):
    user = User.objects.create_user(username="integrador", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def _listed_client(**kwargs) -> Client:
    """A client whose flags say nothing (created after its number was listed, e.g. through the API)."""
    suppression.suppress(PHONE, reason=suppression.Reason.FORGOTTEN)
    client = ClientFactory(phone=PHONE, **kwargs)
    assert client.opted_out_at is None
    return client


@pytest.mark.urls("billing.tests.test_campaign_api")
def test_send_single_to_a_forgotten_number_is_refused(api, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    forget_client(client=ClientFactory(phone=PHONE))

    response = api.post("/api/billing/send-single", {"phone": "11 98765-4321", "text": "Oi"}, format="json")

    assert response.status_code == 409, response.json()
    assert fake_waha.sent == []


@pytest.mark.urls("billing.tests.test_campaign_api")
def test_send_single_to_a_listed_client_is_refused(api, monkeypatch, fake_waha):
    monkeypatch.setattr("whatsapp.client.get_client", lambda: fake_waha)
    client = _listed_client()

    response = api.post("/api/billing/send-single", {"client_id": client.pk, "text": "Oi"}, format="json")

    assert response.status_code == 409
    assert response.json()["extra"]["reason"] == suppression.REASON_LISTED
    assert fake_waha.sent == []


@pytest.mark.urls("billing.tests.test_campaign_api")
def test_send_batch_with_a_forgotten_number_sends_nothing_to_it(api, fake_waha):
    forget_client(client=ClientFactory(phone=PHONE))
    rows = [_row(id="B-1"), _row(id="B-2", name="Outro", phone="21998765432")]

    response = api.post(
        "/api/billing/send-batch",
        {"clients": rows, "template_name": support.plain_template().name, "delay_seconds": 0},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["import"]["suppressed_rows"] == 1
    support.drive()

    assert [m["chat_id"] for m in fake_waha.sent] == ["5521998765432@c.us"]
    skipped = Dispatch.objects.get(client__phone=PHONE)
    assert skipped.status == Dispatch.Status.SKIPPED


def test_the_dispatch_claim_skips_a_listed_number_even_without_client_flags(fake_waha):
    listed = ChargeFactory(client=_listed_client())
    other = ChargeFactory()
    support.start_campaign([listed, other])

    support.drive()

    assert len(fake_waha.sent) == 1
    skipped = Dispatch.objects.get(charge=listed)
    assert (skipped.status, skipped.reason) == (Dispatch.Status.SKIPPED, suppression.REASON_LISTED)


def test_the_campaign_audience_counts_listed_numbers_as_suppressed():
    listed = ChargeFactory(client=_listed_client())
    ChargeFactory(import_batch=None)
    batch = ImportBatch.objects.create(filename="x.json", file_format="json")
    Charge.objects.update(import_batch=batch)

    validation = campaign_validate(template=support.plain_template(), import_batch=batch)

    assert (validation.total, validation.suppressed) == (2, 1)
    assert listed.client.is_suppressed


def test_the_regua_planner_skips_a_listed_number():
    from billing.regua import reasons
    from billing.regua.models import Regua, ReguaEntry
    from billing.regua.run import regua_plan_run

    call_command("regua_enable", "default", stdout=io.StringIO())
    assert Regua.objects.get(slug="default").status == Regua.Status.ACTIVE
    wednesday = dt.date(2026, 12, 9)
    listed = ChargeFactory(client=_listed_client(), due_date=wednesday)
    other = ChargeFactory(due_date=wednesday)

    regua_plan_run(now=timezone.make_aware(dt.datetime.combine(wednesday, dt.time(7, 0))))

    entry = ReguaEntry.objects.get(charge=listed)
    assert (entry.status, entry.reason) == (ReguaEntry.Status.SKIPPED, reasons.SUPPRESSED)
    assert ReguaEntry.objects.get(charge=other).status != ReguaEntry.Status.SKIPPED


# --- lifting through the API and the admin ------------------------------------------------------------------

LIFT_BODY = {
    "phone": "(11) 98765-4321",
    "consent_at": "2026-03-05T10:00:00-03:00",
    "consent_channel": "ligação gravada 2026-0345",
    "justification": "Titular pediu para voltar a receber lembretes.",
}


@pytest.mark.urls("cobranca.urls")
def test_the_lift_api_needs_the_permission():
    client_opt_out(client=ClientFactory(phone=PHONE))
    operator = User.objects.create_user("operador", password="x", is_staff=True)
    api = APIClient()
    api.force_authenticate(operator)

    response = api.post("/api/billing/suppressions/lift", LIFT_BODY, format="json")

    assert response.status_code == 403
    assert suppression.is_suppressed(PHONE)


@pytest.mark.urls("cobranca.urls")
def test_the_lift_api_records_the_consent():
    client_opt_out(client=ClientFactory(phone=PHONE))
    api = APIClient()
    api.force_authenticate(_lifter())

    incomplete = api.post(
        "/api/billing/suppressions/lift", {**LIFT_BODY, "justification": " "}, format="json"
    )
    assert incomplete.status_code == 400 and suppression.is_suppressed(PHONE)
    response = api.post("/api/billing/suppressions/lift", LIFT_BODY, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["previous_reason"] == "opt_out"
    assert not suppression.is_suppressed(PHONE)
    assert AuditLog.objects.filter(action="suppression.lift").count() == 1
    again = api.post("/api/billing/suppressions/lift", LIFT_BODY, format="json")
    assert again.status_code == 404


@pytest.mark.urls("cobranca.urls")
def test_the_admin_lift_form_needs_the_permission_and_records_the_consent(client):
    client_opt_out(client=ClientFactory(phone=PHONE))
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    url = "/admin/billing/suppressedphone/reativar/"
    form = {**LIFT_BODY, "consent_at": "05/03/2026 10:00"}

    assert client.post(url, form).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="lift_suppressedphone"))
    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert not suppression.is_suppressed(PHONE)
    assert SuppressionLift.objects.get().lifted_by == staff


@pytest.mark.urls("cobranca.urls")
def test_the_admin_cannot_move_a_forgotten_clients_charge(client):
    forgotten = ClientFactory(phone=PHONE)
    charge = ChargeFactory(client=forgotten)
    forget_client(client=forgotten)
    other = ClientFactory()
    client.force_login(User.objects.create_superuser("root", password="x"))
    url = f"/admin/billing/charge/{charge.pk}/change/"

    page = client.get(url).content.decode()
    client.post(
        url,
        {
            "client": other.pk,
            "external_id": charge.external_id,
            "amount": "150.50",
            "due_date": charge.due_date.strftime("%Y-%m-%d"),
            "description": "x",
            "status": charge.status,
        },
    )

    assert 'name="client"' not in page
    charge.refresh_from_db()
    assert charge.client_id == forgotten.pk
