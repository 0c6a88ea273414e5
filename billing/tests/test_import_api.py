from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import include, path
from rest_framework.test import APIClient

from billing.models import Charge, ImportBatch
from cobranca.tests.security_helpers import api_for, make_user

FIXTURES = Path(__file__).parent / "fixtures"

# Routed here so these tests do not depend on where cobranca/urls.py mounts billing.urls.
urlpatterns = [path("api/billing/", include("billing.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("billing.tests.test_import_api")]


@pytest.fixture(autouse=True)
def _uploads(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"


@pytest.fixture
def api():
    user = get_user_model().objects.create_user("operador", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


VALID = json.dumps(
    [
        {"id": "1", "name": "Ana", "phone": "11987654321", "amount": 10.5, "due_date": "2026-01-15"},
    ]
).encode()
MIXED = json.dumps(
    [
        {"id": "1", "name": "Ana", "phone": "11987654321", "amount": 10.5, "due_date": "2026-01-15"},
        {
            "id": "2",
            "name": "=cmd|' /C calc'!A0",
            "phone": "5.51199E+12",
            "amount": 10,
            "due_date": "2026-01-15",
        },
    ]
).encode()


def test_the_api_imports_a_multipart_upload_and_returns_the_report(api):
    response = api.post("/api/billing/import", {"file": upload("c.json", VALID)}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["total"] == 1 and body["imported"] == 1
    assert body["created_clients"] == 1 and body["created_charges"] == 1 and body["errors"] == []
    assert body["rejected_csv_url"] is None
    batch = ImportBatch.objects.get(pk=body["batch_id"])
    assert batch.created_by == api.user and batch.file_format == "json"


def test_the_api_blocks_an_invalid_file_by_default(api):
    response = api.post("/api/billing/import", {"file": upload("c.json", MIXED)}, format="multipart")

    body = response.json()
    assert response.status_code == 200 and body["success"] is False
    assert body["imported"] == 0 and Charge.objects.count() == 0
    assert body["errors"][0]["row"] == 2 and body["errors"][0]["field"] == "telefone"


def test_skip_invalid_gives_a_link_to_download_the_rejected_rows(api):
    response = api.post(
        "/api/billing/import", {"file": upload("c.json", MIXED), "skip_invalid": "true"}, format="multipart"
    )

    body = response.json()
    assert body["success"] is True and body["imported"] == 1 and body["rejected"] == 1
    assert body["rejected_csv_url"] == f"/api/billing/import/{body['batch_id']}/rejected.csv"
    download = api.get(body["rejected_csv_url"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "'=cmd|" in text and "notação científica" in text


def test_the_batch_report_can_be_read_back(api):
    body = api.post("/api/billing/import", {"file": upload("c.json", VALID)}, format="multipart").json()

    response = api.get(f"/api/billing/import/{body['batch_id']}")

    assert response.status_code == 200 and response.json()["imported"] == 1


def test_a_dry_run_through_the_api_writes_nothing(api):
    response = api.post(
        "/api/billing/import", {"file": upload("c.json", VALID), "dry_run": "true"}, format="multipart"
    )

    body = response.json()
    assert body["success"] is True and body["dry_run"] is True and body["created_charges"] == 1
    assert body["batch_id"] is None and Charge.objects.count() == 0


def test_a_bad_file_is_a_400_with_message_and_extra(api):
    response = api.post("/api/billing/import", {"file": upload("c.json", b'[{"id": ')}, format="multipart")

    assert response.status_code == 400
    assert "truncado" in response.json()["message"] and "extra" in response.json()


def test_a_missing_file_is_a_validation_error(api):
    response = api.post("/api/billing/import", {}, format="multipart")

    assert response.status_code == 400 and "file" in response.json()["extra"]["fields"]


def test_the_rejected_csv_of_a_clean_batch_is_a_404(api):
    body = api.post("/api/billing/import", {"file": upload("c.json", VALID)}, format="multipart").json()

    assert api.get(f"/api/billing/import/{body['batch_id']}/rejected.csv").status_code == 404


def test_anonymous_users_cannot_import():
    response = APIClient().post("/api/billing/import", {"file": upload("c.json", VALID)}, format="multipart")

    assert response.status_code in (401, 403) and Charge.objects.count() == 0


# --- management command
# ------------------------------------------------------------------------------------------


def test_the_command_exits_0_when_every_row_is_valid(capsys):
    call_command("import_clients", str(FIXTURES / "clientes.json"), "--no-progress")

    assert "3 de 3 linha(s) importadas" in capsys.readouterr().out
    assert Charge.objects.count() == 3


def test_the_command_exits_1_and_imports_nothing_when_a_row_is_invalid(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_clients", str(FIXTURES / "clientes_invalidos.json"), "--no-progress")

    assert exit_info.value.code == 1 and Charge.objects.count() == 0
    assert "linha 1: nome" in capsys.readouterr().err


def test_the_command_with_skip_invalid_imports_valid_rows_and_still_exits_1(capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_clients", str(FIXTURES / "clientes_invalidos.json"), "--skip-invalid", "--no-progress"
        )

    assert exit_info.value.code == 1 and Charge.objects.count() == 1
    assert "Linhas rejeitadas:" in capsys.readouterr().out


def test_the_command_dry_run_writes_nothing(capsys):
    call_command("import_clients", str(FIXTURES / "clientes.json"), "--dry-run", "--no-progress")

    assert Charge.objects.count() == 0 and "Simulação" in capsys.readouterr().out


def test_the_command_turns_an_unreadable_file_into_a_command_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("nope")

    with pytest.raises(CommandError, match="JSON"):
        call_command("import_clients", str(bad), "--no-progress")


# --- who reads an import's report and rejected rows (second outside test) -----------------------------------


def _import_as(user) -> int:
    response = api_for(user).post(
        "/api/billing/import", {"file": upload("c.json", MIXED), "skip_invalid": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    return response.json()["batch_id"]


def _reads(user, batch_id: int) -> tuple[int, int]:
    client = api_for(user)
    report = client.get(f"/api/billing/import/{batch_id}")
    rejected = client.get(f"/api/billing/import/{batch_id}/rejected.csv")
    return report.status_code, rejected.status_code


def _second_integrator():
    user = get_user_model().objects.create_user("integrador-2", password="x")
    user.groups.add(Group.objects.get(name="Integradores"))
    return user


def test_an_integrator_cannot_read_another_users_import_report_or_rejected_rows():
    # The rejected CSV echoes full names and phones: the attacker read another user's with 200.
    integrator = make_user("integrator")
    other_batch = _import_as(make_user("staff"))
    integrators_batch = _import_as(_second_integrator())

    assert _reads(integrator, other_batch) == (404, 404)
    assert _reads(integrator, integrators_batch) == (404, 404)


def test_the_uploader_staff_and_full_contact_holders_read_the_import():
    integrator = make_user("integrator")
    batch_id = _import_as(integrator)

    assert _reads(integrator, batch_id) == (200, 200)
    assert _reads(make_user("operator"), batch_id) == (200, 200)  # billing.view_full_contact
    assert _reads(make_user("staff"), batch_id) == (200, 200)
