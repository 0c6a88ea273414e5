"""Issue #13 item 6: the admin speaks Portuguese and shows JSON reports as tables, without inline styles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient

from billing.models import ImportBatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_pt(db) -> HttpClient:
    client = HttpClient()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    return client


def test_an_import_report_renders_as_a_table_without_inline_style(admin_client_pt):
    batch = ImportBatch.objects.create(
        filename="clientes.csv",
        file_format="csv",
        total_rows=2,
        report={"imported": 1, "errors": [{"row": 3, "field": "phone", "message": "<b>inválido</b>"}]},
    )
    html = admin_client_pt.get(f"/admin/billing/importbatch/{batch.pk}/change/").content.decode()
    assert "<table class='json-report'>" in html
    assert "<th scope='col'>linha</th><th scope='col'>campo</th>" in html
    assert "&lt;b&gt;inválido&lt;/b&gt;" in html
    assert '{"imported"' not in html and "style=" not in html.split("<body")[1]
