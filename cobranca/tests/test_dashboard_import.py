"""The import page's forgiving parts (issue #13): sample spreadsheets, unknown columns mapped in the dry run
and pre-selected for the next file with the same headers, landlines counted as warnings."""

from __future__ import annotations

import io
import os

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from openpyxl import load_workbook

from billing.models import Charge, ImportColumnMapping
from cobranca.roles import OPERATORS

pytestmark = pytest.mark.django_db

ODD = (
    "nome;Cel. do devedor;Quanto deve;vencimento;Observação interna\n"
    "Ana Souza;(11) 98765-4321;150,50;15/01/2026;cliente antiga\n"
    "Loja do Zé;(11) 3333-4444;80,00;20/01/2026;\n"
)


@pytest.fixture
def op_client(db, settings, tmp_path) -> HttpClient:
    settings.UPLOADS_DIR = tmp_path
    call_command("create_groups", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("operadora", password="senha-forte-123")
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = HttpClient()
    client.force_login(user)
    return client


def _upload(text: str, name: str = "devedores.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_the_import_page_links_both_sample_spreadsheets(op_client):
    html = op_client.get(reverse("dashboard:cobranca")).content.decode()
    assert reverse("dashboard:import-sample", args=["csv"]) in html
    assert reverse("dashboard:import-sample", args=["xlsx"]) in html


def test_the_sample_downloads_are_attachments_in_excel_friendly_formats(op_client):
    csv_response = op_client.get(reverse("dashboard:import-sample", args=["csv"]))
    assert csv_response["Content-Disposition"] == 'attachment; filename="modelo-devedores.csv"'
    assert csv_response.content.startswith(b"\xef\xbb\xbfid;nome;telefone;valor;vencimento")
    xlsx_response = op_client.get(reverse("dashboard:import-sample", args=["xlsx"]))
    assert xlsx_response["Content-Disposition"] == 'attachment; filename="modelo-devedores.xlsx"'
    assert load_workbook(io.BytesIO(xlsx_response.content)).active["B2"].value == "Ana Souza"
    assert op_client.get(reverse("dashboard:import-sample", args=["xls"])).status_code == 404


def test_unknown_columns_get_a_select_each_then_the_mapping_validates_and_imports(op_client):
    response = op_client.post(reverse("dashboard:import-dry-run"), {"arquivo": _upload(ODD)})
    html = response.content.decode()
    assert "Colunas obrigatórias ausentes: telefone, valor" in html
    assert 'id="column-mapping"' in html and "Coluna “Cel. do devedor”" in html
    token = response.context["mapping_form"].initial["token"]

    response = op_client.post(
        reverse("dashboard:import-remap"),
        {
            "token": token,
            "coluna__cel_do_devedor": "phone",
            "coluna__quanto_deve": "amount",
            "coluna__observacao_interna": "",
        },
    )
    report = response.context["report"]
    assert report.success and report.imported == 2 and report.landlines == 1
    html = response.content.decode()
    assert 'title="O WhatsApp precisa de um celular">1<' in html and "telefone fixo" in html
    assert '<option value="phone" selected>' in html  # the choice stays on screen

    op_client.post(reverse("dashboard:import-confirm"), {"token": token})
    assert Charge.objects.count() == 2
    assert ImportColumnMapping.objects.get().mapping == {
        "cel_do_devedor": "phone",
        "quanto_deve": "amount",
        "observacao_interna": "",
    }

    # The next file with the same headers: the mapping is applied and shown pre-selected.
    response = op_client.post(reverse("dashboard:import-dry-run"), {"arquivo": _upload(ODD, "fevereiro.csv")})
    html = response.content.decode()
    assert response.context["report"].success
    assert 'id="mapping-remembered"' in html
    form = response.context["mapping_form"]
    assert (
        form["coluna__cel_do_devedor"].value() == "phone" and form["coluna__quanto_deve"].value() == "amount"
    )


def test_a_remap_with_a_token_of_another_session_is_refused(op_client):
    response = op_client.post(
        reverse("dashboard:import-remap"), {"token": "nope", "coluna__x": "phone"}, follow=True
    )
    assert "a validação expirou" in response.content.decode()
