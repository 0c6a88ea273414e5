"""Issue #13, "a forgiving import", in a real browser: the sample spreadsheet downloads (CSV and XLSX); a file
whose phone and amount columns have names nobody expects is mapped by the operator in the dry run and
imported; its landline shows as a row warning; the next file with the same headers comes back with the
mapping applied and pre-selected. Desktop and phone widths, no console errors."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from billing.models import Charge, ImportColumnMapping
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEADER = "nome;Cel. do devedor;Quanto deve;vencimento;Observação interna\n"
FIRST = (
    "Ana Lima;(11) 91234-5601;150,50;15/01/2026;cliente antiga\n"
    "Loja do Zé;(11) 3333-4444;80,00;20/01/2026;fixo da loja\n"
    "Bruno Dias;(21) 99876-5432;99,90;25/01/2026;\n"
)
SECOND = "Carla Souza;(31) 98888-7777;45,00;10/02/2026;\n"


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_import_remembers_column_mapping(width, live_server, browser, shots, settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"
    make_operator()
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page
    page.goto(live_server.url + "/painel/cobranca/")
    shots.take("import-card")

    # The sample spreadsheets: Excel pt-BR CSV and XLSX with the accepted headers.
    with page.expect_download() as info:
        page.locator("#sample-csv").click()
    sample = open(info.value.path(), "rb").read()
    assert info.value.suggested_filename == "modelo-devedores.csv"
    assert sample.startswith(b"\xef\xbb\xbfid;nome;telefone;valor;vencimento;descricao")
    with page.expect_download() as info:
        page.locator("#sample-xlsx").click()
    sheet = load_workbook(io.BytesIO(open(info.value.path(), "rb").read())).active
    assert [c.value for c in sheet[1]][:5] == ["id", "nome", "telefone", "valor", "vencimento"]

    # A file with unknown column names: required columns missing, one select per unknown column.
    first = tmp_path / "janeiro.csv"
    first.write_text(HEADER + FIRST, encoding="utf-8")
    page.set_input_files("#id_arquivo", str(first))
    page.get_by_role("button", name="Validar arquivo").click()
    expect(page.get_by_test_id("import-error")).to_contain_text(
        "Colunas obrigatórias ausentes: telefone, valor"
    )
    mapping = page.locator("#column-mapping")
    expect(mapping).to_contain_text("Colunas não reconhecidas")
    shots.take("unknown-columns")
    page.get_by_label("Coluna “Cel. do devedor”").select_option("phone")
    page.get_by_label("Coluna “Quanto deve”").select_option("amount")
    page.get_by_role("button", name="Aplicar e validar de novo").click()

    # Validated with the mapping: 3 valid rows, the landline is a warning, not an error.
    expect(page.locator("#report-valid")).to_have_text("3")
    expect(page.locator("#report-rejected")).to_have_text("0")
    expect(page.locator("#report-landlines")).to_have_text("1")
    expect(page.locator("#report-row-warnings")).to_contain_text("telefone fixo")
    expect(page.get_by_label("Coluna “Cel. do devedor”")).to_have_value("phone")
    shots.take("mapped-with-landline-warning")
    button = page.locator("#confirm-import")
    expect(button).to_have_text("Importar 3 linha(s)")
    button.click()
    expect(page.locator(".alert-success")).to_contain_text("Importação concluída: 3 linha(s)")
    assert Charge.objects.count() == 3
    assert ImportColumnMapping.objects.get().mapping["cel_do_devedor"] == "phone"
    shots.take("imported")

    # The next file with the same headers: the remembered mapping is applied and shown pre-selected.
    second = tmp_path / "fevereiro.csv"
    second.write_text(HEADER + SECOND, encoding="utf-8")
    page.set_input_files("#id_arquivo", str(second))
    page.get_by_role("button", name="Validar arquivo").click()
    expect(page.locator("#mapping-remembered")).to_be_visible()
    expect(page.get_by_label("Coluna “Cel. do devedor”")).to_have_value("phone")
    expect(page.get_by_label("Coluna “Quanto deve”")).to_have_value("amount")
    expect(page.locator("#report-valid")).to_have_text("1")
    shots.take("remembered-mapping")
    page.locator("#confirm-import").click()
    expect(page.locator(".alert-success")).to_contain_text("Importação concluída: 1 linha(s)")
    assert Charge.objects.count() == 4
    session.context.close()
    assert session.errors == []
