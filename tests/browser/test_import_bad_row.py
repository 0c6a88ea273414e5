"""Issue #13 item 1 in a real browser: a file with 1 bad row of 6 → Validar → the report counts 5 valid rows
→ "Importar só as linhas válidas" enables "Importar 5 linha(s)" → 5 imported → the rejected row downloads
as a CSV from the dashboard (an operator's session, not the JWT API). Desktop and phone widths."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing.models import Charge, ImportBatch
from tests.browser.helpers import make_operator, open_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEADER = "id,nome,telefone,valor,vencimento,descricao\n"
ROWS = [
    'B-1,Ana Lima,+55 11 91234-5601,"1.234,56",15/01/2026,Plano anual\n',
    'B-2,Bruno Dias,+55 11 91234-5602,"80,00",31/01/2026,Plano mensal\n',
    'B-3,Carla Souza,123,"90,00",31/01/2026,Plano mensal\n',  # the bad row: phone
    'B-4,Diego Reis,+55 11 91234-5604,"99,90",10/02/2026,Plano mensal\n',
    'B-5,Elisa Prado,+55 11 91234-5605,"45,00",10/02/2026,Plano mensal\n',
    'B-6,Fábio Gomes,+55 11 91234-5606,"120,00",10/02/2026,Plano mensal\n',
]


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_file_with_one_bad_row_imports_its_valid_rows_and_the_rejected_row_downloads(
    width, live_server, browser, shots, settings, tmp_path
):
    settings.UPLOADS_DIR = tmp_path / "uploads"
    make_operator()
    session = open_session(browser, live_server.url, width)
    page = shots.page = session.page
    page.goto(live_server.url + "/painel/cobranca/")
    source = tmp_path / "devedores.csv"
    source.write_text(HEADER + "".join(ROWS), encoding="utf-8")

    page.set_input_files("#id_arquivo", str(source))
    page.get_by_role("button", name="Validar arquivo").click()
    expect(page.locator("#report-rejected")).to_have_text("1")
    expect(page.locator("#report-valid")).to_have_text("5")
    button = page.locator("#confirm-import")
    expect(button).to_have_text("Importar 5 linha(s)")
    expect(button).to_be_disabled()  # rows were rejected: the operator must choose to skip them
    shots.take("report")

    page.get_by_label("Importar só as linhas válidas").check()
    expect(button).to_be_enabled()
    shots.take("skip-ticked")
    button.click()
    expect(page.locator(".alert-success")).to_contain_text("Importação concluída: 5 linha(s)")
    assert Charge.objects.count() == 5
    batch = ImportBatch.objects.get()
    assert (batch.imported_rows, batch.rejected_rows) == (5, 1)
    shots.take("imported")

    # The rejected row, from the message and from the list of imports, through the operator's session.
    for link in (page.locator("#rejected-csv-link"), page.locator(f"a[href$='/{batch.pk}/rejeitadas.csv']")):
        with page.expect_download() as info:
            link.first.click()
        content = open(info.value.path(), encoding="utf-8-sig").read()
        assert "B-3" in content and "Carla Souza" in content and "B-1" not in content
        assert info.value.suggested_filename == f"rejeitadas-{batch.pk}.csv"
    shots.take("rejected-downloaded")
    session.context.close()
    assert session.errors == []
