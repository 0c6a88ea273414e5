"""One request-body limit for every path (issue #10, item 5): refused with 413 from Content-Length, before
any byte of the body is read, whether the body is an API upload, a dashboard form or a JSON document."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client as HttpClient
from django.urls import reverse
from rest_framework.test import APIClient

from billing.models import ImportBatch
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db

LIMIT = 64 * 1024


class TrackingInput(io.BytesIO):
    """wsgi.input that remembers how many bytes anybody read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        chunk = super().readline(size)
        self.bytes_read += len(chunk)
        return chunk


@pytest.fixture(autouse=True)
def _limits(settings, tmp_path):
    settings.MAX_UPLOAD_BYTES = LIMIT
    settings.UPLOADS_DIR = tmp_path / "uploads"


@pytest.fixture
def staff_api() -> APIClient:
    user = User.objects.create_user("staff", password="x", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_authenticate(user)
    return client


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----limite"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _big_csv(size: int) -> bytes:
    header = b"nome;telefone;valor;vencimento\n"
    line = b"Ana Souza;11987654321;10,00;15/01/2030\n"
    return header + line * (size // len(line) + 1)


def test_an_api_upload_over_the_limit_is_a_413_and_its_body_is_never_read(staff_api):
    body, content_type = _multipart("file", "grande.csv", _big_csv(LIMIT * 3))
    stream = TrackingInput(body)

    response = staff_api.generic(
        "POST",
        "/api/billing/import",
        data=b"",
        content_type=content_type,
        **{"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))},
    )

    assert response.status_code == 413
    payload = response.json()
    assert payload["message"] == "Arquivo ou requisição grande demais: o limite é 64 KB."
    assert payload["extra"] == {"code": "too_large", "limit_bytes": LIMIT, "content_length": len(body)}
    assert stream.bytes_read == 0
    assert ImportBatch.objects.count() == 0


def test_an_upload_under_the_limit_still_works(staff_api):
    body, content_type = _multipart("file", "pequeno.csv", _big_csv(1024))

    response = staff_api.generic("POST", "/api/billing/import", data=body, content_type=content_type)

    assert response.status_code == 200, response.json()
    assert response.json()["total"] > 0, response.json()


def test_a_json_body_over_the_limit_is_a_413_too(staff_api):
    body = json.dumps({"clients": [{"phone": "11987654321", "name": "x" * 100}] * 1000}).encode()
    assert len(body) > LIMIT

    response = staff_api.generic(
        "POST", "/api/billing/send-batch", data=body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["extra"]["code"] == "too_large"


def test_the_dashboard_upload_over_the_limit_is_a_413_page_in_portuguese(settings):
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
    client = HttpClient()
    client.force_login(user)
    body, content_type = _multipart("arquivo", "grande.csv", _big_csv(LIMIT * 2))
    stream = TrackingInput(body)

    response = client.generic(
        "POST",
        reverse("dashboard:import-dry-run"),
        data=b"",
        content_type=content_type,
        HTTP_ACCEPT="text/html",
        **{"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))},
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "grande demais" in response.content.decode()
    assert stream.bytes_read == 0


def test_the_webhook_keeps_its_own_smaller_limit_and_answer(client, settings):
    settings.WAHA_WEBHOOK_MAX_BYTES = 1024
    body = b'{"event": "message", "payload": {"body": "' + b"x" * 2048 + b'"}}'
    stream = TrackingInput(body)

    response = client.generic(
        "POST",
        "/webhook/waha",
        data=b"",
        content_type="application/json",
        **{"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))},
    )

    assert response.status_code == 413
    assert response.json() == {"status": "error", "reason": "too_large"}
    assert stream.bytes_read == 0
